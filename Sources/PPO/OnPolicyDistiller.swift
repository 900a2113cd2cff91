import Dispatch
import Foundation
import Model
import Reward
import Tensor

/// What one on-policy distillation iteration did.
public struct OnPolicyIterationMetrics: Sendable {
    /// 1 when the batch was the student's own samples, 0 for a batch of teacher traces.
    public var onPolicy = true
    /// The loss minimised (the JSD, or the policy-gradient surrogate, plus the reward term).
    public var loss = 0.0
    /// Mean over scored tokens of log p_student - log p_teacher at the batch's tokens (a sample estimate of
    /// the reverse KL on the student's samples).
    public var reverseKL = 0.0
    /// Mean trace reward of the sampled completions (on-policy batches).
    public var reward = 0.0
    /// Fraction of sampled completions with the right final answer (on-policy batches).
    public var answerAccuracy = 0.0
    /// Fraction of the samples' steps whose claims all verify (on-policy batches).
    public var verifiedStepRate = 0.0
    /// Mean token entropy of the sampling distribution (at the sampling temperature).
    public var entropy = 0.0
    /// The sampling temperature.
    public var temperature = 0.0
    /// Gradient norm before clipping.
    public var gradientNorm = 0.0
    /// Mean completion length in tokens.
    public var completionLength = 0.0
    /// Wall time of the iteration.
    public var seconds = 0.0

    /// An empty record.
    public init() {}

    /// Flat map for logs: `on_policy`, `loss`, `reverse_kl`, `entropy`, `temperature`, `grad_norm`,
    /// `completion_length`, `seconds`, and on on-policy batches `reward`, `answer_accuracy`, `verified_step_rate`.
    public var values: [String: Double] {
        var v = ["on_policy": onPolicy ? 1 : 0, "loss": loss, "reverse_kl": reverseKL, "entropy": entropy,
                 "temperature": temperature, "grad_norm": gradientNorm, "completion_length": completionLength, "seconds": seconds]
        if onPolicy {
            v["reward"] = reward
            v["answer_accuracy"] = answerAccuracy
            v["verified_step_rate"] = verifiedStepRate
        }
        return v
    }
}

/// On-policy distillation of a student from a frozen teacher, one iteration at a time.
///
/// An on-policy iteration samples completions of the questions from the student (KV-cache sampler, the
/// codec's prompt template, the temperature controller's temperature), scores the same tokens with the
/// teacher and the student (the teacher without gradients), and takes one AdamW step on the objective:
/// - `gkd`: the generalised JSD(beta) over the whole vocabulary at every sampled position (`gkdLoss`);
/// - `reverse_kl_pg`: the policy gradient with advantage log p_teacher - log p_student per token, discount 0
///   (`reverseKLAdvantages`, `policyGradientLoss`).
/// With `reward_weight` > 0 the trace reward (placed per step on the token that ends it, the rest on the last
/// token) adds `reward_weight` x its reward-to-go to the advantage (with `gkd`: as a policy-gradient term of its
/// own beside the JSD), so one update pushes toward the teacher and toward verified reasoning together.
///
/// An off-policy iteration (gkd with lambda < 1) takes the same JSD step on given teacher traces instead.
///
/// Losses are taken at temperature 1 whatever the sampling temperature (as TRL's GKDTrainer); the policy-gradient
/// terms weight each sampled token by p(y) / q_T(y), truncated at `importanceWeightCap`, so that sampling at another
/// temperature does not bias them (GKD's JSD sums over the vocabulary and needs no weight). Determinism:
/// sampling draws from the `rng` argument only, so the same seed, data and thread count give the same bits.
public final class OnPolicyDistiller {
    /// The largest importance weight p(y) / q_T(y) a sampled token's policy-gradient advantage is multiplied by.
    public static let importanceWeightCap: Float = 5
    /// The student being trained.
    public let student: Transformer
    /// The frozen teacher.
    public let teacher: Transformer
    /// Prompts and decoding (tokenizer and template).
    public let codec: TraceCodec
    /// The trace reward: judges samples for the metrics and validation, and enters the advantage when weighted.
    public let reward: CompositeReward
    /// The validated settings.
    public let config: OnPolicyDistillationConfig
    /// AdamW over the student's parameters (checkpoint its moments and step count).
    public let optimizer: AdamW
    /// The sampling temperature controller.
    public private(set) var temperatureController: TemperatureController
    /// Iterations run so far (restored with the controllers).
    public private(set) var iteration = 0
    /// Multiplies the learning rate (a stage may schedule it; 1 by default).
    public var learningRateScale: Float = 1
    /// The processes a step spans (MPI ranks, each computing its block of a batch's shards); set before the first
    /// iteration. Default: this process alone.
    public var reduction: ShardReduction = LocalReduction()
    /// Fixed shards per step (the run's `gradient_shards`); under mpirun each rank computes its block of them. Set
    /// before the first iteration.
    public var shardCount = 2
    /// How an iteration's rollout rows are decoded: in `sampling.parts` fixed batches (a curriculum's
    /// `run.gradient_shards`), under mpirun each rank a block of them, gathered in row order (`RowSplit`). Set before
    /// the first iteration. Default: this process alone, 2 batches (one per core).
    public var sampling: RowSplit = .inOneProcess(parts: 2)
    /// The data-parallel step: each batch's shards on the student and its replicas.
    lazy var trainingStep = TrainingStep(OnPolicyStepObjective(distiller: self), shardCount: shardCount,
                                         reduction: reduction)
    let traceJudge = TraceJudge()

