import Model
import PPO
import StrictConfig
import Tensor

/// How the distillation temperature moves through a stage: a schedule over epochs or steps.
///
///     temperature: 2.0                                   # constant
///     temperature: {schedule: step, base: 2.0}           # 3.0 before epoch 5, 2.0 before 15, 1.6 after
///     temperature: {schedule: linear_decay, start: 5, decrement: 0.5, interval: 10, floor: 1, unit: step}
///
/// When the base (or start) is left out and an earlier `temperature-search` stage chose a temperature, the
/// chosen one is used; otherwise 2.0.
public struct TemperatureSetting: Sendable, Equatable, Codable {
    public typealias Kind = TemperatureScheduleSettings.Kind
    public enum Unit: String, Sendable, CaseIterable { case epoch, step }
    /// The schedule's keys as PPO's sampling temperature reads them too; `floor` is always set here (a floor
    /// above the start is capped at the start).
    public var schedule = TemperatureScheduleSettings(floor: TemperatureSchedule.linearDecayDefaults.floor)
    /// What the schedule counts: epochs of the stage's data, or optimizer steps.
    public var unit = Unit.epoch

    /// The base when neither the file nor an earlier temperature-search gives one.
    public static let defaultBase: Float = 2

    public init() {}

    /// `schedule` (a missing floor is the default floor) counted in `unit`.
    public init(schedule: TemperatureScheduleSettings, unit: Unit = .epoch) {
        self.schedule = schedule
        self.schedule.floor = schedule.floor ?? TemperatureSchedule.linearDecayDefaults.floor
        self.unit = unit
    }

    /// Every field, each with its default.
    public init(kind: Kind = .constant, base: Float? = nil,
                earlyFactor: Float = TemperatureSchedule.stepDefaults.earlyFactor, earlyUntil: Int = TemperatureSchedule.stepDefaults.earlyUntil,
                lateFactor: Float = TemperatureSchedule.stepDefaults.lateFactor, lateFrom: Int = TemperatureSchedule.stepDefaults.lateFrom,
                decrement: Float = TemperatureSchedule.linearDecayDefaults.decrement, interval: Int = TemperatureSchedule.linearDecayDefaults.interval,
                floor: Float = TemperatureSchedule.linearDecayDefaults.floor, unit: Unit = .epoch) {
        self.init(schedule: TemperatureScheduleSettings(kind: kind, base: base, earlyFactor: earlyFactor, earlyUntil: earlyUntil, lateFactor: lateFactor,
                                                        lateFrom: lateFrom, decrement: decrement, interval: interval, floor: floor),
                  unit: unit)
    }

    init(_ parent: ConfigNode, key: String) throws {
        let node = try parent.child(key)
        guard node.isPresent else { return }
        self = try node.decode(TemperatureSetting.self)
    }

    public var kind: Kind {
        get { schedule.kind }
        set { schedule.kind = newValue }
    }
    /// The base (constant, step) or start (linear decay); nil: the searched temperature, else 2.0.
    public var base: Float? {
        get { schedule.base }
        set { schedule.base = newValue }
    }
    public var earlyFactor: Float {
        get { schedule.earlyFactor }
        set { schedule.earlyFactor = newValue }
    }
    public var earlyUntil: Int {
        get { schedule.earlyUntil }
        set { schedule.earlyUntil = newValue }
    }
    public var lateFactor: Float {
        get { schedule.lateFactor }
        set { schedule.lateFactor = newValue }
    }
    public var lateFrom: Int {
        get { schedule.lateFrom }
        set { schedule.lateFrom = newValue }
    }
    public var decrement: Float {
        get { schedule.decrement }
        set { schedule.decrement = newValue }
    }
    public var interval: Int {
        get { schedule.interval }
        set { schedule.interval = newValue }
    }
    public var floor: Float {
        get { schedule.floor ?? TemperatureSchedule.linearDecayDefaults.floor }
        set { schedule.floor = newValue }
    }

