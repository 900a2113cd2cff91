import Dispatch
import Foundation
import Model
import Reward
import Tensor

/// Proximal policy optimisation of the student on reasoning traces, driven one iteration at a time.
///
/// An iteration samples completions for a set of problems with the KV-cache sampler at the temperature
/// controller's temperature, scores them without gradients (policy, frozen reference, value head, optional
/// teacher), turns the trace reward, the per-token KL penalty and the optional teacher log-ratio into
/// per-token rewards, computes advantages (GAE or GRPO), runs the clipped PPO update over shuffled
/// minibatches, and finally updates the KL and temperature controllers.
///
/// Temperature: every log-probability and entropy of an iteration (behaviour policy, current policy in the
/// update, reference, teacher) is taken from softmax(logits / T) at the rollout's sampling temperature T,
/// as TRL's PPO trainer does: the probability ratio then compares the distribution the tokens were drawn
/// from with its update, and the KL penalty measures the same distribution. The behaviour log-probs are
/// recomputed with a full forward pass instead of taken from the sampler, so the update's first ratio is 1
/// up to the same kernels' rounding (the KV-cache path sums in another order).
///
/// Determinism: all randomness (sampling, minibatch shuffling) comes from the `rng` argument, so the same
/// seed, problems and thread count give bit-identical weights.
public final class PPOTrainer {
    /// The student being trained.
    public let policy: Transformer
    /// The critic (trained with GAE; unused with GRPO).
    public let valueHead: ValueHead
    /// The frozen copy of the student made at stage start (never updated here).
    public let reference: Transformer
    /// The teacher for the dense log-ratio reward, when given.
    public let teacher: Transformer?
    /// Builds prompts and maps sampled tokens to trace text (tokenizer and prompt template).
    public let codec: TraceCodec
    /// The tokenizer.
    public var tokenizer: any TextTokenizer { codec.tokenizer }
    /// The trace reward.
    public let reward: CompositeReward
    /// The validated settings.
    public let config: PPOConfig
    /// AdamW over the policy's parameters (checkpoint its moments and step count).
    public let policyOptimizer: AdamW
    /// AdamW over the value head's parameters.
    public let valueOptimizer: AdamW
    /// The KL penalty's coefficient controller.
    public private(set) var klController: KLController
    /// The sampling temperature controller.
    public private(set) var temperatureController: TemperatureController
    /// Iterations run so far (restored with the controllers).
    public private(set) var iteration = 0
    /// Multiplies both learning rates (a stage may schedule it; 1 by default).
    public var learningRateScale: Float = 1
    let traceJudge = TraceJudge()
    /// The processes the update spans (MPI ranks, each computing its block of a minibatch's shards); set before the
    /// first update. Default: this process alone.
    public var reduction: ShardReduction = LocalReduction()
    /// The fixed shards each minibatch is cut into (a curriculum's `run.gradient_shards`); set before the first
    /// update. Default 2.
    public var shardCount = 2
    /// How an iteration's rollout rows are decoded: in `sampling.parts` fixed batches (a curriculum's
    /// `run.gradient_shards`), under mpirun each rank a block of them, gathered in row order (`RowSplit`). Set before
    /// the first iteration. Default: this process alone, 2 batches (one per core).
    public var sampling: RowSplit = .inOneProcess(parts: 2)
    /// The update's data-parallel step: each minibatch's shards on the policy and value head and their replicas.
    lazy var updateStep = TrainingStep(PPOUpdateObjective(trainer: self), shardCount: shardCount, reduction: reduction)

    /// A trainer with the character tokenizer's plain layout (`<bos>QUESTION\n`, completions ended by `<eos>`).
    public convenience init(policy: Transformer, valueHead: ValueHead, reference: Transformer, teacher: Transformer?,
                            tokenizer: Tokenizer, reward: CompositeReward, config: PPOConfig) throws {
        try self.init(policy: policy, valueHead: valueHead, reference: reference, teacher: teacher,
                      codec: TraceCodec(characters: tokenizer), reward: reward, config: config)
    }

