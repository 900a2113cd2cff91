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
    /// The reward's verdicts.
    var results: [RewardResult] = []
    /// Training layout; nil until built.
    var batch: PPOBatch!

    static func merge(_ parts: [Rollout]) -> Rollout {
        var r = Rollout()
        for p in parts {
            r.problemIndex += p.problemIndex; r.problems += p.problems; r.prompts += p.prompts
            r.completions += p.completions; r.texts += p.texts; r.inputs += p.inputs; r.results += p.results
        }
        return r
    }
}

extension PPOTrainer {
    /// The prompt of a question in the codec's layout (with the character tokenizer: `<bos>` + question + newline).
    /// - Throws: `PPOError.unencodableQuestion` naming the problem.
    public func prompt(for problem: PPOProblem, index: Int = 0) throws -> [Int32] {
        do { return try codec.prompt(question: problem.question) } catch let e as TokenizerError {
            throw PPOError.unencodableQuestion(problem: index, error: e)
        }
    }

    /// Longest sequence every scoring model can take.
    var contextLimit: Int {
        min(policy.config.maxPositionEmbeddings, teacher?.config.maxPositionEmbeddings ?? .max)
    }

    /// Samples `groupSize` completions per problem (rows grouped by problem) and judges them; temperature 0 is greedy.
    func sample(_ problems: [PPOProblem], groupSize: Int, temperature: Float, rng: inout RandomGenerator,
                firstIndex: Int = 0) throws -> Rollout {
        var r = Rollout()
        let limit = contextLimit
        var longest = 0
        for (i, p) in problems.enumerated() {
            let ids = try prompt(for: p, index: firstIndex + i)
            guard ids.count < limit else { throw PPOError.promptTooLong(problem: firstIndex + i, tokens: ids.count, limit: limit) }
            longest = max(longest, ids.count)
            for _ in 0..<groupSize {
                r.problemIndex.append(firstIndex + i)
                r.problems.append(p)
                r.prompts.append(ids)
            }
        }
        // room for the completion within every scoring model's context
        let maxNew = min(config.maxNewTokens, limit - longest)
        let options = temperature > 0
            ? SamplingOptions(temperature: temperature, maxNewTokens: maxNew, stopTokens: codec.stopIDs)
            : SamplingOptions.greedy(maxNewTokens: maxNew, stopTokens: codec.stopIDs)
        let generation = policy.generate(prompts: r.prompts, options: options, rng: &rng)
        r.completions = generation.tokens
        judge(&r)
        return r
    }

    /// Decodes and judges every row of `r`.
    func judge(_ r: inout Rollout) {
        r.texts = r.completions.map { CompletionText(tokens: $0, codec: codec) }
        r.inputs = zip(r.problems, r.texts).map { p, t in
            RewardInput(question: p.question, trace: t.text, referenceAnswer: p.referenceAnswer, teacherTrace: p.teacherTrace)
        }
        r.results = r.inputs.map { reward.evaluate($0) }
    }

    /// Fills the behaviour log-probs, entropies and values (policy), the reference log-probs and, when the
    /// teacher reward is on, the teacher log-probs, all at the batch's temperature and without gradients.
    public func score(_ batch: inout PPOBatch) {
        let b = batch.batchSize, t = batch.length, temperature = batch.temperature
        let inputs = batch.inputs, targets = batch.targets, mask = batch.mask
        let critic = usesCritic
        // the models' passes are independent: they run at once, one per core
        let models = [policy, reference] + (config.teacherLogRatioCoefficient > 0 ? [teacher].compactMap { $0 } : [])
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
        if let t = r.batch.teacherLogProbs {
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

    /// Reward, components, verified-step rate, answer accuracy and length over a judged rollout.
    func summarize(_ r: Rollout) -> PPOIterationMetrics { Rollout.summarize(r, verifier: verifier) }
}

extension Rollout {
    /// Reward, components, verified-step rate, answer accuracy and length over a judged rollout (PPO's and
    /// on-policy distillation's metrics and validation).
    static func summarize(_ r: Rollout, verifier: StepVerifier) -> PPOIterationMetrics {
        var m = PPOIterationMetrics()
        let n = Double(max(r.results.count, 1))
        m.sequences = r.results.count
        m.reward = r.results.reduce(0) { $0 + $1.total } / n
        for result in r.results {
            for c in result.components { m.rewardComponents[c.name, default: 0] += c.value / n }
        }
        var steps = 0, verified = 0, correct = 0
        for input in r.inputs {
            let v = verifier.verify(steps: input.trace.stepTexts)
            steps += v.steps.count
            verified += v.steps.filter { $0.status == .valid }.count
            if let a = input.trace.answer, AnswerNormalizer.equivalent(a, input.referenceAnswer) { correct += 1 }
        }
        m.verifiedStepRate = steps > 0 ? Double(verified) / Double(steps) : 0
        m.answerAccuracy = Double(correct) / n
        m.completionLength = Double(r.completions.reduce(0) { $0 + $1.count }) / n
        return m
    }
}