    /// A distiller over the given models.
    /// - Throws: `PPOConfigError` for a bad config; `PPOError.modelMismatch` when the vocabularies differ or are
    ///   smaller than the tokenizer's.
    public init(student: Transformer, teacher: Transformer, codec: TraceCodec, reward: CompositeReward,
                config: OnPolicyDistillationConfig) throws {
        try config.validate()
        guard teacher.config.vocabSize == student.config.vocabSize else {
            throw PPOError.modelMismatch("teacher vocabulary \(teacher.config.vocabSize) != student vocabulary \(student.config.vocabSize)")
        }
        guard student.config.vocabSize >= codec.tokenizer.vocabularySize else {
            throw PPOError.modelMismatch("the student's vocabulary (\(student.config.vocabSize)) is smaller than the tokenizer's (\(codec.tokenizer.vocabularySize))")
        }
        self.student = student
        self.teacher = teacher
        self.codec = codec
        self.reward = reward
        self.config = config
        optimizer = AdamW(store: student.parameters, weightDecay: config.weightDecay)
        temperatureController = TemperatureController(config.temperature)
    }

    // MARK: - Controllers

    /// The controllers' state for checkpoints: `temperature`, `temperature_position`, `iteration`.
    public var controllerState: [String: Double] {
        temperatureController.state.merging(["iteration": Double(iteration)]) { a, _ in a }
    }

    /// Restores `controllerState` (all or nothing).
    /// - Throws: `PPOError.invalidControllerState` naming a missing or bad key.
    public func restoreControllers(_ state: [String: Double]) throws {
        var temperature = temperatureController
        try temperature.restore(state)
        guard let it = state["iteration"], it.isFinite, it >= 0, it == it.rounded(), it < Double(Int.max / 2) else {
            throw PPOError.invalidControllerState(key: "iteration", reason: "missing or not a whole number >= 0")
        }
        temperatureController = temperature
        iteration = Int(it)
    }

    // MARK: - Iterations

    /// Samples `samples_per_prompt` completions per problem from the student, scores them with the teacher and
    /// takes one step on the objective; then updates the temperature controller.
    /// - Throws: `PPOError` for empty or unencodable problems and over-long prompts.
    public func iterate(problems: [PPOProblem], rng: inout RandomGenerator) throws -> OnPolicyIterationMetrics {
        let start = DispatchTime.now().uptimeNanoseconds
        guard !problems.isEmpty else { throw PPOError.noProblems }
        let temperature = temperatureController.temperature
        let r = try sample(problems, groupSize: config.samplesPerPrompt, temperature: temperature, rng: &rng, split: sampling)
        let batch = PPOBatch(prompts: r.prompts, completions: r.completions, temperature: temperature)
        var rewards: [Float]? = nil
        if config.rewardWeight > 0 {
            var placed = [Float](repeating: 0, count: batch.batchSize * batch.length)
            for row in 0..<batch.batchSize {
                let tokens = rewardToGo(r.texts[row].tokenRewards(r.results[row], perStep: config.stepRewards),
                                        discount: config.rewardDiscount)
                for (k, value) in tokens.enumerated() { placed[batch.index(row: row, completionToken: k)] = value }
            }
            rewards = placed
        }
        var m = try step(batch, rewards: rewards, samplingTemperature: temperature)
        let s = summarize(r)
        m.reward = s.reward
        m.answerAccuracy = s.answerAccuracy
        m.verifiedStepRate = s.verifiedStepRate
        temperatureController.update(meanEntropy: m.entropy)
        iteration += 1
        m.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return m
    }

