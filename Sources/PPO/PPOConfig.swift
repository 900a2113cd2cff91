/// Which advantage estimator PPO uses.
public enum AdvantageEstimator: String, Codable, Sendable, CaseIterable {
    /// GAE over per-token rewards with the value head as critic (Schulman et al. 2016).
    case gae
    /// Group-relative advantages over `groupSize` samples per prompt, no critic (Shao et al. 2024).
    case grpo
}

/// How GRPO scales a sequence's reward minus its group's mean (TRL's `scale_rewards`).
public enum RewardScaling: String, Codable, Sendable, CaseIterable {
    /// Divide by the group's standard deviation (Shao et al. 2024): every group with any spread gets
    /// advantages of unit size, however small the spread.
    case group
    /// Divide by the standard deviation of every reward in the batch: groups keep their relative spreads.
    case batch
    /// No division (Liu et al. 2025, Dr. GRPO): a group whose samples differ by 0.01 gets advantages of
    /// about 0.01, not 1.
    case none
}

/// Which sampled GRPO groups an iteration trains on (DAPO's dynamic sampling, Yu et al. 2025).
public enum GroupFilter: String, Codable, Sendable, CaseIterable {
    /// Every group.
    case none
    /// Only groups whose samples disagree on the final answer, some right and some wrong. A group whose samples are
    /// all right (or all wrong) has no answer signal: what spread its rewards have comes from the other reward terms
    /// and the KL penalty, and `scale_rewards: group` turns even a tiny spread into unit-size advantages.
    case answer
    /// Groups with at least one wrong sample: those that disagree on the answer, and those whose samples are all wrong.
    /// With `teacher_advantage_coefficient` > 0 an all-wrong group still carries the teacher's per-token signal on its
    /// samples (its group-relative advantage is 0: no sample beat another on the answer); groups that are all right
    /// have nothing to correct.
    case wrong

    /// Whether a group whose samples have these answer verdicts is trained on.
    public func keeps(correct: [Bool]) -> Bool {
        switch self {
        case .none: return true
        case .answer: return correct.contains(true) && correct.contains(false)
        case .wrong: return correct.contains(false)
        }
    }
}

/// What GRPO puts in a group whose samples are all wrong (off-policy guidance, after LUFFY, Yan et al. 2025).
public enum Guidance: String, Codable, Sendable, CaseIterable {
    /// Nothing: the group has no answer signal (and `filter_groups: answer` drops it).
    case none
    /// The group's last sample is replaced by the problem's verified trace (the teacher's, else the reference), judged
    /// and rewarded like a sample: the group then disagrees on the answer, and its one right row shows the student a
    /// way to a problem none of its own samples solved. Reinforcing the student's own samples cannot reach those.
    case teacherTrace = "teacher_trace"
    /// As `teacherTrace`; a group whose problem has no such trace gets the teacher's greedy completion, decoded then,
    /// when the judge finds it right (needs a teacher). A stored trace covers only the questions the teacher-traces
    /// stage sampled and solved.
    case teacher
}

/// Which sampled rows get the teacher's per-token advantage (`teacher_advantage_rows`).
public enum TeacherAdvantageRows: String, Codable, Sendable, CaseIterable {
    /// Only rows whose final answer the verifier rejects: a completion found right is left to the verified reward, so a
    /// teacher weaker than its student never pulls a right completion toward its own habits, while on a wrong one the
    /// teacher points at the tokens it would not have written.
    case wrong
    /// Every row (on-policy distillation's advantage, added to GRPO's).
    case all
}

