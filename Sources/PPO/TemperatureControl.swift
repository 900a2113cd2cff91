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

    enum CodingKeys: String, CodingKey, CaseIterable { case entropyTarget = "entropy_target", schedule }
    enum EntropyKeys: String, CodingKey, CaseIterable { case target, rate, minimum, maximum, initial }

    /// Reads `{"entropy_target": {"target": .., "rate": .., "minimum": .., "maximum": .., "initial": ..}}`
    /// (omitted fields keep the defaults) or `{"schedule": <TemperatureSchedule>}`; exactly one of the two.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), prefix: "temperature.")
        guard c.allKeys.count == 1 else {
            throw PPOConfigError(field: "temperature", reason: "give exactly one of entropy_target or schedule")
        }
        if c.contains(.schedule) {
            self = .schedule(try decodeField(c, .schedule, TemperatureSchedule.self, "temperature.schedule", "a temperature schedule"))
            return
        }
        let e = try c.nestedContainer(keyedBy: EntropyKeys.self, forKey: .entropyTarget)
        try rejectUnknownKeys(try c.superDecoder(forKey: .entropyTarget), known: EntropyKeys.allCases.map(\.rawValue),
                              prefix: "temperature.entropy_target.")
        guard case .entropyTarget(var target, var rate, var minimum, var maximum, var initial) = Self.defaultEntropyTarget else {
            preconditionFailure("the default temperature control is entropy-targeting")
        }
        let p = "temperature.entropy_target."
        if let v = try decodeField(e, .target, Double?.self, p + "target", "a number") { target = v }
        if let v = try decodeField(e, .rate, Double?.self, p + "rate", "a number") { rate = v }
        if let v = try decodeField(e, .minimum, Float?.self, p + "minimum", "a number") { minimum = v }
        if let v = try decodeField(e, .maximum, Float?.self, p + "maximum", "a number") { maximum = v }
        if let v = try decodeField(e, .initial, Float?.self, p + "initial", "a number") { initial = v }
        self = .entropyTarget(target: target, rate: rate, minimum: minimum, maximum: maximum, initial: initial)
        try validate()
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
        case .schedule(let s):
            try c.encode(s, forKey: .schedule)
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
