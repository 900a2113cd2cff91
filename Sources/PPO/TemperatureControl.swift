import Tensor

/// How the PPO stage chooses its sampling temperature (configuration; `TemperatureController` runs it).
public enum TemperatureControl: Codable, Sendable, Equatable {
    /// The entropy-targeting controller (see `EntropyTemperatureController`).
    /// - target: mean token entropy to hold, in nats; rate: largest change of log T per iteration;
    ///   minimum, maximum: bounds on T; initial: T of the first rollout.
    case entropyTarget(target: Double, rate: Double, minimum: Float, maximum: Float, initial: Float)
    /// A schedule over PPO iterations (constant, step or linear decay).
    case schedule(TemperatureSchedule)

    /// The default controller: hold 0.5 nats per token, log T moving at most 0.1 per iteration, T in [0.5, 1.5], from 1.
    public static let defaultEntropyTarget = TemperatureControl.entropyTarget(target: 0.5, rate: 0.1, minimum: 0.5,
                                                                              maximum: 1.5, initial: 1)

    enum CodingKeys: String, CodingKey, CaseIterable {
        case entropyTarget = "entropy_target", schedule
        case base, start, earlyFactor = "early_factor", earlyUntil = "early_until", lateFactor = "late_factor"
        case lateFrom = "late_from", decrement, interval, floor
    }
    enum EntropyKeys: String, CodingKey, CaseIterable { case target, rate, minimum, maximum, initial }

    /// The keys each schedule takes beside `schedule` (the distillation stages' `temperature` form).
    static let scheduleKeys: [String: [CodingKeys]] = [
        "constant": [.base],
        "step": [.base, .earlyFactor, .earlyUntil, .lateFactor, .lateFrom],
        "linear_decay": [.start, .decrement, .interval, .floor],
    ]

