import Checkpoint
import Eval

/// A stage kind's parsed settings. `check` sees the whole curriculum, for rules that span stages
/// (for example: distilling from teacher traces needs a `teacher-traces` stage before).
public protocol StageConfiguration {
    /// Throws a `CurriculumError` when this stage cannot run at `index` of `curriculum`.
    func check(in curriculum: Curriculum, index: Int) throws
    /// Every key of the stage as it runs at `index` of `curriculum`, defaults filled in, as YAML lines (`key: value`,
    /// nested keys indented by two spaces; `#` comments for what has no key) that this kind's parser reads back
    /// to the same settings. The `kind` line is not included.
    func resolvedLines(in curriculum: Curriculum, index: Int) -> [String]
    /// True when the stage leaves verified teacher traces for later stages (`RunContext.teacherTraces()`), so their
    /// `data` defaults to them.
    var producesTeacherTraces: Bool { get }
    /// The steps this stage trains the student on the teacher's outputs over traces (output-distill, feature-align):
    /// what `baseline-ce` matches by default. 0 for a stage that does not.
    var distillationSteps: Int { get }
}

extension StageConfiguration {
    public func check(in curriculum: Curriculum, index: Int) throws {}
    /// A stage kind that does not say: a comment, so the printed configuration still reads back.
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        ["# (this stage kind does not print its resolved settings)"]
    }
    public var producesTeacherTraces: Bool { false }
    public var distillationSteps: Int { 0 }
}

extension Curriculum {
    /// True when a stage before `index` produces teacher traces.
    public func hasTeacherTraces(before index: Int) -> Bool {
        stages.prefix(index).contains { $0.configuration.producesTeacherTraces }
    }
}

/// What a stage saves in a checkpoint besides the models and optimizers it registered with the context:
/// units done, where its data cursor stands and the state of its controllers (early stopping, search, ...).
public struct StageProgress: Equatable, Sendable {
    public var step: Int
    public var data: DataPosition
    public var controllers: [String: [String: Double]]

    public init(step: Int = 0, data: DataPosition = DataPosition(), controllers: [String: [String: Double]] = [:]) {
        self.step = step
        self.data = data
        self.controllers = controllers
    }
}

/// The outcome of a validation pass.
public struct StageEvaluation: Sendable {
    /// Validation metrics (names start with `validation/`).
    public var metrics: [String: Double]
    /// The value early stopping and best-checkpoint retention watch (lower is better), if any.
    public var validationLoss: Double?
    /// True when early stopping says to end the stage.
    public var stop: Bool

    public init(metrics: [String: Double], validationLoss: Double? = nil, stop: Bool = false) {
        self.metrics = metrics
        self.validationLoss = validationLoss
        self.stop = stop
    }
}

/// One stage of a curriculum: built from its settings and the run context, it advances one unit of work per
/// call and reports metrics as values; it prints nothing and knows nothing of the runner.
///
/// The runner drives the stage's state machine (see `transition`), checkpoints the context (models,
/// optimizers, generator) together with `progress()`, and on resume builds the stage anew, loads the context
/// and calls `restore(_:)` before the next `advance`.
public protocol Stage: AnyObject {
    /// Units of work in the stage's budget.
    var totalSteps: Int { get }
    /// Units done so far.
    var step: Int { get }
    /// Does one unit of work (a training step, a batch of sampled questions, a search trial).
    func advance(_ context: RunContext) throws -> [String: Double]
    /// True when a validation pass is due after the unit just done.
    var isEvaluationDue: Bool { get }
    /// Runs validation; may ask to stop early.
    func evaluate(_ context: RunContext) throws -> StageEvaluation
    /// Everything of the stage's own progress that a checkpoint must hold.
    func progress() -> StageProgress
    /// Puts back progress read from a checkpoint.
    func restore(_ progress: StageProgress, context: RunContext) throws
    /// Called once when the stage completes (restore best weights, publish what later stages use).
    func finish(_ context: RunContext) throws
}

/// A registered stage kind: how to read its settings and how to build it.
public struct StageKind {
    /// The name curricula use in `kind:`.
    public let name: String
    /// Reads and validates the stage's keys (the `kind` key itself is read by the curriculum).
    public let parse: (ConfigNode) throws -> any StageConfiguration
    /// Builds the stage for the stage at `index`; it registers its models and optimizers with the context.
    public let make: (any StageConfiguration, RunContext, Int) throws -> any Stage
    /// What the stage's end-of-stage file adds to `distill report`: a teacher, a student or a baseline row, or none.
    public let reportRow: StageReportRow
    /// True when the stage trains the student (its report row is the student after it).
    public var trainsStudent: Bool { reportRow == .student }

    /// A kind whose settings type is `C`; `reportRow` says what `distill report` shows for it (by default the student
    /// after it).
    public init<C: StageConfiguration>(name: String, reportRow: StageReportRow = .student, parse: @escaping (ConfigNode) throws -> C,
                                       make: @escaping (C, RunContext, Int) throws -> any Stage) {
        self.name = name
        self.reportRow = reportRow
        self.parse = { try parse($0) }
        self.make = { configuration, context, index in
            guard let c = configuration as? C else {
                preconditionFailure("stage kind \(name) was given settings of type \(type(of: configuration))")
            }
            return try make(c, context, index)
        }
    }
}

/// Stage kinds by name. The runner looks kinds up here and knows nothing else about them: a new kind is one
/// `register` call.
public struct StageRegistry {
    private var kinds: [String: StageKind] = [:]

    public init(_ kinds: [StageKind] = []) {
        for k in kinds { register(k) }
    }

    /// Adds (or replaces) a kind.
    public mutating func register(_ kind: StageKind) { kinds[kind.name] = kind }

    /// The kind called `name`.
    public subscript(name: String) -> StageKind? { kinds[name] }

    /// Every registered name, sorted.
    public var names: [String] { kinds.keys.sorted() }

    /// The report row of the kind called `name`; nil for a kind not registered here.
    public func reportRow(ofKind name: String) -> StageReportRow? { kinds[name]?.reportRow }

    /// The built-in kinds.
    public static var standard: StageRegistry {
        StageRegistry([TeacherSFTStage.kind, TeacherTracesStage.kind, OutputDistillStage.kind, FeatureAlignStage.featureKind,
                       TemperatureSearchStage.kind, BaselineCEStage.kind, PPOTraceStage.kind, PruneStage.kind,
                       OnPolicyDistillStage.kind, TeacherLogitsStage.kind])
    }
}
