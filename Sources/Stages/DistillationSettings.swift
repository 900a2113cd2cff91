import Model
import PPO
import Tensor

/// How the distillation temperature moves through a stage: a schedule over epochs or steps.
///
///     temperature: 2.0                                   # constant
///     temperature: {schedule: step, base: 2.0}           # 3.0 before epoch 5, 2.0 before 15, 1.6 after
///     temperature: {schedule: linear_decay, start: 5, decrement: 0.5, interval: 10, floor: 1, unit: step}
///
/// When the base (or start) is left out and an earlier `temperature-search` stage chose a temperature, the
/// chosen one is used; otherwise 2.0.
public struct TemperatureSetting: Sendable, Equatable {
    public enum Kind: String, Sendable { case constant, step, linearDecay = "linear_decay" }
    public enum Unit: String, Sendable { case epoch, step }
    public var kind = Kind.constant
    /// The base (constant, step) or start (linear decay); nil: the searched temperature, else 2.0.
    public var base: Float?
    public var earlyFactor = TemperatureSchedule.stepDefaults.earlyFactor
    public var earlyUntil = TemperatureSchedule.stepDefaults.earlyUntil
    public var lateFactor = TemperatureSchedule.stepDefaults.lateFactor
    public var lateFrom = TemperatureSchedule.stepDefaults.lateFrom
    public var decrement = TemperatureSchedule.linearDecayDefaults.decrement
    public var interval = TemperatureSchedule.linearDecayDefaults.interval
    public var floor = TemperatureSchedule.linearDecayDefaults.floor
    /// What the schedule counts: epochs of the stage's data, or optimizer steps.
    public var unit = Unit.epoch

    public static let defaultBase: Float = 2

    public init() {}

    init(_ parent: ConfigNode, key: String) throws {
        let node = try parent.child(key)
        guard node.isPresent else { return }
        if node.isScalar {
            base = try parent.float(key, 2, range: 1e-3...100)
            return
        }
        try node.requireMapping()
        let name = try node.choice("schedule", kind.rawValue, ["constant", "step", "linear_decay"])
        kind = Kind(rawValue: name)!
        base = try node.optionalDouble(kind == .linearDecay ? "start" : "base", range: 1e-3...100).map(Float.init)
        if kind == .step {
            earlyFactor = try node.float("early_factor", earlyFactor, range: 1e-3...100)
            earlyUntil = try node.int("early_until", earlyUntil, min: 0)
            lateFactor = try node.float("late_factor", lateFactor, range: 1e-3...100)
            lateFrom = try node.int("late_from", lateFrom, min: 0)
        }
        if kind == .linearDecay {
            decrement = try node.float("decrement", decrement, range: 0...100)
            interval = try node.int("interval", interval, min: 1)
            floor = try node.float("floor", floor, range: 1e-3...100)
        }
        unit = Unit(rawValue: try node.choice("unit", unit.rawValue, ["epoch", "step"]))!
        try node.finish()
        do { try schedule(searched: nil).validate() } catch let e as TemperatureScheduleError { throw node.error(e.message) }
    }

    /// The schedule, with `searched` filling a missing base.
    public func schedule(searched: Float?) -> TemperatureSchedule {
        let b = base ?? searched ?? Self.defaultBase
        switch kind {
        case .constant: return .constant(temperature: b)
        case .step: return .step(base: b, earlyFactor: earlyFactor, earlyUntil: earlyUntil, lateFactor: lateFactor, lateFrom: lateFrom)
        case .linearDecay: return .linearDecay(start: b, decrement: decrement, interval: interval, floor: min(floor, b))
        }
    }
}

/// Which traces a distillation stage trains on.
public enum DistillationData: String, Sendable {
    /// The verified traces of an earlier `teacher-traces` stage.
    case teacherTraces = "teacher_traces"
    /// The reference traces of the curriculum's data (the first `data.reference_traces` rows).
    case reference
    /// Both, concatenated.
    case both

