import Foundation
import Model
import Reward
import Tensor

// Rollouts: sampling, judging, scoring without gradients, per-token rewards and advantages.

/// Sampled completions of one iteration (or evaluation) with their judged traces; `batch` is laid out for
/// training only.
struct Rollout {
    /// Problem index of each row.
    var problemIndex: [Int] = []
    /// The problem of each row.
    var problems: [PPOProblem] = []
    /// Prompt tokens of each row.
    var prompts: [[Int32]] = []
    /// Completion tokens of each row (a final EOS included).
    var completions: [[Int32]] = []
    /// Completion texts with their character -> token map.
    var texts: [CompletionText] = []
    /// What the reward judged (parsed traces, shared with the metrics).
    var inputs: [RewardInput] = []
    /// The trace judge's verdict on each row (answer, steps), for the metrics.
    var verdicts: [TraceJudgement] = []
    /// The reward's verdicts.
    var results: [RewardResult] = []
    /// Training layout; nil until built.
    var batch: PPOBatch!
}

extension PPOTrainer {
    /// The prompt of a question in the codec's layout (with the character tokenizer: `<bos>` + question + newline).
    /// - Throws: `PPOError.unencodableQuestion` naming the problem.
    public func prompt(for problem: PPOProblem, index: Int = 0) throws -> [Int32] {
        try Rollout.prompt(for: problem, codec: codec, index: index)
    }

    /// Longest sequence every scoring model can take.
    var contextLimit: Int {
        min(policy.config.maxPositionEmbeddings, teacher?.config.maxPositionEmbeddings ?? .max)
    }

    /// Samples `groupSize` completions per problem (rows grouped by problem) and judges them; temperature 0 is greedy.
    func sample(_ problems: [PPOProblem], groupSize: Int, temperature: Float, rng: inout RandomGenerator,
                firstIndex: Int = 0, split: RowSplit = .inOneProcess(parts: 2)) throws -> Rollout {
        try Rollout.sample(problems, policy: policy, codec: codec, contextLimit: contextLimit, maxNewTokens: config.maxNewTokens,
                           groupSize: groupSize, temperature: temperature, rng: &rng, firstIndex: firstIndex, split: split,
                           reward: reward, judge: traceJudge)
    }

    /// Fills the behaviour log-probs, entropies and values (policy), the reference log-probs and, when the
    /// teacher reward is on, the teacher log-probs, all at the batch's temperature and without gradients.
    public func score(_ batch: inout PPOBatch) {
        let b = batch.batchSize, t = batch.length, temperature = batch.temperature
        let inputs = batch.inputs, targets = batch.targets, mask = batch.mask
        let critic = usesCritic
        // the models' passes are independent: they run at once, one per core
        let models = [policy, reference] + (config.scoresWithTeacher ? [teacher].compactMap { $0 } : [])
        var logProbs = [[Float]](repeating: [], count: models.count)
        var entropies: [Float] = [], values: [Float] = []
        withNoGrad {
            logProbs.withUnsafeMutableBufferPointer { out in
                Parallel.split(models.count) { i in
                    let pass = models[i].forward(tokens: inputs, batch: b, length: t)
                    out[i] = selectedLogProbs(pass.logits, targets: targets, temperature: temperature, mask: mask).toArray()
                    guard i == 0 else { return }
                    entropies = tokenEntropy(pass.logits, temperature: temperature, mask: mask).toArray()
                    if critic { values = zip(valueHead(pass.finalHidden).toArray(), mask).map { $1 != 0 ? $0 : 0 } }
                }
            }
        }
        batch.oldLogProbs = logProbs[0]
        batch.entropies = entropies
        if critic { batch.values = values }
        batch.referenceLogProbs = logProbs[1]
        if models.count > 2 { batch.teacherLogProbs = logProbs[2] }
    }

    /// The per-token KL estimates (policy vs reference) of a scored batch, 0 off the mask.
    public func klEstimates(_ batch: PPOBatch) -> [Float] {
        batch.mask.indices.map { i in
            batch.mask[i] != 0 ? config.klEstimator.estimate(logProb: batch.oldLogProbs[i], referenceLogProb: batch.referenceLogProbs[i]) : 0
        }
    }

