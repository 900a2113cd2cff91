import StrictConfig

/// The settings every validated sampling stage (`ppo-trace`, `on-policy-distill`) shares: the iteration budget,
/// how often and on how many questions it validates, early stopping and restore-best. Each stage embeds one, with
/// its own iteration default.
///
///       iterations: 30
///       eval_every: 10
///       validation_problems: 32
///       patience: 0            # validations without a better score before stopping (0: never)
///       restore_best: true     # end with the student of the best validation score (the start included)
public struct ValidatedLoopSettings: Sendable, Equatable, Encodable {
    /// Iterations in the budget.
    public var iterations: Int
    /// Validate (greedy, on validation questions) every this many iterations; also before the first and after the last.
    public var evalEvery = 10
    /// Validation questions scored each time.
    public var validationProblems = 32
    /// Stop after this many validations without a better validation score (0: never stop early).
    public var patience = 0
    /// At the end, put back the student of the best validation score, the stage's start included, so the stage
    /// never hands on a student worse on validation than it received.
    public var restoreBest = true

    /// Every field; only the iteration budget has no default (each stage has its own).
    public init(iterations: Int, evalEvery: Int = 10, validationProblems: Int = 32, patience: Int = 0, restoreBest: Bool = true) {
        self.iterations = iterations
        self.evalEvery = evalEvery
        self.validationProblems = validationProblems
        self.patience = patience
        self.restoreBest = restoreBest
    }

    /// The YAML keys, in the order they are written.
    public static let keys = ["iterations", "eval_every", "validation_problems", "patience", "restore_best"]

    /// Reads the keys `c` has over these values (the stage's defaults), strictly: ranges and types as issues at their key.
    public mutating func read(_ c: StrictContainer) throws {
        iterations = try c.int("iterations", min: 1) ?? iterations
        evalEvery = try c.int("eval_every", min: 0) ?? evalEvery
        validationProblems = try c.int("validation_problems", min: 1) ?? validationProblems
        patience = try c.int("patience", min: 0) ?? patience
        restoreBest = try c.bool("restore_best") ?? restoreBest
    }

    /// Writes the five keys into the encoder's mapping (the stage writes its own keys after them).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        try c.encode(iterations, forKey: ConfigKey("iterations"))
        try c.encode(evalEvery, forKey: ConfigKey("eval_every"))
        try c.encode(validationProblems, forKey: ConfigKey("validation_problems"))
        try c.encode(patience, forKey: ConfigKey("patience"))
        try c.encode(restoreBest, forKey: ConfigKey("restore_best"))
    }
}

/// The loop skeleton `ppo-trace` and `on-policy-distill` share: the start's validation before the first iteration,
/// the iteration count, validation every `eval_every` iterations with the start's figures beside it, early stopping
/// on the stage's score with the best student kept (`EarlyStopping.record(score:keepingBestIn:)`), its progress and
/// restore, and restore-best at the end. The stage supplies the iteration, the validation and the score.
struct ValidatedLoop {
    /// The role the best student is kept under.
    static let bestRole = "student_best"
    let settings: ValidatedLoopSettings
    /// A validation's score, higher is better (nil: none).
    let score: ([String: Double]) -> Double?
    /// Iterations done.
    private(set) var step = 0
    /// Validation values at the stage's start (before any update), for the before/after comparison.
    private(set) var start: [String: Double] = [:]
    /// Watches the score (as its negative: lower is better).
    private(set) var early: EarlyStopping

    /// Registers the copy of the student that restore-best keeps, when asked.
    init(_ settings: ValidatedLoopSettings, context: RunContext, score: @escaping ([String: Double]) -> Double?) {
        self.settings = settings
        self.score = score
        early = EarlyStopping(patience: settings.patience)
        if settings.restoreBest { context.registerCopy(of: context.student, role: Self.bestRole) }
    }

    var totalSteps: Int { settings.iterations }

    var isEvaluationDue: Bool { step == totalSteps || (settings.evalEvery > 0 && step % settings.evalEvery == 0) }

    /// Validates the student the stage starts from, once, before the first iteration (and records it, so a stage
    /// that never improves hands on what it received).
    mutating func validateStart(_ context: RunContext, _ validate: () throws -> [String: Double]) throws {
        guard step == 0 && start.isEmpty else { return }
        start = try validate()
        _ = record(start, context: context)
    }

    /// Counts an iteration; returns its values with the start's beside them as `start/NAME`.
    mutating func iterationDone(_ values: [String: Double]) -> [String: Double] {
        step += 1
        var v = values
        for (k, x) in start { v["start/" + k] = x }
        return v
    }

    /// A validation's row (`validationMetrics`, and the best score so far as `validation/BEST_NAME`) and whether
    /// patience ran out.
    mutating func evaluation(_ values: [String: Double], bestName: String, context: RunContext) -> StageEvaluation {
        var metrics = validationMetrics(values, start: start)
        let stop = record(values, context: context)
        metrics["validation/" + bestName] = -early.best
        return StageEvaluation(metrics: metrics, stop: stop)
    }

    /// Feeds a validation's score to early stopping and keeps the student when it is the best so far; returns
    /// whether patience ran out.
    private mutating func record(_ values: [String: Double], context: RunContext) -> Bool {
        early.record(score: score(values), step: step, keepingBestIn: settings.restoreBest ? Self.bestRole : nil, context: context)
    }

    /// The loop's controllers for the stage's progress: `start` and `early_stopping`.
    var controllers: [String: [String: Double]] { ["start": start, "early_stopping": early.state] }

    /// Restores the step and the controllers `controllers` saved.
    mutating func restore(_ progress: StageProgress) {
        step = progress.step
        start = progress.controllers["start"] ?? [:]
        early.restore(progress.controllers["early_stopping"])
    }

    /// Puts back the best student when restore-best holds one and drops the copy; returns the iteration and score of
    /// the student put back, nil when none was.
    func finish(_ context: RunContext) -> (step: Int, score: Double)? {
        defer { context.unregister(role: Self.bestRole) }
        guard settings.restoreBest, early.bestStep >= 0, let best = context.store(role: Self.bestRole) else { return nil }
        context.student.parameters.copyValues(from: best)
        return (early.bestStep, -early.best)
    }
}