    /// The tokenized traces this choice names. `both` is the references alone when the teacher kept none;
    /// `teacher_traces` with none kept is a `StageError.noData` with advice.
    func examples(_ context: RunContext, index: Int) throws -> [TokenizedTrace] {
        let kept = try context.teacherTraces().map { try TokenizedTrace($0, codec: context.codec) }
        switch self {
        case .reference: return context.data.referenceTokens
        case .both: return kept + context.data.referenceTokens
        case .teacherTraces:
            guard !kept.isEmpty else {
                throw StageError.noData(stage: index, reason: "the teacher-traces stage kept no verified trace; train the teacher longer (teacher-sft steps), sample more (samples), or use data: both / reference")
            }
            return kept
        }
    }

    /// `data` as written, or the default: teacher traces when a `teacher-traces` stage comes before `index`.
    static func resolve(_ data: DistillationData?, in curriculum: Curriculum, index: Int) -> DistillationData {
        if let data { return data }
        return curriculum.hasTeacherTraces(before: index) ? .teacherTraces : .reference
    }
}

/// Settings of `output-distill` (and the output part of `feature-align`):
/// loss = alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE (Hinton et al. 2015).
public struct OutputDistillConfiguration: StageConfiguration {
    public var training: TrainingSettings
    /// Alpha moves linearly from `alphaStart` at the first step to `alphaEnd` at the last.
    public var alphaStart: Float = 0.9
    public var alphaEnd: Float = 0.5
    public var temperature = TemperatureSetting()
    public var divergence = Divergence.forwardKL
    /// nil: teacher traces when a `teacher-traces` stage comes earlier, else the reference traces.
    public var data: DistillationData?
    /// The teacher's side of the divergence: its full logits, run every step, or the top-k cache of an earlier
    /// `teacher-logits` stage (`DistillationTargets`).
    public var targets = DistillationTargets.full

    public init(_ node: ConfigNode, defaultSteps: Int = 300, trainingDefaults: TrainingSettings? = nil) throws {
        training = try TrainingSettings(node, defaults: trainingDefaults ?? TrainingSettings(steps: defaultSteps))
        let alpha = try node.child("alpha")
        if alpha.isScalar {
            alphaStart = try node.float("alpha", alphaStart, range: 0...1)
            alphaEnd = alphaStart
        } else {
            try alpha.requireMapping()
            alphaStart = try alpha.float("start", alphaStart, range: 0...1)
            alphaEnd = try alpha.float("end", alphaEnd, range: 0...1)
            try alpha.finish()
        }
        temperature = try TemperatureSetting(node, key: "temperature")
        let div = try node.choice("divergence", "forward_kl", ["forward_kl", "reverse_kl", "jsd"])
        let beta = try node.optionalDouble("jsd_beta", range: 0...1)
        switch div {
        case "reverse_kl": divergence = .reverseKL
        case "jsd": divergence = .jsd(beta: Float(beta ?? 0.5))
        default: divergence = .forwardKL
        }
        if beta != nil && div != "jsd" { throw try node.child("jsd_beta").error("only used with divergence: jsd; remove it or set divergence: jsd") }
        data = try node.optionalString("data").map { raw in
            guard let d = DistillationData(rawValue: raw) else {
                throw try node.child("data").error("'\(raw)' is not one of: teacher_traces, reference, both")
            }
            return d
        }
        targets = DistillationTargets(rawValue: try node.choice("targets", targets.rawValue, ["full", "topk"]))!
    }

    public func check(in curriculum: Curriculum, index: Int) throws {
        try checkTargets(in: curriculum, index: index)
        let tracesBefore = curriculum.hasTeacherTraces(before: index)
        if let data, data != .reference, !tracesBefore {
            throw CurriculumError(file: curriculum.file, keyPath: "stages[\(index)].data", line: nil,
                                  message: "data: \(data.rawValue) needs a teacher-traces stage earlier in the curriculum; add one or use data: reference")
        }
    }

    /// The data this stage reads in `curriculum` at `index`.
    func resolvedData(in curriculum: Curriculum, index: Int) -> DistillationData {
        DistillationData.resolve(data, in: curriculum, index: index)
    }

    /// Alpha at 0-based `step` of `total`.
    func alpha(at step: Int, of total: Int) -> Float {
        guard total > 1 else { return alphaStart }
        return alphaStart + (alphaEnd - alphaStart) * Float(step) / Float(total - 1)
    }
}
