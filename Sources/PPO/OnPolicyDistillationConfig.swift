/// Every setting of on-policy distillation (`OnPolicyDistiller`); every default is here. The curriculum's
/// `on-policy-distill` stage reads the same names in snake_case and checks each with its file and line.
public struct OnPolicyDistillationConfig: Sendable, Equatable {
    /// `objective`: `gkd` or `reverse_kl_pg`.
    public var objective: OnPolicyObjective = .gkd
    /// `beta` (gkd only): the generalised JSD's weight, 0 = forward KL(teacher || student), 1 = reverse
    /// KL(student || teacher) (TRL's GKDConfig default 0.5).
    public var beta: Float = 0.5
    /// `lambda` (gkd only): the probability that an iteration trains on the student's own samples; otherwise
    /// it trains on a batch of teacher traces (TRL's `lmbda`, default 0.5). 1 is purely on-policy.
    public var lambda: Double = 0.5
    /// `learning_rate`: AdamW learning rate of the student.
    public var learningRate: Float = 1e-5
    /// `weight_decay`: AdamW decoupled weight decay (0 by default, as in the PPO stage).
    public var weightDecay: Float = 0
    /// `max_grad_norm`: nil, or the global L2 norm the student's gradient is clipped to.
    public var maxGradNorm: Float? = 1
    /// `prompts_per_iteration`: questions per iteration (and teacher traces per off-policy batch).
    public var promptsPerIteration: Int = 16
    /// `samples_per_prompt`: completions the student samples per question.
    public var samplesPerPrompt: Int = 1
    /// `max_new_tokens`: longest completion sampled.
    public var maxNewTokens: Int = 64
    /// `temperature`: the sampling temperature, constant 1 by default (the student's own distribution); any
    /// form the PPO stage takes, the entropy-targeting controller included. The losses are always taken at 1.
    public var temperature: TemperatureControl = .schedule(.constant(temperature: 1))
    /// `reward_weight`: weight of the trace reward (answer, verified steps, ...) added to the policy-gradient
    /// advantage; 0 turns it off. With `gkd` it enters as a separate policy-gradient term beside the JSD.
    public var rewardWeight: Float = 0
    /// `reward_discount`: discount of the trace reward's reward-to-go (0: each reward only on the token it is
    /// placed on; 1: on every token before it too).
    public var rewardDiscount: Float = 1
    /// `step_rewards`: place each step's reward on the token that ends the step (true) or the whole trace
    /// reward on the last token (false).
    public var stepRewards: Bool = true

    /// The defaults.
    public init() {}

    /// Every field, each with its default.
    public init(objective: OnPolicyObjective = .gkd, beta: Float = 0.5, lambda: Double = 0.5, learningRate: Float = 1e-5,
                weightDecay: Float = 0, maxGradNorm: Float? = 1, promptsPerIteration: Int = 16, samplesPerPrompt: Int = 1,
                maxNewTokens: Int = 64, temperature: TemperatureControl = .schedule(.constant(temperature: 1)),
                rewardWeight: Float = 0, rewardDiscount: Float = 1, stepRewards: Bool = true) {
        self.objective = objective
        self.beta = beta
        self.lambda = lambda
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.maxGradNorm = maxGradNorm
        self.promptsPerIteration = promptsPerIteration
        self.samplesPerPrompt = samplesPerPrompt
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.rewardWeight = rewardWeight
        self.rewardDiscount = rewardDiscount
        self.stepRewards = stepRewards
    }

    /// Checks every field and their combinations.
    /// - Throws: `PPOConfigError` naming the field (snake_case) and how to fix it.
    public func validate() throws {
        func check(_ ok: Bool, _ field: String, _ reason: @autoclosure () -> String) throws {
            if !ok { throw PPOConfigError(field: field, reason: reason()) }
        }
        try check(beta.isFinite && beta >= 0 && beta <= 1, "beta", "must be in [0, 1] (0 forward KL, 1 reverse KL), got \(beta)")
        try check(lambda.isFinite && lambda >= 0 && lambda <= 1, "lambda", "must be in [0, 1] (1: every batch on-policy), got \(lambda)")
        try check(learningRate.isFinite && learningRate > 0, "learning_rate", "must be a positive number (e.g. 1e-5), got \(learningRate)")
        try check(weightDecay.isFinite && weightDecay >= 0, "weight_decay", "must be a number >= 0, got \(weightDecay)")
        if let g = maxGradNorm {
            try check(g.isFinite && g > 0, "max_grad_norm", "must be a positive number or null to turn clipping off, got \(g)")
        }
        try check(promptsPerIteration >= 1, "prompts_per_iteration", "must be at least 1, got \(promptsPerIteration)")
        try check(samplesPerPrompt >= 1, "samples_per_prompt", "must be at least 1, got \(samplesPerPrompt)")
        try check(maxNewTokens >= 1, "max_new_tokens", "must be at least 1, got \(maxNewTokens)")
        try check(rewardWeight.isFinite && rewardWeight >= 0, "reward_weight", "must be a number >= 0 (0 turns the trace reward off), got \(rewardWeight)")
        try check(rewardDiscount.isFinite && rewardDiscount >= 0 && rewardDiscount <= 1, "reward_discount", "must be in [0, 1], got \(rewardDiscount)")
        try temperature.validate()
    }
}
