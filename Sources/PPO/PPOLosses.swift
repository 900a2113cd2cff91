import Foundation
import Tensor

// PPO's loss terms as fused ops over per-token rows. Shapes: every per-token input is (R) (R = B*T rows,
// the tensor may have any shape with R elements); mask (R) is 1 on completion tokens. Each loss is a
// masked token mean (sum over masked tokens / their count), a scalar, with its own backward.

/// The clipped surrogate loss with its diagnostics.
public struct PolicyLossOutput {
    /// Scalar loss (to minimise).
    public let loss: Tensor
    /// Fraction of masked tokens whose gradient the clip (or the dual clip) zeroed.
    public let clipFraction: Double
    /// Approximate KL(old || new): mean over masked tokens of k3 on the ratio, (r - 1) - log r with r = new / old.
    public let approximateKL: Double
}

/// PPO's clipped surrogate (Schulman et al. 2017): mean over masked tokens of
/// max(-A r, -A clip(r, 1 - eps, 1 + eps)), r = exp(logp - logp_old); with `dualClip` c > 1, for A < 0 the
/// per-token loss is further capped at -c A (dual-clip PPO, Ye et al. 2020), so a huge ratio on a bad
/// action cannot produce an unbounded loss.
/// - Parameters:
///   - logProbs: (R) log-probabilities of the chosen tokens under the current policy (differentiable).
///   - oldLogProbs, advantages, mask: (R) from the rollout.
public func clippedPolicyLoss(logProbs: Tensor, oldLogProbs: [Float], advantages: [Float], mask: [Float],
                              clipEpsilon: Float, dualClip: Float? = nil) -> PolicyLossOutput {
    let n = logProbs.count
    precondition(oldLogProbs.count == n && advantages.count == n && mask.count == n,
                 "clippedPolicyLoss: logProbs \(n), old \(oldLogProbs.count), advantages \(advantages.count), mask \(mask.count)")
    precondition(dualClip.map { $0 > 1 } ?? true, "dual clip must be > 1, got \(dualClip!)")
    let lo = 1 - clipEpsilon, hi = 1 + clipEpsilon
    // d loss / d logp per token, before the 1 / count of the mean (saved for backward)
    var dLogp = [Float](repeating: 0, count: n)
    var total = 0.0, kl = 0.0
    var count = 0, clipped = 0
    let lp = logProbs.ptr
    for i in 0..<n where mask[i] != 0 {
        count += 1
        let logRatio = Double(lp[i]) - Double(oldLogProbs[i])
        let r = Foundation.exp(logRatio), a = Double(advantages[i])
        let rc = min(max(r, Double(lo)), Double(hi))
        let unclipped = -a * r, clippedLoss = -a * rc
        var loss = max(unclipped, clippedLoss)
        // gradient flows through r only where the unclipped term is the one taken (ties: r inside the range)
        var grad = unclipped >= clippedLoss ? -a * r : 0
        if let c = dualClip, a < 0, loss > -Double(c) * a {
            loss = -Double(c) * a
            grad = 0
        }
        if grad == 0 && a != 0 { clipped += 1 }
        dLogp[i] = Float(grad)
        total += loss
        kl += Foundation.expm1(logRatio) - logRatio
    }
    let denom = Double(max(count, 1))
    let out = Tensor(shape: [], values: [Float(total / denom)])
    let saved = dLogp
    Tensor.record(out, inputs: [logProbs]) { g in
        let s = g.ptr[0] / Float(denom), gp = logProbs.gradPointer()
        for i in 0..<n where saved[i] != 0 { gp[i] += s * saved[i] }
    }
    return PolicyLossOutput(loss: out, clipFraction: Double(clipped) / denom, approximateKL: kl / denom)
}

/// PPO2's clipped value loss: 0.5 * mean over masked tokens of max((v - R)^2, (v_clip - R)^2) with
/// v_clip = v_old + clip(v - v_old, -c, c); with `clip` nil, 0.5 * mean((v - R)^2).
/// - Returns: the scalar loss and the fraction of tokens where the clipped term won (its gradient is 0).
public func clippedValueLoss(values: Tensor, oldValues: [Float], returns: [Float], mask: [Float],
                             clip: Float?) -> (loss: Tensor, clipFraction: Double) {
    let n = values.count
    precondition(oldValues.count == n && returns.count == n && mask.count == n,
                 "clippedValueLoss: values \(n), old \(oldValues.count), returns \(returns.count), mask \(mask.count)")
    var dv = [Float](repeating: 0, count: n)
    var total = 0.0
    var count = 0, clipped = 0
    let vp = values.ptr
    for i in 0..<n where mask[i] != 0 {
        count += 1
        let v = vp[i], ret = returns[i]
        let e1 = (v - ret) * (v - ret)
        guard let c = clip else { total += Double(e1); dv[i] = v - ret; continue }
        let vc = oldValues[i] + min(max(v - oldValues[i], -c), c)
        let e2 = (vc - ret) * (vc - ret)
        if e1 >= e2 {
            total += Double(e1)
            dv[i] = v - ret
        } else {
            total += Double(e2)
            // the clipped branch depends on v only while v - v_old is inside [-c, c] (then v_clip == v)
            let inside = abs(v - oldValues[i]) <= c
            dv[i] = inside ? vc - ret : 0
            if !inside { clipped += 1 }
        }
    }
    let denom = Float(max(count, 1))
    let out = Tensor(shape: [], values: [Float(0.5 * total / Double(denom))])
    let saved = dv
    Tensor.record(out, inputs: [values]) { g in
        let s = g.ptr[0] / denom, gv = values.gradPointer()  // d(0.5 e^2)/dv = e
        for i in 0..<n where saved[i] != 0 { gv[i] += s * saved[i] }
    }
    return (out, Double(clipped) / Double(denom))
}

/// Mean of `x` over the entries whose mask is nonzero (0 when none): (R) -> scalar.
public func maskedMean(_ x: Tensor, mask: [Float]) -> Tensor {
    let n = x.count
    precondition(mask.count == n, "maskedMean: mask of \(mask.count) for \(n) values")
    var total = 0.0, count = 0
    for i in 0..<n where mask[i] != 0 { total += Double(x.ptr[i]); count += 1 }
    let denom = Float(max(count, 1))
    let out = Tensor(shape: [], values: [Float(total / Double(denom))])
    Tensor.record(out, inputs: [x]) { g in
        let s = g.ptr[0] / denom, gx = x.gradPointer()
        for i in 0..<n where mask[i] != 0 { gx[i] += s }
    }
    return out
}
