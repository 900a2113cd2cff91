import Foundation

// Row-wise softmax family over the last axis. Shapes: x (R, C) with R = rows, C = last dim.

/// Writes softmax of each row of `x` into `y` (max-subtracted, vectorised exp, relaxed sums).
@inline(__always)
public func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols c: Int) {
    Parallel.forRanges(rows, work: rows * c * 4) { range in
        for r in range {
            let xr = x + r * c, yr = y + r * c
            let m = vmax(xr, c)
            if m == -.infinity {  // fully masked row: define as zeros
                yr.update(repeating: 0, count: c)
                continue
            }
            let inv = 1 / expShiftedSum(c, xr, yr, shift: m)
            vscale(c, inv, yr, yr)
        }
    }
}

/// Softmax over the last axis.
public func softmax(_ x: Tensor) -> Tensor {
    let c = x.lastDim, rows = x.rows
    let out = Tensor.uninitialized(x.shape)
    softmaxRows(x.ptr, out.ptr, rows: rows, cols: c)
    let y = out.detached()
    Tensor.record(out, inputs: [x]) { g in
        // dx = y * (dy - sum(dy * y))
        let gx = x.gradPointer()
        for r in 0..<rows {
            let yr = y.ptr + r * c, gr = g.ptr + r * c, gxr = gx + r * c
            let d = vdot(gr, yr, c)
            for j in 0..<c { gxr[j] += yr[j] * (gr[j] - d) }
        }
    }
    return out
}

/// Log-softmax over the last axis. A row that is entirely -inf has no distribution and gives NaN.
public func logSoftmax(_ x: Tensor) -> Tensor {
    let c = x.lastDim, rows = x.rows
    let out = Tensor.uninitialized(x.shape)
    logSoftmaxRows(x.ptr, out.ptr, rows: rows, cols: c)
    let y = out.detached()
    Tensor.record(out, inputs: [x]) { g in
        // dx = dy - softmax * sum(dy)
        let gx = x.gradPointer()
        for r in 0..<rows {
            let yr = y.ptr + r * c, gr = g.ptr + r * c, gxr = gx + r * c
            let s = vsum(gr, c)
            for j in 0..<c { gxr[j] += gr[j] - fexp(yr[j]) * s }
        }
    }
    return out
}

/// Writes log-softmax of each row of `x` into `y`.
@inline(__always)
public func logSoftmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols c: Int) {
    Parallel.forRanges(rows, work: rows * c * 4) { range in
        for r in range {
            let xr = x + r * c, yr = y + r * c
            let m = vmax(xr, c)
            let lse = m + Foundation.log(expShiftedSum(c, xr, yr, shift: m))
            @_transparent func normalized(_ v: Vec) -> Vec { v - lse }  // not a closure literal: see FastMath
            mapVec(c, xr, yr, normalized)
        }
    }
}

/// Sets entries above the causal diagonal of the last two dims (T, S) to -inf: query i (at absolute
/// position S - T + i) may see keys 0...S-T+i. The gradient passes through unmasked entries only.
public func causalMask(_ x: Tensor) -> Tensor {
    precondition(x.rank >= 2, "causalMask needs rank >= 2, got \(x.shape)")
    let t = x.shape[x.rank - 2], s = x.shape[x.rank - 1]
    precondition(s >= t, "causalMask needs keys >= queries, got \(x.shape)")
    let out = x.copy()
    let planes = x.count / (t * s)
    for p in 0..<planes {
        for i in 0..<t {
            let row = out.ptr + (p * t + i) * s
            for j in (s - t + i + 1)..<s { row[j] = -.infinity }
        }
    }
    Tensor.record(out, inputs: [x]) { g in
        let gx = x.gradPointer()
        for p in 0..<planes {
            for i in 0..<t {
                let o = (p * t + i) * s
                for j in 0...(s - t + i) { gx[o + j] += g.ptr[o + j] }
            }
        }
    }
    return out
}
