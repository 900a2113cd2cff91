import Foundation

/// A learning rate as a function of the optimizer step (0-based).
public enum LearningRateSchedule: Codable, Sendable, Equatable {
    /// The same rate at every step.
    case constant(rate: Float)
    /// Rises linearly from rate/warmupSteps at step 0 to `rate` at step warmupSteps-1, then stays.
    case linearWarmup(rate: Float, warmupSteps: Int)
    /// Linear warmup, then cosine annealing from `rate` down to `floor` at `totalSteps` (and `floor` after).
    case cosine(rate: Float, warmupSteps: Int, totalSteps: Int, floor: Float)

    /// The learning rate at `step`.
    public func rate(at step: Int) -> Float {
        switch self {
        case .constant(let r):
            return r
        case .linearWarmup(let r, let w):
            return step < w ? r * Float(step + 1) / Float(w) : r
        case .cosine(let r, let w, let total, let floor):
            if step < w { return r * Float(step + 1) / Float(w) }
            if step >= total { return floor }
            let progress = Double(step - w) / Double(max(1, total - w))
            return floor + (r - floor) * Float(0.5 * (1 + Foundation.cos(Double.pi * progress)))
        }
    }
}
