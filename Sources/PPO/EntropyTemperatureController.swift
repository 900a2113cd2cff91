import Foundation

/// A sampling temperature steered toward a target mean token entropy.
///
/// Rule: log T += rate * clip((target - H) / target, -1, 1), then T is kept in [minimum, maximum]. Entropy
/// under the target (samples too alike) raises T; entropy above it lowers T. Working in log space makes a
/// step a fixed ratio, so the controller behaves the same at T = 0.5 and T = 1.5; the relative error
/// makes `rate` independent of the vocabulary's entropy scale.
public struct EntropyTemperatureController: Sendable, Equatable {
    /// Target mean token entropy (nats) of the temperature-scaled sampling distribution.
    public let target: Double
    /// Largest change of log T per update.
    public let rate: Double
    /// Lowest temperature.
    public let minimum: Float
    /// Highest temperature.
    public let maximum: Float
    /// Current temperature.
    public private(set) var temperature: Float

    /// A controller starting at `initial` (clamped into the bounds).
    public init(target: Double, rate: Double, minimum: Float, maximum: Float, initial: Float) {
        precondition(target > 0 && rate > 0 && minimum > 0 && minimum <= maximum,
                     "entropy controller needs target > 0, rate > 0, 0 < minimum <= maximum")
        self.target = target
        self.rate = rate
        self.minimum = minimum
        self.maximum = maximum
        temperature = min(max(initial, minimum), maximum)
    }

    /// Moves the temperature after a rollout whose mean token entropy was `meanEntropy` (NaN is ignored).
    public mutating func update(meanEntropy: Double) {
        guard meanEntropy.isFinite else { return }
        let error = min(max((target - meanEntropy) / target, -1), 1)
        let next = Float(Foundation.exp(Foundation.log(Double(temperature)) + rate * error))
        temperature = min(max(next, minimum), maximum)
    }

    /// Sets the temperature from a checkpoint (clamped into the bounds).
    mutating func set(temperature t: Float) { temperature = min(max(t, minimum), maximum) }
}
