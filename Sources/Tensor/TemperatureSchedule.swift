import Foundation

/// A temperature as a function of a training position (an epoch or a step, as the caller counts).
///
/// The distillation stages use it for the KL temperature; the PPO stage can use it for the sampling
/// temperature instead of the entropy-targeting controller.
public enum TemperatureSchedule: Sendable, Equatable {
    /// The same temperature everywhere.
    case constant(temperature: Float)
    /// `earlyFactor * base` before position `earlyUntil`, `base` before `lateFrom`, `lateFactor * base` after
    /// (the step schedule of the distillation literature: 1.5x, 1x, 0.8x with boundaries 5 and 15).
    case step(base: Float, earlyFactor: Float, earlyUntil: Int, lateFactor: Float, lateFrom: Int)
    /// `start`, lowered by `decrement` after every `interval` positions, never below `floor`.
    case linearDecay(start: Float, decrement: Float, interval: Int, floor: Float)

    /// The factors and boundaries of the step schedule when a user gives only its base.
    public static let stepDefaults = (earlyFactor: Float(1.5), earlyUntil: 5, lateFactor: Float(0.8), lateFrom: 15)
    /// The decrement, interval and floor of the linear decay when a user gives only its start (the floor is
    /// capped at the start).
    public static let linearDecayDefaults = (decrement: Float(0.5), interval: 10, floor: Float(1))

    /// The step schedule with the usual factors and boundaries around `base`.
    public static func step(base: Float) -> TemperatureSchedule {
        let d = stepDefaults
        return .step(base: base, earlyFactor: d.earlyFactor, earlyUntil: d.earlyUntil, lateFactor: d.lateFactor, lateFrom: d.lateFrom)
    }

    /// The temperature at `position` (0-based).
    public func temperature(at position: Int) -> Float {
        switch self {
        case .constant(let t):
            return t
        case .step(let base, let earlyFactor, let earlyUntil, let lateFactor, let lateFrom):
            if position < earlyUntil { return base * earlyFactor }
            if position < lateFrom { return base }
            return base * lateFactor
        case .linearDecay(let start, let decrement, let interval, let floor):
            let drops = position / max(1, interval)
            return max(floor, start - decrement * Float(drops))
        }
    }

    /// Checks the values a user wrote; the message says which one to change.
    public func validate() throws {
        func positive(_ v: Float, _ name: String) throws {
            guard v.isFinite, v > 0 else { throw TemperatureScheduleError(message: "\(name) must be a positive number, got \(v)") }
        }
        switch self {
        case .constant(let t):
            try positive(t, "temperature")
        case .step(let base, let earlyFactor, let earlyUntil, let lateFactor, let lateFrom):
            try positive(base, "base"); try positive(earlyFactor, "early_factor"); try positive(lateFactor, "late_factor")
            guard earlyUntil >= 0, lateFrom >= earlyUntil else {
                throw TemperatureScheduleError(message: "boundaries must satisfy 0 <= early_until <= late_from, got \(earlyUntil) and \(lateFrom)")
            }
        case .linearDecay(let start, let decrement, let interval, let floor):
            try positive(start, "start"); try positive(floor, "floor")
            guard decrement >= 0 else { throw TemperatureScheduleError(message: "decrement must be >= 0, got \(decrement)") }
            guard interval >= 1 else { throw TemperatureScheduleError(message: "interval must be >= 1, got \(interval)") }
            guard floor <= start else { throw TemperatureScheduleError(message: "floor \(floor) is above start \(start); lower floor or raise start") }
        }
    }
}

/// A temperature schedule whose values make no sense.
public struct TemperatureScheduleError: Error, CustomStringConvertible, Equatable {
    /// What is wrong and how to fix it.
    public let message: String
    public var description: String { "invalid temperature schedule: \(message)" }
}
