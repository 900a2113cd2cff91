import StrictConfig
import Tensor

/// The optimisation settings every training stage shares (keys at the top level of the stage).
public struct TrainingSettings: Sendable, Equatable, Codable {
    /// Optimizer steps in the stage's budget.
    public var steps: Int
    /// Traces per step.
    public var batchSize = 16
    /// Peak learning rate (after warmup).
    public var learningRate: Float = 2e-3
    /// Linear warmup steps.
    public var warmupSteps = 20
    /// Cosine annealing floor.
    public var minLearningRate: Float = 3e-5
    /// AdamW decoupled weight decay (on weights, not norms or biases).
    public var weightDecay: Float = 0.01
    /// Global gradient-norm clip.
    public var gradientClip: Float = 1.0
    /// Label smoothing of the cross-entropy term.
    public var labelSmoothing: Float = 0
    /// Dropout on hidden states while training; the model's own setting when absent.
    public var dropout: Float?
    /// Validate every this many steps (0: only after the last step).
    public var evalEvery = 50
    /// Stop after this many validations without improvement (0: never stop early).
    public var patience = 0
    /// At the end, put back the weights of the best validation (when there was a validation).
    public var restoreBest = true

    /// Every field, each with its default.
    public init(steps: Int, batchSize: Int = 16, learningRate: Float = 2e-3, warmupSteps: Int = 20, minLearningRate: Float = 3e-5,
                weightDecay: Float = 0.01, gradientClip: Float = 1.0, labelSmoothing: Float = 0, dropout: Float? = nil,
                evalEvery: Int = 50, patience: Int = 0, restoreBest: Bool = true) {
        self.steps = steps
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.warmupSteps = warmupSteps
        self.minLearningRate = minLearningRate
        self.weightDecay = weightDecay
        self.gradientClip = gradientClip
        self.labelSmoothing = labelSmoothing
        self.dropout = dropout
        self.evalEvery = evalEvery
        self.patience = patience
        self.restoreBest = restoreBest
    }

    /// Reads the shared keys of a training stage, with `defaults` for what the file leaves out.
    public init(_ node: ConfigNode, defaults: TrainingSettings) throws {
        self = try node.decode(TrainingSettings.self, keys: CodingKeys.allCases.map(\.rawValue), userInfo: [Self.defaultsKey: defaults])
    }
    /// Cosine annealing with linear warmup over the stage's steps.
    public var schedule: LearningRateSchedule {
        .cosine(rate: learningRate, warmupSteps: min(warmupSteps, max(steps, 1)), totalSteps: max(steps, 1), floor: minLearningRate)
    }

    /// True when a validation pass follows step `done` (1-based count of steps done).
    public func evaluationDue(after done: Int) -> Bool {
        done == steps || (evalEvery > 0 && done % evalEvery == 0)
    }
}

