/// What one PPO update (the epochs over one rollout) measured.
public struct PPOUpdateStatistics: Sendable, Equatable {
    /// Mean clipped surrogate loss over the minibatch updates.
    public var policyLoss = 0.0
    /// Mean value loss (nil with GRPO: no critic).
    public var valueLoss: Double?
    /// Mean token entropy on the minibatches (under the current policy at the rollout temperature).
    public var entropy = 0.0
    /// Mean fraction of tokens whose policy gradient the clip zeroed.
    public var clipFraction = 0.0
    /// Mean fraction of tokens whose value gradient the value clip zeroed (nil with GRPO).
    public var valueClipFraction: Double?
    /// Mean approximate KL(old || new) over the minibatches (k3 on the probability ratio).
    public var approximateKL = 0.0
    /// Mean global gradient norm before clipping.
    public var gradientNorm = 0.0
    /// Optimizer steps taken.
    public var updates = 0
    /// Minibatch updates taken / minibatches per epoch (the configured epochs unless stopped early).
    public var epochsRun = 0.0
    /// True when the approximate-KL limit stopped the epoch loop.
    public var stoppedEarly = false
    /// Minibatches skipped because their gradient was not finite.
    public var skippedSteps = 0

    /// An empty record.
    public init() {}
}

/// Everything one PPO iteration (rollout + update + controller updates) reports.
public struct PPOIterationMetrics: Sendable {
    /// 0-based iteration number of this trainer.
    public var iteration = 0
    /// Mean trace reward (the composite total) over the sampled sequences.
    public var reward = 0.0
    /// Mean of each reward component (unweighted), by name.
    public var rewardComponents: [String: Double] = [:]
    /// Mean over sequences of the summed per-token KL estimate (policy vs reference).
    public var kl = 0.0
    /// KL coefficient used for this rollout's penalty.
    public var klCoefficient = 0.0
    /// Mean token entropy of the sampling distribution (the temperature controller's input).
    public var entropy = 0.0
    /// Sampling temperature of this rollout.
    public var temperature = 0.0
    /// Mean per-token teacher log-ratio log p_teacher - log p_student (nil when off).
    public var teacherLogRatio: Double?
    /// Explained variance of the returns by the values at sampling time (nil with GRPO or constant returns).
    public var explainedVariance: Double?
    /// Fraction of steps (over all sampled traces) whose every arithmetic claim verifies; 0 when no steps.
    public var verifiedStepRate = 0.0
    /// Fraction of sampled traces whose final answer matches the reference.
    public var answerAccuracy = 0.0
    /// Mean completion length in tokens.
    public var completionLength = 0.0
    /// Sequences sampled.
    public var sequences = 0
    /// With GRPO: the fraction of sampled groups whose samples disagree on the answer (some right, some wrong), the
    /// only groups with an answer signal.
    public var mixedGroups: Double?
    /// With GRPO: the fraction of sampled groups whose samples all have the right answer.
    public var correctGroups: Double?
    /// With GRPO: the share of the trained rows' advantage (sum of |A| per row) that falls on groups whose samples
    /// disagree on the answer; the rest comes from the other reward terms and the KL penalty alone.
    public var mixedAdvantageShare: Double?
    /// With `guidance` on: the fraction of sampled groups, all wrong, whose last sample was replaced by the problem's
    /// verified trace or (with `teacher`) the teacher's right completion.
    public var guidedGroups: Double?
    /// PPO: sampling rounds of the iteration (more than 1 only with `filter_groups`).
    public var samplingRounds: Int?
    /// PPO: sequences the update trained on (fewer than `sequences` with `filter_groups`; 0 when no group was kept
    /// and the update was skipped).
    public var trainedSequences: Int?
    /// Completion tokens sampled per second of the whole iteration (rollout + scoring + update).
    public var tokensPerSecond = 0.0
    /// Wall time of the iteration.
    public var seconds = 0.0
    /// The update's own figures.
    public var update = PPOUpdateStatistics()

    /// An empty record.
    public init() {}

