/// The PPO sampling temperature: an entropy-targeting controller or a schedule over iterations, with a
/// state that goes into checkpoints.
public struct TemperatureController: Sendable, Equatable {
    /// What drives the temperature.
    public let control: TemperatureControl
    /// Updates seen so far (the schedule's position).
    public private(set) var position: Int = 0
    private var entropy: EntropyTemperatureController?

    /// A controller for `control` at its starting temperature.
    public init(_ control: TemperatureControl) {
        self.control = control
        if case .entropyTarget(let target, let rate, let minimum, let maximum, let initial) = control {
            entropy = EntropyTemperatureController(target: target, rate: rate, minimum: minimum, maximum: maximum, initial: initial)
        }
    }

    /// The temperature for the next rollout.
    public var temperature: Float {
        switch control {
        case .entropyTarget: return entropy!.temperature
        case .schedule(let s): return s.temperature(at: position)
        }
    }

    /// Advances after a rollout whose mean token entropy was `meanEntropy` (a schedule only counts the step).
    public mutating func update(meanEntropy: Double) {
        position += 1
        entropy?.update(meanEntropy: meanEntropy)
    }

    /// The state to checkpoint: `temperature` and `temperature_position`.
    public var state: [String: Double] { ["temperature": Double(temperature), "temperature_position": Double(position)] }

    /// Restores a checkpointed state.
    /// - Throws: `PPOError.invalidControllerState` naming a missing or invalid key.
    public mutating func restore(_ state: [String: Double]) throws {
        guard let p = state["temperature_position"] else {
            throw PPOError.invalidControllerState(key: "temperature_position", reason: "missing")
        }
        guard p.isFinite, p >= 0, p == p.rounded(), p < Double(Int.max / 2) else {
            throw PPOError.invalidControllerState(key: "temperature_position", reason: "must be a whole number >= 0, got \(p)")
        }
        if entropy != nil {
            guard let t = state["temperature"] else { throw PPOError.invalidControllerState(key: "temperature", reason: "missing") }
            guard t.isFinite, t > 0 else {
                throw PPOError.invalidControllerState(key: "temperature", reason: "must be a positive number, got \(t)")
            }
            entropy!.set(temperature: Float(t))
        }
        position = Int(p)
    }
}