extension TrainingSettings {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case steps, batchSize = "batch_size", learningRate = "learning_rate", warmupSteps = "warmup_steps"
        case minLearningRate = "min_learning_rate", weightDecay = "weight_decay", gradientClip = "gradient_clip"
        case labelSmoothing = "label_smoothing", dropout, evalEvery = "eval_every", patience, restoreBest = "restore_best"
    }

    /// `userInfo` key of the stage kind's defaults (a `TrainingSettings`); without it, 300 steps and the struct's defaults.
    public static let defaultsKey = CodingUserInfoKey(rawValue: "tracedistill.training-defaults")!

    /// The keys a stage's training settings take (at the stage's own level).
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// Reads the training keys at a stage's own level, with the defaults in `userInfo[defaultsKey]`.
    public init(from decoder: Decoder) throws {
        try self.init(from: decoder, defaults: decoder.userInfo[Self.defaultsKey] as? TrainingSettings ?? TrainingSettings(steps: 300))
    }

    /// Reads the training keys at a stage's own level over `defaults`, strictly (the stage checks for keys of neither).
    public init(from decoder: Decoder, defaults: TrainingSettings) throws {
        self = defaults
        let c = try StrictContainer(decoder, known: nil)
        // 0 steps would hand an untrained model to every later stage (and exit 0): no stage takes 0 on purpose.
        // A stage to skip is left out; a teacher trained elsewhere is `teacher: {checkpoint: FILE}`.
        steps = try c.int("steps", min: 0) ?? steps
        if steps == 0 {
            throw c.issue("steps", "is 0: a stage of 0 steps leaves its model untrained; give at least 1, or remove the stage "
                          + "to skip it (a teacher trained elsewhere is `teacher: {checkpoint: FILE}`)")
        }
        batchSize = try c.int("batch_size", min: 1) ?? batchSize
        learningRate = try c.float("learning_rate", range: 1e-9...10) ?? learningRate
        warmupSteps = try c.int("warmup_steps", min: 0) ?? warmupSteps
        minLearningRate = try c.float("min_learning_rate", range: 0...10) ?? minLearningRate
        weightDecay = try c.float("weight_decay", range: 0...1) ?? weightDecay
        gradientClip = try c.float("gradient_clip", range: 1e-6...1e6) ?? gradientClip
        labelSmoothing = try c.float("label_smoothing", range: 0...0.999) ?? labelSmoothing
        dropout = try c.float("dropout", range: 0...0.9) ?? dropout
        evalEvery = try c.int("eval_every", min: 0) ?? evalEvery
        patience = try c.int("patience", min: 0) ?? patience
        restoreBest = try c.bool("restore_best") ?? restoreBest
        if minLearningRate > learningRate {
            throw c.issue("min_learning_rate", "\(minLearningRate) is above learning_rate \(learningRate); lower it")
        }
    }

    /// Writes every key (a dropout left to the model is left out).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(steps, forKey: .steps)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(warmupSteps, forKey: .warmupSteps)
        try c.encode(minLearningRate, forKey: .minLearningRate)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(gradientClip, forKey: .gradientClip)
        try c.encode(labelSmoothing, forKey: .labelSmoothing)
        try c.encodeIfPresent(dropout, forKey: .dropout)
        try c.encode(evalEvery, forKey: .evalEvery)
        try c.encode(patience, forKey: .patience)
        try c.encode(restoreBest, forKey: .restoreBest)
    }
}

/// Early stopping on a validation loss (lower is better) with patience; its state goes into checkpoints.
public struct EarlyStopping: Equatable, Sendable {
    public var best = Double.infinity
    public var bestStep = -1
    public var evaluationsWithoutImprovement = 0
    public let patience: Int

    public init(patience: Int) { self.patience = patience }

    /// Records a validation value; returns (improved, stop).
    public mutating func update(_ value: Double, step: Int) -> (improved: Bool, stop: Bool) {
        if value < best {
            best = value
            bestStep = step
            evaluationsWithoutImprovement = 0
            return (true, false)
        }
        evaluationsWithoutImprovement += 1
        return (false, patience > 0 && evaluationsWithoutImprovement >= patience)
    }

    /// Records a validation `score` (higher is better; nil when the validation has no such figure, and nothing
    /// changes) and, when it improved and `role` names a registered store, copies the run's student into it (the
    /// best student a stage hands on with `restore_best`). Returns whether patience ran out.
    mutating func record(score: Double?, step: Int, keepingBestIn role: String?, context: RunContext) -> Bool {
        guard let score else { return false }
        let (improved, stop) = update(-score, step: step)
        if improved, let role, let best = context.store(role: role) { best.copyValues(from: context.student.parameters) }
        return stop
    }

    /// The checkpoint form.
    public var state: [String: Double] {
        ["best": best, "best_step": Double(bestStep), "without_improvement": Double(evaluationsWithoutImprovement)]
    }

    /// Puts back `state`.
    public mutating func restore(_ state: [String: Double]?) {
        guard let state else { return }
        best = state["best"] ?? .infinity
        bestStep = Int(state["best_step"] ?? -1)
        evaluationsWithoutImprovement = Int(state["without_improvement"] ?? 0)
    }
}