    /// Flat name -> value map for logs and checkpoints: `reward`, `reward_<component>`, `kl`, `kl_coefficient`,
    /// `entropy`, `temperature`, `clip_fraction`, `policy_loss`, `value_loss`, `value_clip_fraction`,
    /// `explained_variance`, `approx_kl`, `grad_norm`, `verified_step_rate`, `answer_accuracy`, `epochs_run`,
    /// `updates`, `stopped_early`, `teacher_log_ratio`, `completion_length`, `sequences`, `tokens_per_second`,
    /// `seconds`, `mixed_groups`, `correct_groups`, `mixed_advantage_share`, `guided_groups`, `sampling_rounds`, `trained_sequences`. Keys whose value does not exist in this configuration (value terms with GRPO, the
    /// teacher ratio when off) are left out rather than reported as 0.
    public var values: [String: Double] {
        var v: [String: Double] = [
            "reward": reward, "kl": kl, "kl_coefficient": klCoefficient, "entropy": entropy,
            "temperature": temperature, "clip_fraction": update.clipFraction, "policy_loss": update.policyLoss,
            "approx_kl": update.approximateKL, "grad_norm": update.gradientNorm, "verified_step_rate": verifiedStepRate,
            "answer_accuracy": answerAccuracy, "epochs_run": update.epochsRun, "updates": Double(update.updates),
            "stopped_early": update.stoppedEarly ? 1 : 0, "completion_length": completionLength,
            "sequences": Double(sequences), "tokens_per_second": tokensPerSecond, "seconds": seconds,
            "iteration": Double(iteration),
        ]
        for (name, value) in rewardComponents { v["reward_" + name] = value }
        if let x = update.valueLoss { v["value_loss"] = x }
        if let x = update.valueClipFraction { v["value_clip_fraction"] = x }
        if let x = explainedVariance, x.isFinite { v["explained_variance"] = x }
        if let x = teacherLogRatio { v["teacher_log_ratio"] = x }
        if let x = mixedGroups { v["mixed_groups"] = x }
        if let x = correctGroups { v["correct_groups"] = x }
        if let x = mixedAdvantageShare, x.isFinite { v["mixed_advantage_share"] = x }
        if let x = guidedGroups { v["guided_groups"] = x }
        if let x = samplingRounds { v["sampling_rounds"] = Double(x) }
        if let x = trainedSequences { v["trained_sequences"] = Double(x) }
        return v
    }
}

/// Scores of a policy on a set of problems, without any update (validation).
public struct PPOEvaluation: Sendable {
    /// Problems evaluated.
    public var problems = 0
    /// Mean trace reward (composite total).
    public var meanReward = 0.0
    /// Mean of each reward component, by name.
    public var rewardComponents: [String: Double] = [:]
    /// Fraction of steps over all traces whose every claim verifies.
    public var verifiedStepRate = 0.0
    /// Fraction of traces with the right final answer.
    public var answerAccuracy = 0.0
    /// Mean completion length in tokens.
    public var completionLength = 0.0

    /// An empty record.
    public init() {}

    /// Flat map: `reward`, `reward_<component>`, `verified_step_rate`, `answer_accuracy`, `completion_length`, `problems`.
    public var values: [String: Double] {
        var v = ["reward": meanReward, "verified_step_rate": verifiedStepRate, "answer_accuracy": answerAccuracy,
                 "completion_length": completionLength, "problems": Double(problems)]
        for (name, value) in rewardComponents { v["reward_" + name] = value }
        return v
    }
}

extension PPOEvaluation {
    /// How a greedy evaluation's batches are decoded: `body(j)` for every batch `j` in `0 ..< count`, returned in batch
    /// order. `inOneProcess` runs them here; a caller under mpirun passes one that has each rank run a block of the
    /// batches and gathers the results in batch order (Stages passes `Collective.mapInOrder`), so the metrics are the
    /// same bits for any number of processes. `body(j)` gives the same bytes whichever process runs it.
    public typealias BatchMap = (_ count: Int, _ body: (Int) throws -> [UInt8]) throws -> [[UInt8]]

    /// Every batch in this process, in order.
    public static func inOneProcess(_ count: Int, _ body: (Int) throws -> [UInt8]) rethrows -> [[UInt8]] {
        try (0..<count).map(body)
    }
}