/// Every setting of one PPO run on the student; every default is here.
///
/// JSON/YAML keys are the snake_case names shown on each field (`clip_epsilon`, ...); omitted keys keep their
/// defaults and unknown keys are an error (see `PPOConfig+Codable.swift`). `validate()` checks each field and
/// the combinations, and names the field to change.
public struct PPOConfig: Sendable, Equatable {
    /// `learning_rate`: AdamW learning rate of the policy.
    public var learningRate: Float = 1e-5
    /// `value_learning_rate`: AdamW learning rate of the value head; nil uses `learningRate`.
    public var valueLearningRate: Float? = nil
    /// `weight_decay`: AdamW decoupled weight decay for both optimizers (0: RL fine-tuning should not pull
    /// the student toward zero; the KL penalty already anchors it).
    public var weightDecay: Float = 0
    /// `clip_epsilon`: the PPO ratio clip, ratio kept in [1 - eps, 1 + eps] (Schulman et al. 2017).
    public var clipEpsilon: Float = 0.2
    /// `dual_clip`: nil, or c > 1: for negative advantages the loss is also capped at -c * A (Ye et al. 2020).
    public var dualClip: Float? = nil
    /// `value_clip`: nil, or the range around the old value within which the new value is clipped (PPO2 style).
    public var valueClip: Float? = 0.2
    /// `value_coefficient`: weight of the value loss 0.5 * mean(max(unclipped, clipped squared error)).
    public var valueCoefficient: Float = 0.5
    /// `entropy_coefficient`: weight of the entropy bonus (subtracted from the loss).
    public var entropyCoefficient: Float = 0.01
    /// `gamma`: discount of GAE (1: every token of a completion counts the same).
    public var gamma: Float = 1
    /// `lambda`: GAE's lambda (bias/variance trade-off).
    public var lambda: Float = 0.95
    /// `epochs`: passes over each rollout.
    public var epochs: Int = 2
    /// `minibatches`: minibatches per epoch (the rollout's sequences are shuffled and split evenly).
    public var minibatches: Int = 4
    /// `approx_kl_limit`: nil, or the approximate KL(old || new) (mean of k3 on the ratio) above which the
    /// epoch loop stops before the minibatch's update (as Stable-Baselines3's target_kl).
    public var approxKLLimit: Double? = 0.05
    /// `kl_estimator`: per-token KL estimator of the reward penalty (k1 or k3).
    public var klEstimator: KLEstimator = .k1
    /// `kl_coefficient`: the KL penalty's coefficient (the starting value when adaptive).
    public var klCoefficient: Double = 0.05
    /// `kl_target`: nil for a fixed coefficient, or the per-sequence KL the adaptive controller steers toward
    /// (Ziegler et al. 2019).
    public var klTarget: Double? = 6
    /// `kl_horizon`: samples over which the adaptive controller closes its error.
    public var klHorizon: Int = 10_000
    /// `advantage`: `gae` or `grpo`.
    public var advantage: AdvantageEstimator = .gae
    /// `group_size`: completions sampled per prompt (GRPO needs >= 2; GAE usually 1).
    public var groupSize: Int = 1
    /// `scale_rewards`: with GRPO, what divides a reward minus its group's mean: `group` (its group's std),
    /// `batch` (the std of the batch's rewards) or `none`.
    public var scaleRewards: RewardScaling = .group
    /// `whiten_advantages`: with GAE, normalise advantages to mean 0, std 1 over the rollout's tokens (GRPO's
    /// advantages are centred within each group and scaled by `scale_rewards` instead; this key does not change them).
    public var whitenAdvantages: Bool = true
    /// `max_grad_norm`: nil, or the global L2 norm (policy and value head together) gradients are clipped to.
    public var maxGradNorm: Float? = 1
    /// `teacher_log_ratio_coefficient`: weight of the dense on-policy distillation reward
    /// log p_teacher - log p_student per token (0: off; > 0 needs a teacher).
    public var teacherLogRatioCoefficient: Float = 0
    /// `teacher_advantage_coefficient`: with GRPO, c > 0 adds c (log p_teacher - log p_student) to each completion
    /// token's advantage on the rows `teacher_advantage_rows` picks: on-policy distillation's per-token advantage
    /// (discount 0, as verl's PG-OPD), where `teacher_log_ratio_coefficient` sums the log-ratio into the sequence's
    /// reward and so into one group-relative score per row. 0: off; > 0 needs a teacher.
    public var teacherAdvantageCoefficient: Float = 0
    /// `teacher_advantage_rows`: `wrong` (the default: rows whose answer is wrong) or `all`.
    public var teacherAdvantageRows: TeacherAdvantageRows = .wrong
    /// `step_rewards`: place each reasoning step's reward on the token that ends the step (true), or the
    /// whole trace reward on the last token (false).
    public var stepRewards: Bool = true
    /// `filter_groups`: with GRPO, `answer` trains only on groups whose samples disagree on the answer and samples
    /// more problems until `prompts_per_iteration` such groups are found or `max_sampling_rounds` rounds are done
    /// (DAPO's dynamic sampling); `wrong` likewise keeps groups with any wrong sample (for the teacher advantage);
    /// `none` trains on every group.
    public var filterGroups: GroupFilter = .none
    /// `max_sampling_rounds`: with `filter_groups` answer or wrong, the most rounds of `prompts_per_iteration` problems one
    /// iteration samples (DAPO's `max_num_gen_batches`).
    public var maxSamplingRounds: Int = 4
    /// `guidance`: with GRPO, `teacher_trace` replaces the last sample of each group whose samples are all wrong by
    /// the problem's verified trace, when it has one that fits in `max_new_tokens`; `teacher` also by the teacher's
    /// greedy completion when there is none and that one is right (`Guidance`); `none` leaves them.
    public var guidance: Guidance = .none
    /// `prompts_per_iteration`: problems the stage passes to each iteration (with `filter_groups`, each round).
    public var promptsPerIteration: Int = 16
    /// `max_new_tokens`: longest completion sampled.
    public var maxNewTokens: Int = 64
    /// `temperature`: the sampling temperature controller (entropy-targeting by default) or a schedule.
    public var temperature: TemperatureControl = .defaultEntropyTarget

