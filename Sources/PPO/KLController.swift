import Foundation

/// The coefficient of the per-token KL penalty in the reward: fixed, or adapted toward a target KL.
///
/// Adaptive rule (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences"):
/// error = clip(KL / target - 1, -0.2, 0.2); coefficient *= 1 + error * steps / horizon.
public struct KLController: Sendable, Equatable {
    /// Current coefficient (beta).
    public private(set) var coefficient: Double
    /// Target KL per sequence for the adaptive rule; nil for a fixed coefficient.
    public let target: Double?
    /// Number of samples over which the adaptive rule closes the error (Ziegler's horizon).
    public let horizon: Int

    /// A fixed coefficient.
    public init(fixed coefficient: Double) {
        self.coefficient = coefficient
        target = nil
        horizon = 1
    }

    /// An adaptive coefficient starting at `initial`, steering the measured KL toward `target` over `horizon` samples.
    public init(initial: Double, target: Double, horizon: Int) {
        precondition(target > 0 && horizon > 0, "adaptive KL needs target > 0 and horizon > 0, got \(target), \(horizon)")
        coefficient = initial
        self.target = target
        self.horizon = horizon
    }

    /// Whether the coefficient adapts.
    public var isAdaptive: Bool { target != nil }

    /// Feeds one measurement: `currentKL` (mean over the batch of each sequence's summed per-token KL) after
    /// a batch of `steps` samples. A fixed controller ignores it.
    public mutating func update(currentKL: Double, steps: Int) {
        guard let target, currentKL.isFinite else { return }
        let error = min(max(currentKL / target - 1, -0.2), 0.2)
        coefficient *= 1 + error * Double(steps) / Double(horizon)
    }

    /// The state to checkpoint (`kl_coefficient`).
    public var state: [String: Double] { ["kl_coefficient": coefficient] }

    /// Restores `kl_coefficient` from a checkpointed state.
    /// - Throws: `PPOError.invalidControllerState` when the key is missing or not a finite number >= 0.
    public mutating func restore(_ state: [String: Double]) throws {
        guard let c = state["kl_coefficient"] else { throw PPOError.invalidControllerState(key: "kl_coefficient", reason: "missing") }
        guard c.isFinite, c >= 0 else { throw PPOError.invalidControllerState(key: "kl_coefficient", reason: "must be a finite number >= 0, got \(c)") }
        coefficient = c
    }
}