    /// Reads one of:
    /// - a number: that temperature throughout;
    /// - `{"entropy_target": {"target": .., "rate": .., "minimum": .., "maximum": .., "initial": ..}}` (omitted
    ///   fields keep the defaults);
    /// - a schedule over iterations in the distillation stages' form: `{"schedule": "constant", "base": 0.8}`,
    ///   `{"schedule": "step", "base": 1, "early_factor": 1.5, "early_until": 5, "late_factor": 0.8,
    ///   "late_from": 15}` or `{"schedule": "linear_decay", "start": 1.2, "decrement": 0.1, "interval": 10,
    ///   "floor": 0.7}` (omitted values: base and start 1, the rest from `TemperatureSchedule.stepDefaults` and
    ///   `linearDecayDefaults`).
    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let t = try? single.decode(Float.self) {
            self = .schedule(.constant(temperature: t))
            try validate()
            return
        }
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), prefix: "temperature.")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch (c.contains(.entropyTarget), c.contains(.schedule)) {
        case (true, false):
            if let extra = c.allKeys.first(where: { $0 != .entropyTarget }) {
                throw PPOConfigError(field: "temperature.\(extra.stringValue)", reason: "belongs to a schedule, not to entropy_target; remove it")
            }
            self = try Self.readEntropyTarget(c)
        case (false, true):
            self = .schedule(try Self.readSchedule(c))
        default:
            throw PPOConfigError(field: "temperature", reason: "give exactly one of entropy_target or schedule (or a number for a constant temperature)")
        }
        try validate()
    }

    private static func readEntropyTarget(_ c: KeyedDecodingContainer<CodingKeys>) throws -> TemperatureControl {
        let e: KeyedDecodingContainer<EntropyKeys>
        do { e = try c.nestedContainer(keyedBy: EntropyKeys.self, forKey: .entropyTarget) } catch {
            throw PPOConfigError(field: "temperature.entropy_target", reason: "expected an object {target, rate, minimum, maximum, initial}")
        }
        try rejectUnknownKeys(try c.superDecoder(forKey: .entropyTarget), known: EntropyKeys.allCases.map(\.rawValue),
                              prefix: "temperature.entropy_target.")
        guard case .entropyTarget(var target, var rate, var minimum, var maximum, var initial) = defaultEntropyTarget else {
            preconditionFailure("the default temperature control is entropy-targeting")
        }
        let p = "temperature.entropy_target."
        if let v = try decodeField(e, .target, Double?.self, p + "target", "a number") { target = v }
        if let v = try decodeField(e, .rate, Double?.self, p + "rate", "a number") { rate = v }
        if let v = try decodeField(e, .minimum, Float?.self, p + "minimum", "a number") { minimum = v }
        if let v = try decodeField(e, .maximum, Float?.self, p + "maximum", "a number") { maximum = v }
        if let v = try decodeField(e, .initial, Float?.self, p + "initial", "a number") { initial = v }
        return .entropyTarget(target: target, rate: rate, minimum: minimum, maximum: maximum, initial: initial)
    }

    private static func readSchedule(_ c: KeyedDecodingContainer<CodingKeys>) throws -> TemperatureSchedule {
        let kinds = scheduleKeys.keys.sorted()
        let name = try decodeField(c, .schedule, String.self, "temperature.schedule", "one of \(kinds.joined(separator: ", "))")
        guard let allowed = scheduleKeys[name] else {
            throw PPOConfigError(field: "temperature.schedule", reason: "'\(name)' is not one of \(kinds.joined(separator: ", "))")
        }
        if let extra = c.allKeys.first(where: { $0 != .schedule && !allowed.contains($0) }) {
            throw PPOConfigError(field: "temperature.\(extra.stringValue)",
                                 reason: "is not a key of the \(name) schedule; its keys are \(allowed.map(\.rawValue).joined(separator: ", "))")
        }
        func float(_ key: CodingKeys, _ fallback: Float) throws -> Float {
            try decodeField(c, key, Float?.self, "temperature.\(key.rawValue)", "a number") ?? fallback
        }
        func int(_ key: CodingKeys, _ fallback: Int) throws -> Int {
            try decodeField(c, key, Int?.self, "temperature.\(key.rawValue)", "a whole number") ?? fallback
        }
        switch name {
        case "constant":
            return .constant(temperature: try float(.base, 1))
        case "step":
            let d = TemperatureSchedule.stepDefaults
            return .step(base: try float(.base, 1), earlyFactor: try float(.earlyFactor, d.earlyFactor),
                         earlyUntil: try int(.earlyUntil, d.earlyUntil), lateFactor: try float(.lateFactor, d.lateFactor),
                         lateFrom: try int(.lateFrom, d.lateFrom))
        default:
            let d = TemperatureSchedule.linearDecayDefaults, start = try float(.start, 1)
            return .linearDecay(start: start, decrement: try float(.decrement, d.decrement), interval: try int(.interval, d.interval),
                                floor: try float(.floor, min(d.floor, start)))
        }
    }

    /// Writes the form `init(from:)` reads.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .entropyTarget(let target, let rate, let minimum, let maximum, let initial):
            var e = c.nestedContainer(keyedBy: EntropyKeys.self, forKey: .entropyTarget)
            try e.encode(target, forKey: .target)
            try e.encode(rate, forKey: .rate)
            try e.encode(minimum, forKey: .minimum)
            try e.encode(maximum, forKey: .maximum)
            try e.encode(initial, forKey: .initial)
        case .schedule(.constant(let t)):
            try c.encode("constant", forKey: .schedule)
            try c.encode(t, forKey: .base)
        case .schedule(.step(let base, let ef, let eu, let lf, let lt)):
            try c.encode("step", forKey: .schedule)
            try c.encode(base, forKey: .base)
            try c.encode(ef, forKey: .earlyFactor)
            try c.encode(eu, forKey: .earlyUntil)
            try c.encode(lf, forKey: .lateFactor)
            try c.encode(lt, forKey: .lateFrom)
        case .schedule(.linearDecay(let start, let decrement, let interval, let floor)):
            try c.encode("linear_decay", forKey: .schedule)
            try c.encode(start, forKey: .start)
            try c.encode(decrement, forKey: .decrement)
            try c.encode(interval, forKey: .interval)
            try c.encode(floor, forKey: .floor)
        }
    }

    /// Checks the settings; the error names the field (prefixed with `temperature.`).
    public func validate() throws {
        switch self {
        case .entropyTarget(let target, let rate, let minimum, let maximum, let initial):
            func check(_ ok: Bool, _ field: String, _ reason: String) throws {
                if !ok { throw PPOConfigError(field: "temperature.entropy_target.\(field)", reason: reason) }
            }
            try check(target.isFinite && target > 0, "target", "must be a positive entropy in nats, got \(target)")
            try check(rate.isFinite && rate > 0, "rate", "must be a positive number (e.g. 0.1), got \(rate)")
            try check(minimum.isFinite && minimum > 0, "minimum", "must be a positive temperature, got \(minimum)")
            try check(maximum.isFinite && maximum >= minimum, "maximum", "must be >= minimum (\(minimum)), got \(maximum)")
            try check(initial.isFinite && initial >= minimum && initial <= maximum, "initial",
                      "must lie in [minimum, maximum] = [\(minimum), \(maximum)], got \(initial)")
        case .schedule(let s):
            do { try s.validate() } catch let e as TemperatureScheduleError {
                throw PPOConfigError(field: "temperature.schedule", reason: e.message)
            }
        }
    }
}