    /// The defaults.
    public init() {}

    /// Every field, each with its default (a memberwise init for code that maps its own config keys).
    public init(learningRate: Float = 1e-5, valueLearningRate: Float? = nil, weightDecay: Float = 0,
                clipEpsilon: Float = 0.2, dualClip: Float? = nil, valueClip: Float? = 0.2,
                valueCoefficient: Float = 0.5, entropyCoefficient: Float = 0.01, gamma: Float = 1,
                lambda: Float = 0.95, epochs: Int = 2, minibatches: Int = 4, approxKLLimit: Double? = 0.05,
                klEstimator: KLEstimator = .k1, klCoefficient: Double = 0.05, klTarget: Double? = 6,
                klHorizon: Int = 10_000, advantage: AdvantageEstimator = .gae, groupSize: Int = 1,
                scaleRewards: RewardScaling = .group,
                whitenAdvantages: Bool = true, maxGradNorm: Float? = 1, teacherLogRatioCoefficient: Float = 0,
                teacherAdvantageCoefficient: Float = 0, teacherAdvantageRows: TeacherAdvantageRows = .wrong,
                stepRewards: Bool = true, filterGroups: GroupFilter = .none, maxSamplingRounds: Int = 4,
                guidance: Guidance = .none, promptsPerIteration: Int = 16, maxNewTokens: Int = 64,
                temperature: TemperatureControl = .defaultEntropyTarget) {
        self.learningRate = learningRate
        self.valueLearningRate = valueLearningRate
        self.weightDecay = weightDecay
        self.clipEpsilon = clipEpsilon
        self.dualClip = dualClip
        self.valueClip = valueClip
        self.valueCoefficient = valueCoefficient
        self.entropyCoefficient = entropyCoefficient
        self.gamma = gamma
        self.lambda = lambda
        self.epochs = epochs
        self.minibatches = minibatches
        self.approxKLLimit = approxKLLimit
        self.klEstimator = klEstimator
        self.klCoefficient = klCoefficient
        self.klTarget = klTarget
        self.klHorizon = klHorizon
        self.advantage = advantage
        self.groupSize = groupSize
        self.scaleRewards = scaleRewards
        self.whitenAdvantages = whitenAdvantages
        self.maxGradNorm = maxGradNorm
        self.teacherLogRatioCoefficient = teacherLogRatioCoefficient
        self.teacherAdvantageCoefficient = teacherAdvantageCoefficient
        self.teacherAdvantageRows = teacherAdvantageRows
        self.stepRewards = stepRewards
        self.filterGroups = filterGroups
        self.maxSamplingRounds = maxSamplingRounds
        self.guidance = guidance
        self.promptsPerIteration = promptsPerIteration
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
    }

    /// Whether rollouts are scored by the teacher too (a teacher reward or advantage is on).
    public var scoresWithTeacher: Bool { teacherLogRatioCoefficient > 0 || teacherAdvantageCoefficient > 0 }

    /// Sequences per iteration: prompts x samples per prompt.
    public var sequencesPerIteration: Int { promptsPerIteration * groupSize }

