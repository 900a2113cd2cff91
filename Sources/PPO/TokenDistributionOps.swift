import Foundation
import Tensor

// Fused per-token ops on next-token logits for PPO. Shapes: logits (R, V) (R = B*T rows, V vocabulary),
// targets and mask (R). Both ops work on the temperature-scaled distribution p = softmax(logits / T), so a
// policy sampled at T is scored at T. Rows whose mask is 0 (prompt, padding) are skipped: output 0 and
// no gradient, which also skips their work. Forward keeps one float per row (the log-sum-exp) for backward,
// which recomputes p with the vector exp instead of storing the (R, V) softmax.

/// log p(target) per row with p = softmax(logits / temperature): (R, V) -> (R).
/// - Parameters:
///   - logits: (R, V) next-token logits (any shape whose last dim is V).
///   - targets: the chosen token of each row.
///   - mask: nil (every row) or one 0/1 value per row.
public func selectedLogProbs(_ logits: Tensor, targets: [Int32], temperature: Float = 1, mask: [Float]? = nil) -> Tensor {
    let v = logits.lastDim, rows = logits.rows
    precondition(targets.count == rows, "selectedLogProbs: \(targets.count) targets for \(rows) rows of \(logits.shape)")
    precondition(mask == nil || mask!.count == rows, "selectedLogProbs: mask of \(mask!.count) for \(rows) rows")
    precondition(temperature > 0, "selectedLogProbs: temperature must be > 0, got \(temperature)")
    let inv = 1 / temperature
    let out = Tensor.uninitialized([rows])
    let lse = [Float](unsafeUninitializedCapacity: rows) { buf, n in
        n = rows
        Parallel.forRanges(rows, work: rows * v * 4) { range in
            for r in range {
                let active = mask.map { $0[r] != 0 } ?? true
                guard active else { buf[r] = 0; out.ptr[r] = 0; continue }
                let t = Int(targets[r])
                precondition(t >= 0 && t < v, "selectedLogProbs: target \(t) outside 0..<\(v) at row \(r)")
                let l = rowLogSumExp(logits.ptr + r * v, v, inv)
                buf[r] = l
                out.ptr[r] = logits.ptr[r * v + t] * inv - l
            }
        }
    }
    Tensor.record(out, inputs: [logits]) { g in
        // d log p_t / d logits_j = (onehot_j - p_j) / T
        let gl = logits.gradPointer()
        Parallel.forRanges(rows, work: rows * v * 6) { range in
            for r in range where mask.map({ $0[r] != 0 }) ?? true {
                let gr = g.ptr[r] * inv
                guard gr != 0 else { continue }
                let x = logits.ptr + r * v, gx = gl + r * v, l = lse[r]
                addScaledSoftmax(x, gx, v, inv, l, -gr)
                gx[Int(targets[r])] += gr
            }
        }
    }
    return out
}

/// Entropy (nats) of softmax(logits / temperature) per row: (R, V) -> (R); the gradient flows to the logits.
public func tokenEntropy(_ logits: Tensor, temperature: Float = 1, mask: [Float]? = nil) -> Tensor {
    let v = logits.lastDim, rows = logits.rows
    precondition(mask == nil || mask!.count == rows, "tokenEntropy: mask of \(mask!.count) for \(rows) rows")
    precondition(temperature > 0, "tokenEntropy: temperature must be > 0, got \(temperature)")
    let inv = 1 / temperature
    let out = Tensor.uninitialized([rows])
    let lse = [Float](unsafeUninitializedCapacity: rows) { buf, n in
        n = rows
        Parallel.forRanges(rows, work: rows * v * 6) { range in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: v)
            defer { p.deallocate() }
            for r in range {
                guard mask.map({ $0[r] != 0 }) ?? true else { buf[r] = 0; out.ptr[r] = 0; continue }
                let x = logits.ptr + r * v
                let l = rowLogSumExp(x, v, inv)
                buf[r] = l
                // H = lse - sum_j p_j z_j with z = x / T
                @_transparent func probability(_ z: Vec) -> Vec { vexp(z * inv - l) }  // not a closure literal: see FastMath
                mapVec(v, x, p, probability)
                out.ptr[r] = l - vdot(p, x, v) * inv
            }
        }
    }
    let h = out.detached()
    Tensor.record(out, inputs: [logits]) { g in
        // dH/dz_j = -p_j (log p_j + H) = -p_j (z_j - lse + H); dz/dlogits = 1 / T
        let gl = logits.gradPointer()
        Parallel.forRanges(rows, work: rows * v * 8) { range in
            for r in range where mask.map({ $0[r] != 0 }) ?? true {
                let gr = g.ptr[r] * inv
                guard gr != 0 else { continue }
                let x = logits.ptr + r * v, gx = gl + r * v
                let l = lse[r], shift = h.ptr[r] - l
                var j = 0
                while j + simdWidth <= v {
                    let z = UnsafeRawPointer(x + j).loadUnaligned(as: Vec.self) * inv
                    let p = vexp(z - l)
                    let cur = UnsafeRawPointer(gx + j).loadUnaligned(as: Vec.self)
                    UnsafeMutableRawPointer(gx + j).storeBytes(of: cur - gr * p * (z + shift), as: Vec.self)
                    j += simdWidth
                }
                while j < v {
                    let z = x[j] * inv, p = fexp(z - l)
                    gx[j] -= gr * p * (z + shift)
                    j += 1
                }
            }
        }
    }
    return out
}

/// log sum_j exp(x_j * inv) for one row of `n` (max-subtracted, vector exp).
@inline(__always)
func rowLogSumExp(_ x: UnsafePointer<Float>, _ n: Int, _ inv: Float) -> Float {
    let m = vmax(x, n) * inv  // inv > 0, so the max commutes with the scaling
    var acc = Vec()
    var j = 0
    while j + simdWidth <= n {
        acc += vexp(UnsafeRawPointer(x + j).loadUnaligned(as: Vec.self) * inv - m)
        j += simdWidth
    }
    var s = laneSum(acc)
    while j < n { s += fexp(x[j] * inv - m); j += 1 }
    return m + Foundation.log(s)
}

/// gx_j += scale * exp(x_j * inv - lse) over one row of `n`.
@inline(__always)
func addScaledSoftmax(_ x: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ n: Int, _ inv: Float,
                      _ lse: Float, _ scale: Float) {
    var j = 0
    while j + simdWidth <= n {
        let p = vexp(UnsafeRawPointer(x + j).loadUnaligned(as: Vec.self) * inv - lse)
        let cur = UnsafeRawPointer(gx + j).loadUnaligned(as: Vec.self)
        UnsafeMutableRawPointer(gx + j).storeBytes(of: cur + scale * p, as: Vec.self)
        j += simdWidth
    }
    while j < n { gx[j] += scale * fexp(x[j] * inv - lse); j += 1 }
}
