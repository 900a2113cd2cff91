import Foundation

// Fused losses. Shapes: logits (R, V) rows, targets (R).

/// Mean cross-entropy of `logits` (..., V) against `targets` (one per row), fused with log-softmax.
///
/// Rows whose target equals `ignoreIndex` (prompt positions, padding) are left out of the mean. With
/// label smoothing eps the target distribution is (1 - eps) one-hot + eps / V (as PyTorch).
/// Returns a scalar; 0 (with zero gradients) when every row is ignored.
public func crossEntropy(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100,
                         labelSmoothing: Float = 0) -> Tensor {
    let v = logits.lastDim, rows = logits.rows
    precondition(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows of \(logits.shape)")
    precondition(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1), got \(labelSmoothing)")
    let logp = Tensor.uninitialized(logits.shape)  // (R, V) saved for backward
    logSoftmaxRows(logits.ptr, logp.ptr, rows: rows, cols: v)
    var total: Double = 0
    var counted = 0
    let eps = labelSmoothing
    for r in 0..<rows where targets[r] != ignoreIndex {
        let t = Int(targets[r])
        precondition(t >= 0 && t < v, "crossEntropy: target \(t) outside 0..<\(v) at row \(r)")
        let lr = logp.ptr + r * v
        var loss = -(1 - eps) * lr[t]
        if eps > 0 { loss -= eps / Float(v) * vsum(lr, v) }
        total += Double(loss)
        counted += 1
    }
    let out = Tensor(shape: [], values: [counted == 0 ? 0 : Float(total / Double(counted))])
    guard counted > 0 else {
        // every row ignored: a zero loss that still backpropagates (zero gradients), so a training
        // loop can call backward() on any batch
        Tensor.record(out, inputs: [logits]) { _ in _ = logits.gradPointer() }
        return out
    }
    Tensor.record(out, inputs: [logits]) { g in
        // dlogits = (softmax - q) * g / counted, q = (1 - eps) onehot + eps / V
        let gl = logits.gradPointer(), s = g.ptr[0] / Float(counted)
        for r in 0..<rows where targets[r] != ignoreIndex {
            let lr = logp.ptr + r * v, gr = gl + r * v, t = Int(targets[r])
            let u = eps / Float(v)
            mapVec(v, lr, lr, vexp)  // logp is not needed after this: reuse it for p
            for j in 0..<v { gr[j] += s * (lr[j] - u) }
            gr[t] -= s * (1 - eps)
        }
    }
    return out
}

/// Mean squared error over all elements: mean((a - b)^2), a scalar; gradients to both sides.
public func mseLoss(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "mseLoss: shapes \(a.shape) and \(b.shape) differ")
    let n = a.count
    // local functions, not closure literals: the optimizer leaves those as a call per 16 lanes (see FastMath)
    @_transparent func squared(_ x: Vec, _ y: Vec) -> Vec { (x - y) * (x - y) }
    let total = sumVec2(n, a.ptr, b.ptr, squared)
    let out = Tensor(shape: [], values: [total / Float(max(n, 1))])
    Tensor.record(out, inputs: [a, b]) { g in
        let k = 2 * g.ptr[0] / Float(max(n, 1))
        @_transparent func toA(_ x: Vec, _ y: Vec) -> Vec { k * (x - y) }
        @_transparent func toB(_ x: Vec, _ y: Vec) -> Vec { k * (y - x) }
        if a.requiresGrad { accumulateVec2(n, a.ptr, b.ptr, into: a.gradPointer(), toA) }
        if b.requiresGrad { accumulateVec2(n, a.ptr, b.ptr, into: b.gradPointer(), toB) }
    }
    return out
}

/// Inverted dropout: zeroes each element with probability `p` and scales the rest by 1 / (1 - p).
/// The mask is drawn from `rng`, so the same seed gives the same mask. Identity when p == 0.
public func dropout(_ x: Tensor, p: Float, rng: inout RandomGenerator) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability must be in [0, 1), got \(p)")
    if p == 0 { return x }
    let mask = Tensor.uninitialized(x.shape)  // 0 or 1/(1-p), saved for backward
    let keep = 1 / (1 - p)
    for i in 0..<x.count { mask.ptr[i] = rng.nextFloat() < p ? 0 : keep }
    let out = Tensor.uninitialized(x.shape)
    for i in 0..<x.count { out.ptr[i] = x.ptr[i] * mask.ptr[i] }
    Tensor.record(out, inputs: [x]) { g in
        let gx = x.gradPointer()
        for i in 0..<g.count { gx[i] += g.ptr[i] * mask.ptr[i] }
    }
    return out
}