    /// Checks every field and their combinations.
    /// - Throws: `PPOConfigError` naming the field (snake_case) and saying how to fix it.
    public func validate() throws {
        func check(_ ok: Bool, _ field: String, _ reason: @autoclosure () -> String) throws {
            if !ok { throw PPOConfigError(field: field, reason: reason()) }
        }
        try check(learningRate.isFinite && learningRate > 0, "learning_rate", "must be a positive number (e.g. 1e-5), got \(learningRate)")
        if let v = valueLearningRate {
            try check(v.isFinite && v > 0, "value_learning_rate", "must be a positive number or omitted (then learning_rate is used), got \(v)")
        }
        try check(weightDecay.isFinite && weightDecay >= 0, "weight_decay", "must be a number >= 0, got \(weightDecay)")
        try check(clipEpsilon.isFinite && clipEpsilon > 0 && clipEpsilon < 1, "clip_epsilon", "must be in (0, 1) (usually 0.1-0.3), got \(clipEpsilon)")
        if let c = dualClip {
            try check(c.isFinite && c > 1, "dual_clip", "must be a number > 1 (Ye et al. use 3) or omitted to turn it off, got \(c)")
        }
        if let c = valueClip {
            try check(c.isFinite && c > 0, "value_clip", "must be a positive number or omitted to turn value clipping off, got \(c)")
        }
        try check(valueCoefficient.isFinite && valueCoefficient >= 0, "value_coefficient", "must be a number >= 0, got \(valueCoefficient)")
        try check(entropyCoefficient.isFinite && entropyCoefficient >= 0, "entropy_coefficient", "must be a number >= 0, got \(entropyCoefficient)")
        try check(gamma.isFinite && gamma > 0 && gamma <= 1, "gamma", "must be in (0, 1], got \(gamma)")
        try check(lambda.isFinite && lambda >= 0 && lambda <= 1, "lambda", "must be in [0, 1], got \(lambda)")
        try check(epochs >= 1, "epochs", "must be at least 1, got \(epochs)")
        try check(minibatches >= 1, "minibatches", "must be at least 1, got \(minibatches)")
        if let l = approxKLLimit {
            try check(l.isFinite && l > 0, "approx_kl_limit", "must be a positive number or omitted to never stop early, got \(l)")
        }
        try check(klCoefficient.isFinite && klCoefficient >= 0, "kl_coefficient", "must be a number >= 0, got \(klCoefficient)")
        if let t = klTarget {
            try check(t.isFinite && t > 0, "kl_target", "must be a positive KL (nats per sequence) or omitted for a fixed coefficient, got \(t)")
            try check(klCoefficient > 0, "kl_coefficient", "must be > 0 when kl_target is set (the adaptive rule multiplies it), got 0")
        }
        try check(klHorizon >= 1, "kl_horizon", "must be at least 1 sample, got \(klHorizon)")
        try check(groupSize >= 1, "group_size", "must be at least 1, got \(groupSize)")
        if advantage == .grpo {
            try check(groupSize >= 2, "group_size", "must be at least 2 with advantage grpo (it compares samples of the same prompt; 4-16 is usual), got \(groupSize)")
        }
        if let g = maxGradNorm {
            try check(g.isFinite && g > 0, "max_grad_norm", "must be a positive number or omitted to turn clipping off, got \(g)")
        }
        try check(teacherLogRatioCoefficient.isFinite && teacherLogRatioCoefficient >= 0, "teacher_log_ratio_coefficient",
                  "must be a number >= 0 (0 turns the teacher reward off), got \(teacherLogRatioCoefficient)")
        try check(teacherAdvantageCoefficient.isFinite && teacherAdvantageCoefficient >= 0, "teacher_advantage_coefficient",
                  "must be a number >= 0 (0 turns the teacher's per-token advantage off), got \(teacherAdvantageCoefficient)")
        if teacherAdvantageCoefficient > 0 {
            try check(advantage == .grpo, "teacher_advantage_coefficient",
                      "needs advantage grpo (with gae use teacher_log_ratio_coefficient, a per-token reward); set advantage: grpo or the coefficient to 0")
        }
        if filterGroups != .none {
            try check(advantage == .grpo, "filter_groups", "needs advantage grpo (it keeps groups of samples of one prompt); set advantage: grpo or filter_groups: none")
        }
        if guidance != .none {
            try check(advantage == .grpo, "guidance", "needs advantage grpo (it completes a group of samples of one prompt); set advantage: grpo or guidance: none")
        }
        try check(maxSamplingRounds >= 1, "max_sampling_rounds", "must be at least 1, got \(maxSamplingRounds)")
        try check(promptsPerIteration >= 1, "prompts_per_iteration", "must be at least 1, got \(promptsPerIteration)")
        try check(sequencesPerIteration >= minibatches, "minibatches",
                  "must not exceed prompts_per_iteration x group_size (\(sequencesPerIteration)) sequences per iteration, got \(minibatches); lower minibatches or raise prompts_per_iteration")
        try check(maxNewTokens >= 1, "max_new_tokens", "must be at least 1, got \(maxNewTokens)")
        try temperature.validate()
    }
}
