import Foundation

// Normalisations over the last axis. Shapes: x (R, C), weight/bias (C). Forward saves the per-row
// reciprocal RMS (or mean and reciprocal std) that backward needs.

/// RMSNorm as Llama computes it: y = x / sqrt(mean(x^2) + eps) * weight.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
    let c = x.lastDim, rows = x.rows
    precondition(weight.shape == [c], "rmsNorm weight \(weight.shape) does not match last dim of \(x.shape)")
    let out = Tensor.uninitialized(x.shape)
    let rrms = Tensor.uninitialized([rows])  // (R) saved for backward
    let px = x.ptr, pw = weight.ptr, po = out.ptr, pr = rrms.ptr
    Parallel.forRanges(rows, work: rows * c * 3) { range in
        for r in range {
            let xr = px + r * c, yr = po + r * c
            let inv = 1 / (vdot(xr, xr, c) / Float(c) + eps).squareRoot()
            pr[r] = inv
            for j in 0..<c { yr[j] = xr[j] * inv * pw[j] }
        }
    }
    Tensor.record(out, inputs: [x, weight]) { g in
        // dx = rrms * (w*dy) - rrms^3 / C * x * sum(w*dy*x);  dw = sum_rows dy * x * rrms
        let pr = rrms.ptr  // through the tensor, so the closure keeps the saved buffer alive
        let gx = x.requiresGrad ? x.gradForWrite() : nil
        let keepX: Float = gx?.fresh == false ? 1 : 0
        // dw is a sum over rows: each of the fixed parts sums its rows, then the parts are added in
        // order, so the result does not depend on how many threads ran them
        let parts = Parallel.fixedParts(rows)
        let dw: Tensor? = weight.requiresGrad ? Tensor(zeros: [parts, c]) : nil
        Parallel.forParts(parts, work: rows * c * 6) { part in
            let dwp = dw.map { $0.ptr + part * c }
            for r in (rows * part / parts)..<(rows * (part + 1) / parts) {
                let xr = px + r * c, gr = g.ptr + r * c, inv = pr[r]
                if let gx = gx?.pointer {
                    let k = inv * inv * inv * vdot3(pw, gr, xr, c) / Float(c)
                    let gxr = gx + r * c
                    var j = 0
                    while j + simdWidth <= c {
                        let w = UnsafeRawPointer(pw + j).loadUnaligned(as: Vec.self)
                        let d = UnsafeRawPointer(gr + j).loadUnaligned(as: Vec.self)
                        let xv = UnsafeRawPointer(xr + j).loadUnaligned(as: Vec.self)
                        var v = inv * w * d - k * xv
                        if keepX != 0 { v += UnsafeRawPointer(gxr + j).loadUnaligned(as: Vec.self) }
                        UnsafeMutableRawPointer(gxr + j).storeBytes(of: v, as: Vec.self)
                        j += simdWidth
                    }
                    while j < c { gxr[j] = (keepX != 0 ? gxr[j] : 0) + inv * pw[j] * gr[j] - k * xr[j]; j += 1 }
                }
                if let dwp { for j in 0..<c { dwp[j] += gr[j] * xr[j] * inv } }
            }
        }
        if let dw {
            let gw = weight.gradPointer()
            for part in 0..<parts { vaxpy(c, 1, dw.ptr + part * c, gw) }
        }
    }
    return out
}

/// LayerNorm: y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance, as PyTorch).
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
    let c = x.lastDim, rows = x.rows
    precondition(weight.shape == [c] && bias.shape == [c],
                 "layerNorm weight \(weight.shape) / bias \(bias.shape) do not match last dim of \(x.shape)")
    let out = Tensor.uninitialized(x.shape)
    let xhat = Tensor.uninitialized(x.shape)  // (R, C) normalised input, saved
    let rstd = Tensor.uninitialized([rows])   // (R)
    let px = x.ptr, pw = weight.ptr, pb = bias.ptr
    for r in 0..<rows {
        let xr = px + r * c
        let mu = vsum(xr, c) / Float(c)
        var v: Float = 0
        for j in 0..<c { let d = xr[j] - mu; v += d * d }
        let inv = 1 / (v / Float(c) + eps).squareRoot()
        rstd.ptr[r] = inv
        for j in 0..<c {
            let h = (xr[j] - mu) * inv
            xhat.ptr[r * c + j] = h
            out.ptr[r * c + j] = h * pw[j] + pb[j]
        }
    }
    Tensor.record(out, inputs: [x, weight, bias]) { g in
        // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * w
        let gx = x.requiresGrad ? x.gradPointer() : nil
        let gw = weight.requiresGrad ? weight.gradPointer() : nil
        let gb = bias.requiresGrad ? bias.gradPointer() : nil
        for r in 0..<rows {
            let gr = g.ptr + r * c, hr = xhat.ptr + r * c
            if let gx {
                var m1: Float = 0, m2: Float = 0
                for j in 0..<c { let d = gr[j] * pw[j]; m1 += d; m2 += d * hr[j] }
                m1 /= Float(c); m2 /= Float(c)
                let gxr = gx + r * c, inv = rstd.ptr[r]
                for j in 0..<c { gxr[j] += inv * (gr[j] * pw[j] - m1 - hr[j] * m2) }
            }
            if let gw { for j in 0..<c { gw[j] += gr[j] * hr[j] } }
            if let gb { for j in 0..<c { gb[j] += gr[j] } }
        }
    }
    return out
}