    /// A trainer over the given models.
    /// - Throws: `PPOConfigError` for a bad config; `PPOError.modelMismatch` when the reference's architecture
    ///   differs from the policy's, a vocabulary is smaller than the tokenizer's or the value head's width
    ///   differs; `PPOError.teacherRequired` when the teacher reward is on without a teacher.
    public init(policy: Transformer, valueHead: ValueHead, reference: Transformer, teacher: Transformer?,
                codec: TraceCodec, reward: CompositeReward, config: PPOConfig) throws {
        let tokenizer = codec.tokenizer
        try config.validate()
        guard reference.config == policy.config else {
            throw PPOError.modelMismatch("the reference must be a copy of the policy; configs differ (\(reference.config.jsonString()) vs \(policy.config.jsonString()))")
        }
        guard policy.config.vocabSize >= tokenizer.vocabularySize else {
            throw PPOError.modelMismatch("the policy's vocabulary (\(policy.config.vocabSize)) is smaller than the tokenizer's (\(tokenizer.vocabularySize))")
        }
        if let teacher, teacher.config.vocabSize != policy.config.vocabSize {
            throw PPOError.modelMismatch("teacher vocabulary \(teacher.config.vocabSize) != student vocabulary \(policy.config.vocabSize)")
        }
        let width = valueHead.parameters["v_head.weight"].shape.last ?? 0
        guard width == policy.config.hiddenSize else {
            throw PPOError.modelMismatch("value head width \(width) != policy hidden size \(policy.config.hiddenSize)")
        }
        if (config.scoresWithTeacher || config.guidance == .teacher) && teacher == nil { throw PPOError.teacherRequired }
        self.policy = policy
        self.valueHead = valueHead
        self.reference = reference
        self.teacher = teacher
        self.codec = codec
        self.reward = reward
        self.config = config
        policyOptimizer = AdamW(store: policy.parameters, weightDecay: config.weightDecay)
        valueOptimizer = AdamW(store: valueHead.parameters, weightDecay: config.weightDecay)
        if let target = config.klTarget {
            klController = KLController(initial: config.klCoefficient, target: target, horizon: config.klHorizon)
        } else {
            klController = KLController(fixed: config.klCoefficient)
        }
        temperatureController = TemperatureController(config.temperature)
    }

    /// Whether the value head takes part (GAE) or not (GRPO).
    var usesCritic: Bool { config.advantage == .gae }

    // MARK: - Controllers

    /// The controllers' state for checkpoints: `kl_coefficient`, `temperature`, `temperature_position`, `iteration`.
    public var controllerState: [String: Double] {
        klController.state.merging(temperatureController.state) { a, _ in a }.merging(["iteration": Double(iteration)]) { a, _ in a }
    }

    /// Restores `controllerState` from a checkpoint (all or nothing).
    /// - Throws: `PPOError.invalidControllerState` naming a missing or bad key.
    public func restoreControllers(_ state: [String: Double]) throws {
        var kl = klController, temperature = temperatureController
        try kl.restore(state)
        try temperature.restore(state)
        guard let it = state["iteration"], it.isFinite, it >= 0, it == it.rounded(), it < Double(Int.max / 2) else {
            throw PPOError.invalidControllerState(key: "iteration", reason: "missing or not a whole number >= 0")
        }
        klController = kl
        temperatureController = temperature
        iteration = Int(it)
    }

    // MARK: - One iteration

    /// Samples, scores, rewards and updates on `problems` (each sampled `groupSize` times), then updates the
    /// KL and temperature controllers. With `filter_groups` this is one sampling round: only `problems`' groups
    /// that pass the filter are trained on.
    /// - Throws: `PPOError` for empty or unencodable problems, over-long prompts, or too few sequences for
    ///   the minibatches.
    public func iterate(problems: [PPOProblem], rng: inout RandomGenerator) throws -> PPOIterationMetrics {
        guard !problems.isEmpty else { throw PPOError.noProblems }
        var given = problems
        return try iterate(drawing: { _ in defer { given = [] }; return given }, rng: &rng)
    }

