import Foundation

/// Per-token estimators of KL(policy || reference) from one sampled token, given its log-probability under
/// both models (Schulman, "Approximating KL Divergence", 2020: k1 and k3).
public enum KLEstimator: String, Codable, Sendable, CaseIterable {
    /// k1 = log p - log q: unbiased, high variance, can be negative per token (TRL's default "kl").
    case k1
    /// k3 = (r - 1) - log r with r = q / p: unbiased, always >= 0, lower variance (DeepSeekMath's GRPO).
    case k3

    /// The estimate for one token.
    /// - Parameters:
    ///   - logProb: log p(token) under the policy that sampled it.
    ///   - referenceLogProb: log q(token) under the reference model.
    @inline(__always)
    public func estimate(logProb: Float, referenceLogProb: Float) -> Float {
        switch self {
        case .k1:
            return logProb - referenceLogProb
        case .k3:
            let logR = Double(referenceLogProb) - Double(logProb)  // log(q / p)
            return Float(Foundation.expm1(logR) - logR)  // expm1 keeps (r - 1) exact near r = 1
        }
    }
}