    /// The schedule, with `searched` filling a missing base; the floor is capped at the start.
    public func schedule(searched: Float?) -> TemperatureSchedule {
        let b = base ?? searched ?? Self.defaultBase
        var s: TemperatureScheduleSettings = self.schedule
        s.floor = min(floor, b)
        return s.schedule(base: b)
    }
}

extension TemperatureSetting {
    /// Reads a number (a constant temperature) or a schedule mapping with `unit`, through the shared schedule reader.
    public init(from decoder: Decoder) throws {
        self.init()
        guard let c = try? StrictContainer(decoder, known: nil) else {
            // a single value: the constant's base
            if (try? decoder.unkeyedContainer()) != nil {
                throw ConfigIssue(path: decoder.codingPath, .wrongType(expected: "a mapping of keys to values", found: nil))
            }
            let single = try decoder.singleValueContainer()
            let text = try? single.decode(String.self)
            guard let v = (try? single.decode(Double.self)) ?? text.flatMap(Double.init), v.isFinite else {
                throw ConfigIssue(path: decoder.codingPath, .wrongType(expected: "a number", found: text.map { "'\($0)'" }))
            }
            let range: ClosedRange<Double> = 1e-3...100
            guard range.contains(v) else {
                throw ConfigIssue(path: decoder.codingPath, .invalid("must be in \(range.lowerBound)...\(range.upperBound), found \(v)"))
            }
            base = Float(v)
            return
        }
        var s = try TemperatureScheduleSettings.read(c, extraKeys: ["unit"])
        s.base = try c.float(s.baseKey, range: 1e-3...100)
        self = TemperatureSetting(schedule: s, unit: try c.choice("unit", Unit.self) ?? unit)
        do { try schedule(searched: nil).validate() } catch let e as TemperatureScheduleError { throw c.issue(e.message) }
    }

    /// Writes the schedule mapping (a missing base stays missing, so an earlier temperature-search still fills it).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        try self.schedule.encode(into: &c)
        try c.encode(unit.rawValue, forKey: ConfigKey("unit"))
    }
}

/// Which traces a distillation stage trains on.
public enum DistillationData: String, Sendable, Codable, CaseIterable {
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
public struct OutputDistillConfiguration: StageConfiguration, Equatable {
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

    /// Every field, each with its default.
    public init(training: TrainingSettings = TrainingSettings(steps: 300), alphaStart: Float = 0.9, alphaEnd: Float = 0.5,
                temperature: TemperatureSetting = TemperatureSetting(), divergence: Divergence = .forwardKL,
                data: DistillationData? = nil, targets: DistillationTargets = .full) {
        self.training = training
        self.alphaStart = alphaStart
        self.alphaEnd = alphaEnd
        self.temperature = temperature
        self.divergence = divergence
        self.data = data
        self.targets = targets
    }

    /// Reads the stage's keys (`feature-align` and `prune` read theirs beside them, and the curriculum checks the
    /// union), with the training defaults `trainingDefaults`, else `defaultSteps` steps and the struct's defaults.
    public init(_ node: ConfigNode, defaultSteps: Int = 300, trainingDefaults: TrainingSettings? = nil) throws {
        self = try node.decode(Self.self, keys: Self.keys,
                               userInfo: [TrainingSettings.defaultsKey: trainingDefaults ?? TrainingSettings(steps: defaultSteps),
                                          Self.embeddedKey: true])
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

extension OutputDistillConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case alpha, temperature, divergence, jsdBeta = "jsd_beta", data, targets
    }

    /// The keys of an output-distill stage: the training keys and its own.
    public static let keys = TrainingSettings.keys + CodingKeys.allCases.map(\.rawValue)

    /// `userInfo` flag: the keys sit beside another stage kind's (feature-align, prune), which checks the union.
    static let embeddedKey = CodingUserInfoKey(rawValue: "tracedistill.output-distill-embedded")!