    /// One iteration whose problems come from `draw(prompts_per_iteration)`: samples `groupSize` completions per
    /// problem, scores them, turns rewards into advantages, updates, then updates the KL and temperature controllers.
    ///
    /// With `filter_groups: answer` (DAPO's dynamic sampling) it draws and samples up to `max_sampling_rounds` rounds,
    /// keeps the groups whose samples disagree on the answer (with `wrong`: every group with a wrong sample) and trains
    /// on the first `prompts_per_iteration` of them, with `min(minibatches, sequences)` minibatches; when no group
    /// passes, the update and both controllers are skipped. With `guidance` each round's groups whose samples are all
    /// wrong get the problem's verified trace (or, with `teacher`, the teacher's right completion) in place of their
    /// last sample (`Guidance`) before the filter sees them. With `teacher_advantage_coefficient` the teacher's
    /// per-token advantage is added to GRPO's (`Advantages.addingTeacherTerm`). The sampling metrics
    /// (reward, accuracy, group figures) cover every row the policy sampled, before guidance; entropy, KL and the
    /// update's figures the trained rows. A draw that returns no problems ends the rounds.
    /// - Throws: `PPOError` for no problems in the first round, unencodable problems, over-long prompts, or (without a
    ///   filter) too few sequences for the minibatches.
    public func iterate(drawing draw: (_ count: Int) throws -> [PPOProblem], rng: inout RandomGenerator) throws -> PPOIterationMetrics {
        let start = DispatchTime.now().uptimeNanoseconds
        let coefficient = klController.coefficient, temperature = temperatureController.temperature
        let groupSize = config.groupSize, wanted = config.promptsPerIteration * groupSize
        var sampled = Rollout(), kept = Rollout()
        var rounds = 0, guided = 0
        while rounds < (config.filterGroups == .none ? 1 : config.maxSamplingRounds), kept.rowCount < wanted {
            let problems = try draw(config.promptsPerIteration)
            guard !problems.isEmpty else {
                if rounds == 0 { throw PPOError.noProblems }
                break
            }
            if config.filterGroups == .none, problems.count * groupSize < config.minibatches {
                throw PPOError.tooFewSequences(sequences: problems.count * groupSize, minibatches: config.minibatches)
            }
            var round = try sample(problems, groupSize: groupSize, temperature: temperature, rng: &rng, split: sampling)
            rounds += 1
            sampled.append(round, rows: Array(0..<round.rowCount))
            if config.guidance != .none { guided += try guide(&round) }
            if config.filterGroups == .none {
                kept = round
            } else {
                let passing = round.groups(of: groupSize).filter { round.keeps($0, config.filterGroups) }.flatMap { $0 }
                kept.append(round, rows: Array(passing.prefix(wanted - kept.rowCount)))
            }
        }

        var m = summarize(sampled)
        m.iteration = iteration
        m.klCoefficient = coefficient
        m.temperature = Double(temperature)
        m.samplingRounds = rounds
        m.trainedSequences = kept.rowCount
        if groupSize >= 2 {
            let groups = sampled.groups(of: groupSize)
            m.mixedGroups = Double(groups.filter { sampled.keeps($0, .answer) }.count) / Double(groups.count)
            m.correctGroups = Double(groups.filter { $0.allSatisfy { sampled.verdicts[$0].correct } }.count) / Double(groups.count)
            if config.guidance != .none { m.guidedGroups = Double(guided) / Double(groups.count) }
        }
        if kept.rowCount > 0 {
            kept.batch = PPOBatch(prompts: kept.prompts, completions: kept.completions, temperature: temperature)
            score(&kept.batch)
            let kl = assignRewards(&kept, klCoefficient: coefficient)
            computeAdvantages(&kept.batch)
            if config.teacherAdvantageCoefficient > 0 { addTeacherAdvantages(&kept) }
            let stats = try update(kept.batch, rng: &rng)
            let b: PPOBatch = kept.batch
            m.kl = kl.reduce(0, +) / Double(kl.count)
            m.entropy = Advantages.maskedMoments(b.entropies, mask: b.mask).mean
            if let t = b.teacherLogProbs {
                m.teacherLogRatio = Advantages.maskedMoments(zip(t, b.oldLogProbs).map { $0 - $1 }, mask: b.mask).mean
            }
            if usesCritic { m.explainedVariance = Advantages.explainedVariance(values: b.values, returns: b.returns, mask: b.mask) }
            if config.advantage == .grpo {
                m.mixedAdvantageShare = Advantages.mixedGroupShare(advantages: kept.rowAdvantages, correct: kept.verdicts.map(\.correct),
                                                                   groupSize: groupSize)
            }
            m.update = stats
            klController.update(currentKL: m.kl, steps: b.batchSize)
            temperatureController.update(meanEntropy: m.entropy)
        }
        iteration += 1
        m.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        m.tokensPerSecond = Double(sampled.completions.reduce(0) { $0 + $1.count }) / max(m.seconds, 1e-9)
        return m
    }