    /// One GKD step on given sequences (teacher traces: `prompts[i]` then `completions[i]`, the end token
    /// included), for lambda's off-policy share. The temperature controller does not move: it follows the
    /// student's samples only.
    /// - Precondition: the objective is `gkd`; prompts and completions are non-empty and as many.
    /// - Throws: what the step's reduction throws (a lost MPI rank).
    public func iterate(prompts: [[Int32]], completions: [[Int32]]) throws -> OnPolicyIterationMetrics {
        precondition(config.objective == .gkd, "off-policy batches are GKD's (lambda < 1); the objective is \(config.objective.rawValue)")
        let start = DispatchTime.now().uptimeNanoseconds
        let batch = PPOBatch(prompts: prompts, completions: completions, temperature: 1)
        var m = try step(batch, rewards: nil, samplingTemperature: temperatureController.temperature)
        m.onPolicy = false
        iteration += 1
        m.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return m
    }

    /// One AdamW step on the objective over the completion tokens of `batch`; `rewards` (B, T) are the trace
    /// reward's per-token reward-to-go, unweighted, when the reward is on.
    ///
    /// The batch runs through the data-parallel `TrainingStep` (`OnPolicyStepObjective`): fixed shards of its rows at
    /// once, one per core, the later ones on replicas of the student; each shard's loss a mean over its own scored
    /// tokens, weighted by its share of the batch's; gradients summed in `ShardSum`'s fixed order across `reduction`'s
    /// processes; then one global-norm clip (`GradientClip`).
    /// - Throws: what the reduction throws (a lost MPI rank).
    func step(_ batch: PPOBatch, rewards: [Float]?, samplingTemperature: Float) throws -> OnPolicyIterationMetrics {
        let result = try trainingStep.gradients(OnPolicyStepBatch(batch: batch, rewards: rewards, samplingTemperature: samplingTemperature))
        let norm = trainingStep.clipGradients(maxNorm: config.maxGradNorm)
        // a NaN step would ruin the weights (a shard whose loss is not finite is not backpropagated)
        if norm.isFinite && result.loss.isFinite { optimizer.step(learningRate: config.learningRate * learningRateScale) }
        var m = OnPolicyIterationMetrics()
        m.loss = result.loss
        m.gradientNorm = Double(norm)
        m.reverseKL = result.metrics["reverse_kl"]!
        m.entropy = result.metrics["entropy"]!
        m.temperature = Double(samplingTemperature)
        m.completionLength = Double(batch.tokenCount) / Double(batch.batchSize)
        return m
    }

    /// The loss of one shard on `student` (the distiller's or a replica): the objective, plus the reward term when
    /// rewards are given, a mean over the shard's scored tokens; with the reverse KL and the sampling entropy as
    /// token-mean metrics.
    func shardLoss(_ s: OnPolicyShard, student: Transformer) -> ShardLoss {
        let (b, t, mask) = (s.rows, s.length, s.mask)
        // The teacher's full distribution at every position (B*T, V): fine at the built-in vocabularies. With a
        // large vocabulary, the teacher's top-k log-probs (the top-k teacher cache) would replace these logits
        // here, and both objectives would read the teacher only at those ids.
        let teacherLogits = withNoGrad { teacher.forward(tokens: s.inputs, batch: b, length: t).logits }
        let teacherLogProbs = withNoGrad {
            selectedLogProbs(teacherLogits, targets: s.targets, temperature: 1, mask: mask).toArray()
        }
        let out = student.forward(tokens: s.inputs, batch: b, length: t)
        let logp = selectedLogProbs(out.logits, targets: s.targets, temperature: 1, mask: mask)
        let studentLogProbs = logp.toArray()
        var pg: Tensor? = nil
        if config.objective == .reverseKLPolicyGradient || s.rewards != nil {
            var a = advantages(teacherLogProbs: teacherLogProbs, studentLogProbs: studentLogProbs, rewards: s.rewards, mask: mask)
            if s.temperature != 1 {
                // the tokens were drawn from softmax(z / T), not from the T = 1 policy the gradient is of
                let sampling = withNoGrad {
                    selectedLogProbs(out.logits, targets: s.targets, temperature: s.temperature, mask: mask).toArray()
                }
                let w = importanceWeights(policyLogProbs: studentLogProbs, samplingLogProbs: sampling, mask: mask,
                                          cap: Self.importanceWeightCap)
                for i in a.indices { a[i] *= w[i] }
            }
            pg = policyGradientLoss(logProbs: logp, advantages: a, mask: mask)
        }
        let loss: Tensor
        switch config.objective {
        case .gkd:
            let jsd = gkdLoss(student: out.logits, teacher: teacherLogits, mask: mask, beta: config.beta)
            loss = pg.map { add(jsd, $0) } ?? jsd
        case .reverseKLPolicyGradient:
            loss = pg!  // the objective is a policy gradient, so `pg` is set above
        }
        let reverseKL = Advantages.maskedMoments(zip(studentLogProbs, teacherLogProbs).map { $0 - $1 }, mask: mask).mean
        let entropy = withNoGrad {
            Advantages.maskedMoments(tokenEntropy(out.logits, temperature: s.samplingTemperature, mask: mask).toArray(), mask: mask).mean
        }
        return ShardLoss(perTarget: loss, metrics: ["reverse_kl": (Double(reverseKL), .target), "entropy": (Double(entropy), .target)])
    }