    /// Reads the stage's keys strictly, with the training defaults in `userInfo[TrainingSettings.defaultsKey]`.
    public init(from decoder: Decoder) throws {
        try self.init(from: decoder, trainingDefaults: decoder.userInfo[TrainingSettings.defaultsKey] as? TrainingSettings ?? TrainingSettings(steps: 300),
                      embedded: decoder.userInfo[Self.embeddedKey] as? Bool ?? false)
    }

    /// Reads the keys over `trainingDefaults`; `embedded`: they sit beside another kind's keys, which checks the union.
    init(from decoder: Decoder, trainingDefaults: TrainingSettings, embedded: Bool) throws {
        let c = try StrictContainer(decoder, known: embedded ? nil : ["kind"] + Self.keys)
        self.init(training: try TrainingSettings(from: decoder, defaults: trainingDefaults))
        if let alpha = try c.value("alpha", AlphaSetting.self, expected: "a number in 0...1 or {start, end}") {
            alphaStart = alpha.start ?? alphaStart
            alphaEnd = alpha.end ?? (alpha.single ? alphaStart : alphaEnd)
        }
        temperature = try c.value("temperature", TemperatureSetting.self, expected: "a number or a schedule mapping") ?? temperature
        let div = try c.choice("divergence", ["forward_kl", "reverse_kl", "jsd"]) ?? "forward_kl"
        let beta = try c.double("jsd_beta", range: 0...1)
        switch div {
        case "reverse_kl": divergence = .reverseKL
        case "jsd": divergence = .jsd(beta: Float(beta ?? 0.5))
        default: divergence = .forwardKL
        }
        if beta != nil && div != "jsd" { throw c.issue("jsd_beta", "only used with divergence: jsd; remove it or set divergence: jsd") }
        data = try c.choice("data", DistillationData.self) ?? data
        targets = try c.choice("targets", DistillationTargets.self) ?? targets
    }

    /// The training keys and the stage's own (`data` as given; the resolved configuration fills it in).
    public func encode(to encoder: Encoder) throws {
        try training.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        var alpha = c.nestedContainer(keyedBy: ConfigKey.self, forKey: .alpha)
        try alpha.encode(alphaStart, forKey: ConfigKey("start"))
        try alpha.encode(alphaEnd, forKey: ConfigKey("end"))
        try c.encode(temperature, forKey: .temperature)
        switch divergence {
        case .forwardKL: try c.encode("forward_kl", forKey: .divergence)
        case .reverseKL: try c.encode("reverse_kl", forKey: .divergence)
        case .jsd(let beta):
            try c.encode("jsd", forKey: .divergence)
            try c.encode(beta, forKey: .jsdBeta)
        }
        try c.encodeIfPresent(data, forKey: .data)
        try c.encode(targets.rawValue, forKey: .targets)
    }
}

/// `alpha: 0.7` (start and end) or `alpha: {start: 0.9, end: 0.5}`.
private struct AlphaSetting: Decodable {
    var start, end: Float?
    var single = false

    init(from decoder: Decoder) throws {
        if (try? decoder.container(keyedBy: ConfigKey.self)) != nil {
            let c = try StrictContainer(decoder, known: ["start", "end"])
            start = try c.float("start", range: 0...1)
            end = try c.float("end", range: 0...1)
            return
        }
        // a single number (or a number written as text): both ends, range-checked at `alpha` itself
        let value = try decoder.singleValueContainer()
        guard let v = (try? value.decode(Double.self)) ?? (try? value.decode(String.self)).flatMap(Double.init) else {
            throw DecodingError.typeMismatch(Double.self, .init(codingPath: decoder.codingPath, debugDescription: "not a number"))
        }
        guard (0...1).contains(v) else { throw ConfigIssue(path: decoder.codingPath, .invalid("must be in 0.0...1.0, found \(v)")) }
        start = Float(v)
        single = true
    }
}
