import Tensor

/// The optimisation settings every training stage shares (keys at the top level of the stage).
public struct TrainingSettings: Sendable, Equatable {
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

    public init(steps: Int) { self.steps = steps }

    /// Reads the shared keys of a training stage, with `defaults` for what the file leaves out.
    public init(_ node: ConfigNode, defaults: TrainingSettings) throws {
        self = defaults
        // 0 steps would hand an untrained model to every later stage (and exit 0): no stage takes 0 on purpose.
        // A stage to skip is left out; a teacher trained elsewhere is `teacher: {checkpoint: FILE}`.
        steps = try node.int("steps", steps, min: 0)
        if steps == 0 {
            throw try node.child("steps").error("is 0: a stage of 0 steps leaves its model untrained; give at least 1, or remove the stage "
                                                + "to skip it (a teacher trained elsewhere is `teacher: {checkpoint: FILE}`)")
        }
        batchSize = try node.int("batch_size", batchSize, min: 1)
        learningRate = try node.float("learning_rate", learningRate, range: 1e-9...10)
        warmupSteps = try node.int("warmup_steps", warmupSteps, min: 0)
        minLearningRate = try node.float("min_learning_rate", minLearningRate, range: 0...10)
        weightDecay = try node.float("weight_decay", weightDecay, range: 0...1)
        gradientClip = try node.float("gradient_clip", gradientClip, range: 1e-6...1e6)
        labelSmoothing = try node.float("label_smoothing", labelSmoothing, range: 0...0.999)
        dropout = try node.optionalDouble("dropout", range: 0...0.9).map(Float.init) ?? dropout
        evalEvery = try node.int("eval_every", evalEvery, min: 0)
        patience = try node.int("patience", patience, min: 0)
        restoreBest = try node.bool("restore_best", restoreBest)
        if minLearningRate > learningRate {
            throw try node.child("min_learning_rate").error("\(minLearningRate) is above learning_rate \(learningRate); lower it")
        }
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
