import StrictConfig

/// A temperature schedule as a curriculum writes it, read in this one place for the distillation stages'
/// `temperature` and PPO's sampling `temperature`:
///
///     {schedule: constant, base: 2}
///     {schedule: step, base: 2, early_factor: 1.5, early_until: 5, late_factor: 0.8, late_from: 15}
///     {schedule: linear_decay, start: 5, decrement: 0.5, interval: 10, floor: 1}
///
/// `base` (or `start`) and `floor` may be left out: their owner fills them (PPO: base 1; the distillation stages:
/// a searched temperature, else 2), so they stay nil here.
public struct TemperatureScheduleSettings: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case constant, step, linearDecay = "linear_decay" }
    public var kind = Kind.constant
    /// The base (constant, step) or start (linear decay); nil: the owner's default.
    public var base: Float?
    public var earlyFactor = TemperatureSchedule.stepDefaults.earlyFactor
    public var earlyUntil = TemperatureSchedule.stepDefaults.earlyUntil
    public var lateFactor = TemperatureSchedule.stepDefaults.lateFactor
    public var lateFrom = TemperatureSchedule.stepDefaults.lateFrom
    public var decrement = TemperatureSchedule.linearDecayDefaults.decrement
    public var interval = TemperatureSchedule.linearDecayDefaults.interval
    /// The linear decay's floor; nil: `linearDecayDefaults.floor`, capped at the start.
    public var floor: Float?

    /// Every field, each with its default.
    public init(kind: Kind = .constant, base: Float? = nil,
                earlyFactor: Float = TemperatureSchedule.stepDefaults.earlyFactor,
                earlyUntil: Int = TemperatureSchedule.stepDefaults.earlyUntil,
                lateFactor: Float = TemperatureSchedule.stepDefaults.lateFactor,
                lateFrom: Int = TemperatureSchedule.stepDefaults.lateFrom,
                decrement: Float = TemperatureSchedule.linearDecayDefaults.decrement,
                interval: Int = TemperatureSchedule.linearDecayDefaults.interval, floor: Float? = nil) {
        self.kind = kind
        self.base = base
        self.earlyFactor = earlyFactor
        self.earlyUntil = earlyUntil
        self.lateFactor = lateFactor
        self.lateFrom = lateFrom
        self.decrement = decrement
        self.interval = interval
        self.floor = floor
    }

    /// The key `base` is written under for this kind.
    public var baseKey: String { kind == .linearDecay ? "start" : "base" }

    /// The keys each kind takes beside `schedule`.
    public static let keys: [Kind: [String]] = [
        .constant: ["base"],
        .step: ["base", "early_factor", "early_until", "late_factor", "late_from"],
        .linearDecay: ["start", "decrement", "interval", "floor"],
    ]

    /// Reads the schedule keys of `c` (a mapping with `schedule:`); `extraKeys` are the owner's own keys at the same
    /// level (read by the owner). A key of another kind names the kind's keys; values out of range name their key
    /// (the base is the owner's to check: each allows a different range).
    public static func read(_ c: StrictContainer, extraKeys: [String] = []) throws -> TemperatureScheduleSettings {
        let names = Kind.allCases.map(\.rawValue)
        guard let kind = try c.choice("schedule", Kind.self) else {
            throw c.issue("give `schedule:` (one of \(names.joined(separator: ", "))) or a number for a constant temperature")
        }
        let allowed = ["schedule"] + keys[kind]! + extraKeys
        if let extra = StrictContainer.unknownKeys(c.keys, known: allowed).first {
            throw c.issue(extra, "is not a key of the \(kind.rawValue) schedule; its keys are \(allowed.joined(separator: ", "))")
        }
        var s = TemperatureScheduleSettings(kind: kind)
        s.base = try c.float(s.baseKey)
        switch kind {
        case .constant: break
        case .step:
            s.earlyFactor = try c.float("early_factor", range: 1e-3...100) ?? s.earlyFactor
            s.earlyUntil = try c.int("early_until", min: 0) ?? s.earlyUntil
            s.lateFactor = try c.float("late_factor", range: 1e-3...100) ?? s.lateFactor
            s.lateFrom = try c.int("late_from", min: 0) ?? s.lateFrom
        case .linearDecay:
            s.decrement = try c.float("decrement", range: 0...100) ?? s.decrement
            s.interval = try c.int("interval", min: 1) ?? s.interval
            s.floor = try c.float("floor", range: 1e-3...100)
        }
        return s
    }

    /// The schedule with `base` filling a missing base; a missing floor is the default floor capped at the start.
    public func schedule(base fallback: Float) -> TemperatureSchedule {
        let b = base ?? fallback
        switch kind {
        case .constant: return .constant(temperature: b)
        case .step: return .step(base: b, earlyFactor: earlyFactor, earlyUntil: earlyUntil, lateFactor: lateFactor, lateFrom: lateFrom)
        case .linearDecay:
            return .linearDecay(start: b, decrement: decrement, interval: interval,
                                floor: floor ?? min(TemperatureSchedule.linearDecayDefaults.floor, b))
        }
    }

    /// Writes the form `read` takes (a missing base or floor stays missing).
    public func encode(into c: inout KeyedEncodingContainer<ConfigKey>) throws {
        try c.encode(kind.rawValue, forKey: ConfigKey("schedule"))
        if let base { try c.encode(base, forKey: ConfigKey(baseKey)) }
        switch kind {
        case .constant: break
        case .step:
            try c.encode(earlyFactor, forKey: ConfigKey("early_factor"))
            try c.encode(earlyUntil, forKey: ConfigKey("early_until"))
            try c.encode(lateFactor, forKey: ConfigKey("late_factor"))
            try c.encode(lateFrom, forKey: ConfigKey("late_from"))
        case .linearDecay:
            try c.encode(decrement, forKey: ConfigKey("decrement"))
            try c.encode(interval, forKey: ConfigKey("interval"))
            if let floor { try c.encode(floor, forKey: ConfigKey("floor")) }
        }
    }
}
