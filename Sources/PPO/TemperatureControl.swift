import StrictConfig

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

    enum EntropyKeys: String, CodingKey, CaseIterable { case target, rate, minimum, maximum, initial }

    /// Reads one of:
    /// - a number: that temperature throughout;
    /// - `{"entropy_target": {"target": .., "rate": .., "minimum": .., "maximum": .., "initial": ..}}` (omitted
    ///   fields keep the defaults);
    /// - a schedule over iterations in the distillation stages' form (`TemperatureScheduleSettings`):
    ///   `{"schedule": "constant", "base": 0.8}`, `{"schedule": "step", "base": 1, "early_factor": 1.5, ...}` or
    ///   `{"schedule": "linear_decay", "start": 1.2, "decrement": 0.1, "interval": 10, "floor": 0.7}` (omitted
    ///   values: base and start 1, the rest from `TemperatureSchedule.stepDefaults` and `linearDecayDefaults`).
    /// - Throws: `PPOConfigError` with the field under `temperature.`.
    public init(from decoder: Decoder) throws {
        let depth = decoder.codingPath.count
        if let single = try? decoder.singleValueContainer(), let t = try? single.decode(Double.self) {
            self = .schedule(.constant(temperature: Float(t)))
            try validate()
            return
        }
        do {
            let c: StrictContainer
            do { c = try StrictContainer(decoder, known: nil) } catch {
                throw ConfigIssue(path: decoder.codingPath, .invalid("expected a number, {entropy_target: {...}} or {schedule: constant|step|linear_decay, ...}"))
            }
            switch (c.contains("entropy_target"), c.contains("schedule")) {
            case (true, false):
                if let extra = c.keys.filter({ $0 != "entropy_target" }).sorted().first {
                    throw c.issue(extra, TemperatureScheduleSettings.keys.values.contains { $0.contains(extra) }
                                  ? "belongs to a schedule, not to entropy_target; remove it"
                                  : "unknown key; known keys are entropy_target, schedule (with its keys)")
                }
                guard case .entropyTarget(var target, var rate, var minimum, var maximum, var initial) = Self.defaultEntropyTarget else {
                    preconditionFailure("the default temperature control is entropy-targeting")
                }
                let e = try c.value("entropy_target", EntropyTargetKeys.self, expected: "an object {target, rate, minimum, maximum, initial}")!
                target = e.target ?? target
                rate = e.rate ?? rate
                minimum = e.minimum ?? minimum
                maximum = e.maximum ?? maximum
                initial = e.initial ?? initial
                self = .entropyTarget(target: target, rate: rate, minimum: minimum, maximum: maximum, initial: initial)
            case (false, true):
                self = .schedule(try TemperatureScheduleSettings.read(c).schedule(base: 1))
            default:
                if let extra = StrictContainer.unknownKeys(c.keys, known: ["entropy_target", "schedule"]).first, !c.contains("schedule") {
                    throw ConfigIssue(path: c.codingPath + [ConfigKey(extra)], .unknownKey(known: ["entropy_target", "schedule"]))
                }
                throw c.issue("give exactly one of entropy_target or schedule (or a number for a constant temperature)")
            }
        } catch let issue as ConfigIssue {
            throw PPOConfigError(issue, under: depth, prefix: "temperature")
        }
        try validate()
    }

    /// The keys of `entropy_target`, each optional (the default fills what is left out).
    private struct EntropyTargetKeys: Decodable {
        var target, rate: Double?
        var minimum, maximum, initial: Float?
        init(from decoder: Decoder) throws {
            let c = try StrictContainer(decoder, known: EntropyKeys.allCases.map(\.rawValue))
            target = try c.double("target")
            rate = try c.double("rate")
            minimum = try c.float("minimum")
            maximum = try c.float("maximum")
            initial = try c.float("initial")
        }
    }

    /// Writes the form `init(from:)` reads.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        switch self {
        case .entropyTarget(let target, let rate, let minimum, let maximum, let initial):
            var e = c.nestedContainer(keyedBy: EntropyKeys.self, forKey: ConfigKey("entropy_target"))
            try e.encode(target, forKey: .target)
            try e.encode(rate, forKey: .rate)
            try e.encode(minimum, forKey: .minimum)
            try e.encode(maximum, forKey: .maximum)
            try e.encode(initial, forKey: .initial)
        case .schedule(.constant(let t)):
            try TemperatureScheduleSettings(kind: .constant, base: t).encode(into: &c)
        case .schedule(.step(let base, let ef, let eu, let lf, let lt)):
            try TemperatureScheduleSettings(kind: .step, base: base, earlyFactor: ef, earlyUntil: eu, lateFactor: lf, lateFrom: lt).encode(into: &c)
        case .schedule(.linearDecay(let start, let decrement, let interval, let floor)):
            try TemperatureScheduleSettings(kind: .linearDecay, base: start, decrement: decrement, interval: interval, floor: floor).encode(into: &c)
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