    /// Per-token rewards: the trace reward placed per step (or on the last token), minus `klCoefficient` times
    /// the KL estimate on every token, plus the teacher log-ratio times its coefficient.
    /// - Returns: each sequence's summed KL estimate.
    func assignRewards(_ r: inout Rollout, klCoefficient: Double) -> [Double] {
        let kl = klEstimates(r.batch)
        let beta = Float(klCoefficient), tc = config.teacherLogRatioCoefficient
        var rewards = kl.map { -beta * $0 }
        if tc > 0, let t = r.batch.teacherLogProbs {
            for i in rewards.indices where r.batch.mask[i] != 0 { rewards[i] += tc * (t[i] - r.batch.oldLogProbs[i]) }
        }
        for row in 0..<r.batch.batchSize {
            let placed = r.texts[row].tokenRewards(r.results[row], perStep: config.stepRewards)
            for (k, value) in placed.enumerated() { rewards[r.batch.index(row: row, completionToken: k)] += value }
        }
        r.batch.rewards = rewards
        return r.batch.rowSums(kl)
    }

    /// Advantages (and returns for the critic) from the batch's rewards and values: GAE (whitened over the
    /// batch's tokens when configured), or GRPO's group-relative scores of each sequence's summed reward (rows
    /// grouped by `groupSize`). GRPO's scores are already normalised within each group and are not whitened
    /// again: shifting them by the batch's token mean would give a group whose samples all scored the same a
    /// non-zero advantage, pushing the policy toward or away from completions no better than their siblings
    /// (TRL's GRPOTrainer does not whiten either).
    public func computeAdvantages(_ batch: inout PPOBatch) {
        var adv: [Float]
        switch config.advantage {
        case .gae:
            let g = Advantages.gae(rewards: batch.rewards, values: batch.values, mask: batch.mask,
                                   batch: batch.batchSize, length: batch.length, gamma: config.gamma, lambda: config.lambda)
            adv = g.advantages
            batch.returns = g.returns
        case .grpo:
            precondition(batch.batchSize % config.groupSize == 0, "GRPO: \(batch.batchSize) rows are not groups of \(config.groupSize)")
            let scores = batch.rowSums(batch.rewards).map { Float($0) }
            adv = Advantages.broadcast(perRow: Advantages.groupRelative(scores: scores, groupSize: config.groupSize, scale: config.scaleRewards),
                                       mask: batch.mask, length: batch.length)
        }
        if config.whitenAdvantages && config.advantage == .gae { adv = Advantages.whiten(adv, mask: batch.mask) }
        batch.advantages = adv
    }

    /// On-policy distillation's per-token advantage on GRPO's (`teacher_advantage_coefficient`), from the teacher's and
    /// the policy's log-probs at sampling time (`Advantages.addingTeacherTerm`).
    func addTeacherAdvantages(_ r: inout Rollout) {
        guard let t = r.batch.teacherLogProbs else { return }
        r.batch.advantages = Advantages.addingTeacherTerm(r.batch.advantages, teacherLogProbs: t, logProbs: r.batch.oldLogProbs,
                                                          mask: r.batch.mask, correct: r.verdicts.map(\.correct),
                                                          groupSize: config.groupSize, coefficient: config.teacherAdvantageCoefficient,
                                                          rows: config.teacherAdvantageRows)
    }

    /// Reward, components, verified-step rate, answer accuracy and length over a judged rollout.
    func summarize(_ r: Rollout) -> PPOIterationMetrics { r.summary }
}

extension Rollout {
    /// Rows sampled.
    var rowCount: Int { completions.count }

    /// Appends `rows` of `other` (judged, not yet laid out for training), in that order.
    mutating func append(_ other: Rollout, rows: [Int]) {
        for i in rows {
            problemIndex.append(other.problemIndex[i])
            problems.append(other.problems[i])
            prompts.append(other.prompts[i])
            completions.append(other.completions[i])
            texts.append(other.texts[i])
            inputs.append(other.inputs[i])
            verdicts.append(other.verdicts[i])
            results.append(other.results[i])
        }
    }

    /// The row indices of each group of `size` consecutive rows (one problem's samples).
    func groups(of size: Int) -> [[Int]] {
        stride(from: 0, to: rowCount, by: size).map { Array($0 ..< min($0 + size, rowCount)) }
    }