    /// Off-policy guidance (`Guidance`) of one sampling round: the last row of each group whose samples are all wrong
    /// becomes its problem's stored trace when that fits in `max_new_tokens` and the context; with `teacher`, the
    /// groups left get the teacher's greedy completions, decoded in one call split as the rollout is (`sampling`),
    /// each used when the judge finds it right. Greedy decoding draws nothing, so the generator is untouched.
    /// - Returns: how many groups were given a right completion.
    /// - Throws: what the split decoding throws.
    func guide(_ round: inout Rollout) throws -> Int {
        var guided = 0, left: [Int] = []
        for row in round.allWrongGroupEnds(groupSize: config.groupSize) {
            if let trace = round.problems[row].teacherTrace, let ids = try? codec.completion(trace),
               ids.count <= min(config.maxNewTokens, contextLimit - round.prompts[row].count),
               round.guide(row: row, with: ids, codec: codec, reward: reward, judge: traceJudge) {
                guided += 1
            } else {
                left.append(row)
            }
        }
        guard config.guidance == .teacher, let teacher, !left.isEmpty else { return guided }
        let prompts = left.map { round.prompts[$0] }
        let room = min(config.maxNewTokens, contextLimit - prompts.map(\.count).max()!)
        let greedy = RandomGenerator(seed: 0)
        let completions = try teacher.generate(prompts: prompts, options: .greedy(maxNewTokens: room, stopTokens: codec.stopIDs),
                                               streams: left.indices.map { greedy.substream(question: $0, sample: 0) },
                                               split: sampling).tokens
        for (row, ids) in zip(left, completions) where round.guide(row: row, with: ids, codec: codec, reward: reward, judge: traceJudge) {
            guided += 1
        }
        return guided
    }

    /// Scores `problems` without updating anything: greedy decoding at `temperature` 0 (the default), or
    /// sampling at a given temperature from `rng`.
    /// - Parameter map: how greedy decoding's batches of 64 problems are run (`PPOEvaluation.BatchMap`: in this
    ///   process by default; under mpirun a block per rank, gathered in batch order, for the same metrics). Greedy
    ///   decoding leaves `rng` as it was; sampling forks one generator from it and every problem draws from its own
    ///   stream of that one, so sampled batches split the same way.
    /// - Throws: `PPOError` for empty or unencodable problems and over-long prompts (and a batch `map` returns
    ///   unreadable), or what `map` throws.
    public func evaluate(problems: [PPOProblem], temperature: Float = 0, rng: inout RandomGenerator,
                         map: PPOEvaluation.BatchMap = PPOEvaluation.inOneProcess) throws -> PPOEvaluation {
        guard !problems.isEmpty else { throw PPOError.noProblems }
        precondition(temperature >= 0 && temperature.isFinite, "evaluate: temperature must be >= 0, got \(temperature)")
        return try Rollout.evaluation(of: problems, rng: &rng, map: map, sampled: temperature > 0) { part, first, rng in
            try sample(part, groupSize: 1, temperature: temperature, rng: &rng, firstIndex: first)
        }
    }
}