    /// The policy-gradient term's per-token advantages: with `reverse_kl_pg` the teacher-student log-ratio of
    /// each token (discount 0), plus `reward_weight` x the trace reward's reward-to-go when given; 0 off the mask.
    func advantages(teacherLogProbs: [Float], studentLogProbs: [Float], rewards: [Float]?, mask: [Float]) -> [Float] {
        var a = config.objective == .reverseKLPolicyGradient
            ? reverseKLAdvantages(teacherLogProbs: teacherLogProbs, studentLogProbs: studentLogProbs, mask: mask)
            : [Float](repeating: 0, count: mask.count)
        if let rewards {
            for i in a.indices where mask[i] != 0 { a[i] += config.rewardWeight * rewards[i] }
        }
        return a
    }

    /// The advantages `step` would use on `batch` (the models scored without gradients); for inspection and tests.
    /// - Parameter rewards: (B, T) the trace reward's reward-to-go, or nil when the reward is off.
    public func tokenAdvantages(_ batch: PPOBatch, rewards: [Float]? = nil) -> [Float] {
        let (b, t) = (batch.batchSize, batch.length)
        let (teacherLogProbs, studentLogProbs) = withNoGrad {
            (selectedLogProbs(teacher.forward(tokens: batch.inputs, batch: b, length: t).logits, targets: batch.targets, mask: batch.mask).toArray(),
             selectedLogProbs(student.forward(tokens: batch.inputs, batch: b, length: t).logits, targets: batch.targets, mask: batch.mask).toArray())
        }
        return advantages(teacherLogProbs: teacherLogProbs, studentLogProbs: studentLogProbs, rewards: rewards, mask: batch.mask)
    }

    // MARK: - Sampling and validation

    /// Scores `problems` without updating anything: greedy decoding (temperature 0), or sampling at `temperature`.
    /// - Parameter map: how greedy decoding's batches of 64 problems are run (`PPOEvaluation.BatchMap`: in this
    ///   process by default; under mpirun a block per rank, gathered in batch order, for the same metrics). Greedy
    ///   decoding leaves `rng` as it was; sampling forks one generator from it and every problem draws from its own
    ///   stream of that one, so sampled batches split the same way.
    /// - Throws: `PPOError` for empty or unencodable problems and over-long prompts (and a batch `map` returns
    ///   unreadable), or what `map` throws.
    public func evaluate(problems: [PPOProblem], temperature: Float = 0, rng: inout RandomGenerator,
                         map: PPOEvaluation.BatchMap = PPOEvaluation.inOneProcess) throws -> PPOEvaluation {
        guard !problems.isEmpty else { throw PPOError.noProblems }
        return try Rollout.evaluation(of: problems, rng: &rng, map: map, sampled: temperature > 0) { part, first, rng in
            try sample(part, groupSize: 1, temperature: temperature, rng: &rng, firstIndex: first)
        }
    }

    /// Samples `groupSize` completions per problem (rows grouped by problem) and judges them; temperature 0 is greedy
    /// (PPO's rollout, with room for the completion within both models' context).
    func sample(_ problems: [PPOProblem], groupSize: Int, temperature: Float, rng: inout RandomGenerator,
                firstIndex: Int = 0, split: RowSplit = .inOneProcess(parts: 2)) throws -> Rollout {
        try Rollout.sample(problems, policy: student, codec: codec,
                           contextLimit: min(student.config.maxPositionEmbeddings, teacher.config.maxPositionEmbeddings),
                           maxNewTokens: config.maxNewTokens, groupSize: groupSize, temperature: temperature, rng: &rng,
                           firstIndex: firstIndex, split: split, reward: reward, judge: traceJudge)
    }

    /// Reward, verified-step rate, answer accuracy and length of a judged rollout.
    func summarize(_ r: Rollout) -> PPOIterationMetrics { r.summary }
}