    /// Whether `filter` keeps the group of `rows`.
    func keeps(_ rows: [Int], _ filter: GroupFilter) -> Bool {
        filter.keeps(correct: rows.map { verdicts[$0].correct })
    }

    /// Each row's advantage, read at its first completion token (GRPO gives every token of a row the same one; 0 for
    /// an empty completion).
    var rowAdvantages: [Float] {
        (0..<rowCount).map { batch.completionLengths[$0] > 0 ? batch.advantages[batch.index(row: $0, completionToken: 0)] : 0 }
    }

    /// The prompt of a question in the codec's layout (`PPOTrainer.prompt(for:index:)`).
    /// - Throws: `PPOError.unencodableQuestion` naming the problem.
    static func prompt(for problem: PPOProblem, codec: TraceCodec, index: Int) throws -> [Int32] {
        do { return try codec.prompt(question: problem.question) } catch let e as TokenizerError {
            throw PPOError.unencodableQuestion(problem: index, error: e)
        }
    }

    /// Samples `groupSize` completions per problem from `policy` (rows grouped by problem, prompts in the codec's
    /// layout, room for the completion within `contextLimit`), then decodes, judges and scores them (`judge(codec:
    /// reward:judge:)`); temperature 0 is greedy. PPO's and on-policy distillation's sampling.
    ///
    /// Sampling forks one generator from `rng` (one draw) and sample s of problem i draws from its
    /// `substream(question: firstIndex + i, sample: s)`; the rows decode in `split.parts` fixed batches, shared between
    /// processes by `split` and gathered in row order, so the completions do not depend on the number of processes.
    /// - Throws: `PPOError` for unencodable problems and prompts that fill the context; what `split` throws.
    static func sample(_ problems: [PPOProblem], policy: Transformer, codec: TraceCodec, contextLimit limit: Int, maxNewTokens: Int,
                       groupSize: Int, temperature: Float, rng: inout RandomGenerator, firstIndex: Int, split: RowSplit,
                       reward: CompositeReward, judge: TraceJudge) throws -> Rollout {
        var r = Rollout()
        var longest = 0
        for (i, p) in problems.enumerated() {
            let ids = try prompt(for: p, codec: codec, index: firstIndex + i)
            guard ids.count < limit else { throw PPOError.promptTooLong(problem: firstIndex + i, tokens: ids.count, limit: limit) }
            longest = max(longest, ids.count)
            for _ in 0..<groupSize {
                r.problemIndex.append(firstIndex + i)
                r.problems.append(p)
                r.prompts.append(ids)
            }
        }
        // room for the completion within every scoring model's context
        let maxNew = min(maxNewTokens, limit - longest)
        let options = temperature > 0
            ? SamplingOptions(temperature: temperature, maxNewTokens: maxNew, stopTokens: codec.stopIDs)
            : SamplingOptions.greedy(maxNewTokens: maxNew, stopTokens: codec.stopIDs)
        let base = temperature > 0 ? rng.fork() : rng  // greedy draws nothing and leaves `rng` as it was
        let streams = problems.indices.flatMap { i in (0..<groupSize).map { base.substream(question: firstIndex + i, sample: $0) } }
        r.completions = try policy.generate(prompts: r.prompts, options: options, streams: streams, split: split).tokens
        r.judge(codec: codec, reward: reward, judge: judge)
        return r
    }

    /// Decodes every completion, judges it (`TraceJudge`: answer and steps) and scores it with `reward`.
    mutating func judge(codec: TraceCodec, reward: CompositeReward, judge: TraceJudge) {
        texts = completions.map { CompletionText(tokens: $0, codec: codec) }
        verdicts = zip(problems, texts).map { Self.verdict(on: $1, for: $0, judge: judge) }
        inputs = verdicts.map(\.input)
        results = inputs.map { reward.evaluate($0) }
    }

    /// The judge's verdict on one completion of problem `p`: its answer against the reference, its steps, its agreement
    /// with the problem's teacher trace.
    static func verdict(on text: CompletionText, for p: PPOProblem, judge: TraceJudge) -> TraceJudgement {
        judge.judge(completion: text.text, question: p.question, referenceAnswer: p.referenceAnswer, teacherTrace: p.teacherTrace)
    }

    /// The last row of each whole group of `size` rows that are all wrong: the rows off-policy guidance may replace.
    func allWrongGroupEnds(groupSize size: Int) -> [Int] {
        groups(of: size).filter { $0.count == size && !$0.contains(where: { verdicts[$0].correct }) }.map { $0[size - 1] }
    }

    /// Off-policy guidance (`Guidance`): row `row` becomes the completion `ids` (ending with the end id when the text
    /// was whole), judged and scored as a sample is, when the judge finds it right; otherwise the row stays as it was.
    /// - Returns: whether the row was replaced.
    mutating func guide(row: Int, with ids: [Int32], codec: TraceCodec, reward: CompositeReward, judge: TraceJudge) -> Bool {
        let text = CompletionText(tokens: ids, codec: codec)
        let verdict = Self.verdict(on: text, for: problems[row], judge: judge)
        guard verdict.correct else { return false }
        completions[row] = ids
        texts[row] = text
        verdicts[row] = verdict
        inputs[row] = verdict.input
        results[row] = reward.evaluate(verdict.input)
        return true
    }

    /// Problems per batch of an evaluation: one `sample` call (one generate call, which this bounds the KV cache of).
    static let evaluationBatch = 64

    /// One pass over `problems` (one completion each, drawn by `sample` in batches of `evaluationBatch`) summarised as
    /// an evaluation: PPO's and on-policy distillation's validation. The batches go through `map`, which may have
    /// other processes decode some of them; each batch is the same problems whoever decodes it, starts from the same
    /// generator (`rng` as it was for greedy decoding, which draws nothing; for `sampled` ones one generator forked
    /// from `rng`, whose per-problem streams `sample` derives from the problem's index), its rows come back exactly
    /// (`RolloutRow`), and the metrics add them in problem order, so they do not depend on who decoded what.
    /// - Throws: what `sample` or `map` throw; `PPOError.unreadableEvaluationBatch` when `map` returns a batch that
    ///   is not its rows.
    static func evaluation(of problems: [PPOProblem], rng: inout RandomGenerator, map: PPOEvaluation.BatchMap, sampled: Bool,
                           sample: (_ part: [PPOProblem], _ firstIndex: Int, _ rng: inout RandomGenerator) throws -> Rollout)
        throws -> PPOEvaluation {
        let batches = stride(from: 0, to: problems.count, by: evaluationBatch).map { $0 ..< min($0 + evaluationBatch, problems.count) }
        var rows: [RolloutRow] = []
        let start = sampled ? rng.fork() : rng
        // `sample` is only called while `map` runs; the compiler cannot see that `map` does not call back into it
        let parts = try withoutActuallyEscaping(sample) { sample in
            try map(batches.count) { j in
                var own = start
                return RolloutRow.encode(try sample(Array(problems[batches[j]]), batches[j].lowerBound, &own).rows)
            }
        }
        for j in 0 ..< max(parts.count, batches.count) {
            let bytes = j < parts.count ? parts[j] : [], problemCount = j < batches.count ? batches[j].count : 0
            guard j < batches.count, j < parts.count, let part = RolloutRow.decode(bytes), part.count == problemCount else {
                throw PPOError.unreadableEvaluationBatch(batch: j, problems: problemCount, bytes: bytes.count)
            }
            rows += part
        }
        let s = RolloutRow.summary(of: rows)
        var e = PPOEvaluation()
        e.problems = problems.count
        e.meanReward = s.reward
        e.rewardComponents = s.rewardComponents
        e.verifiedStepRate = s.verifiedStepRate
        e.answerAccuracy = s.answerAccuracy
        e.completionLength = s.completionLength
        return e
    }

    /// Each row's figures for the metrics, in row order.
    var rows: [RolloutRow] {
        results.indices.map { i in
            RolloutRow(total: results[i].total, components: results[i].components, stepCount: verdicts[i].stepCount,
                       validStepCount: verdicts[i].validStepCount, correct: verdicts[i].correct, length: completions[i].count)
        }
    }

    /// Reward, components, verified-step rate, answer accuracy and length over a judged rollout (PPO's and
    /// on-policy distillation's metrics and validation).
    var summary: PPOIterationMetrics { RolloutRow.summary(of: rows) }
}
