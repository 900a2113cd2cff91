import Foundation
import Tensor

/// The teacher's top-k targets for some rows of a student's logits: for each target token, the k largest
/// teacher log-probs with their ids and the log of the probability mass left over (the "rest" bucket), all
/// at the temperature `temperature` they were computed at (the `teacher-logits` stage's cache holds them).
///
/// Shapes: M targets, each `k` entries. `positions[m]` is the row of the student's (N, V) logits that
/// predicts target m.
public struct TopKTargets: Sendable {
    /// Entries kept per target.
    public let k: Int
    /// The temperature the teacher's log-probs were computed at.
    public let temperature: Float
    /// (M) student logits row of each target.
    public var positions: [Int]
    /// (M, k) teacher log-probs, largest first.
    public var logProbs: [Float]
    /// (M, k) their vocabulary ids.
    public var ids: [Int32]
    /// (M) log of the teacher's probability outside the k ids (-inf when k is the whole vocabulary).
    public var leftover: [Float]

    public init(k: Int, temperature: Float, positions: [Int], logProbs: [Float], ids: [Int32], leftover: [Float]) {
        precondition(k > 0 && temperature > 0, "TopKTargets: k \(k) and temperature \(temperature) must be positive")
        precondition(logProbs.count == positions.count * k && ids.count == positions.count * k && leftover.count == positions.count,
                     "TopKTargets: \(positions.count) positions need \(positions.count * k) log-probs and ids and \(positions.count) leftovers; got \(logProbs.count), \(ids.count), \(leftover.count)")
        self.k = k
        self.temperature = temperature
        self.positions = positions
        self.logProbs = logProbs
        self.ids = ids
        self.leftover = leftover
    }

    /// Targets in this set.
    public var count: Int { positions.count }

    /// The k + 1 bucket log-probs of target `m` at `temperature` (k entries, then the rest), normalised.
    ///
    /// At the temperature they were computed at they are the stored values, renormalised. At another T they are
    /// re-tempered: each bucket's log-prob is multiplied by T_c / T (T_c the stored temperature) and the k + 1
    /// renormalised. For the k ids this is exact (their ratios are ratios of the teacher's logits); the rest
    /// bucket is treated as one token holding the leftover mass, which under-states its mass when T > T_c and
    /// over-states it when T < T_c (the true value needs the leftover's spread over the vocabulary, not stored).
    public func bucketLogProbs(_ m: Int, at temperature: Float) -> [Float] {
        let ratio = self.temperature / temperature
        var b = [Float](repeating: 0, count: k + 1)
        for j in 0..<k { b[j] = logProbs[m * k + j] * ratio }
        b[k] = leftover[m] * ratio
        let top = b.max()!
        guard top.isFinite else { return b }
        var s: Double = 0
        for v in b where v > -Float.infinity { s += Foundation.exp(Double(v - top)) }
        let z = top + Float(Foundation.log(s))
        return b.map { $0 - z }
    }
}

/// Distillation loss against top-k teacher targets at temperature T, times T^2, averaged over the targets.
///
/// The student's distribution is folded into the same k + 1 buckets as the teacher's: its log-probs at the k
/// ids and log(1 - sum of its probabilities at those ids) for the rest (computed as a log-sum-exp over the
/// other ids, so it does not cancel), so both sides are proper distributions and the divergence is the one
/// `distillationLoss` computes, over buckets. With k = V the rest buckets are empty and the value equals
/// `distillationLoss` on full logits.
///
/// Gradient: for a divergence D(p, q) over buckets, dD/du_i = q_i (dD/dq_b(i) - sum_b q_b dD/dq_b) with u the
/// student's logits over T and b(i) the bucket of token i (a kept id's own bucket, else the rest); the kernel
/// keeps h_b = q_b dD/dq_b, which stays finite when a bucket's mass underflows.
///
/// Shapes: student logits (..., V), one row per position; the teacher side gets no gradient.
public func topKDistillationLoss(student: Tensor, targets: TopKTargets, temperature: Float,
                                 divergence: Divergence = .forwardKL) -> Tensor {
    precondition(temperature > 0, "distillation temperature must be positive, got \(temperature)")
    let v = student.lastDim, rows = student.rows, k = targets.k, count = targets.count
    precondition(k <= v, "topKDistillationLoss: k \(k) exceeds the vocabulary \(v)")
    var kind = divergence
    if case .jsd(let beta) = divergence {
        precondition(beta >= 0 && beta <= 1, "JSD beta must be in [0, 1], got \(beta)")
        if beta == 0 { kind = .forwardKL } else if beta == 1 { kind = .reverseKL }
    }
    let invT = 1 / temperature
    let ls = Tensor.uninitialized([max(count, 1), v])  // (M, V) student log-probs at T of each target's row, saved
    var h = [Float](repeating: 0, count: count * (k + 1))  // (M, k+1) q_b dD/dq_b, saved
    var rest = [Float](repeating: 0, count: count)         // (M) the student's log q_rest, saved
    var scaled = [Float](repeating: 0, count: v)
    var total: Double = 0
    var complement = [Float](repeating: 0, count: v)
    scaled.withUnsafeMutableBufferPointer { scaledBuffer in
        let sp = scaledBuffer.baseAddress!
        for m in 0..<count {
            let r = targets.positions[m]
            precondition(r >= 0 && r < rows, "topKDistillationLoss: target \(m) reads row \(r) of \(rows)")
            let a = ls.ptr + m * v
            vscale(v, invT, student.ptr + r * v, sp)
            logSoftmaxRows(sp, a, rows: 1, cols: v)
            for j in 0..<k {
                let id = Int(targets.ids[m * k + j])
                precondition(id >= 0 && id < v, "topKDistillationLoss: target \(m) names id \(id) outside the vocabulary \(v)")
            }
            let (s, terms) = complement.withUnsafeMutableBufferPointer { c in
                topKRow(a, complement: c.baseAddress!, targets, m, v: v, kind: kind, temperature: temperature)
            }
            rest[m] = terms.restLog
            for b in 0...k { h[m * (k + 1) + b] = terms.h[b] }
            total += s
        }
    }
    let t2 = temperature * temperature
    let out = Tensor(shape: [], values: [Float(total / Double(max(count, 1))) * t2])
    guard count > 0 else {
        Tensor.record(out, inputs: [student]) { _ in _ = student.gradPointer() }  // zero loss, zero gradients
        return out
    }
    let positions = targets.positions, ids = targets.ids
    Tensor.record(out, inputs: [student]) { [h, rest] g in
        // dL/dz_i = (T^2 / T) / M * [ h_b(i) * q_i / q_b(i) - q_i * sum_b h_b ]; for a kept id q_i / q_b(i) = 1
        let gs = student.gradPointer(), scaleFactor = g.ptr[0] * t2 * invT / Float(count)
        var shifted = [Float](repeating: 0, count: v)
        for m in 0..<count {
            let a = ls.ptr + m * v, gr = gs + positions[m] * v, hm = m * (k + 1)
            var sum: Float = 0
            for b in 0...k { sum += h[hm + b] }
            let c2 = scaleFactor * sum
            // local functions, not closure literals: the optimizer leaves those as a call per 16 lanes (see FastMath)
            @_transparent func spread(_ la: Vec, _: Vec) -> Vec { -Vec(repeating: c2) * vexp(la) }
            accumulateVec2(v, a, a, into: gr, spread)
            if rest[m] > -Float.infinity && h[hm + k] != 0 {
                // the rest bucket's ids: q_i / q_rest = exp(ls_i - log q_rest); the kept ids set to -inf give 0
                let c1 = scaleFactor * h[hm + k], restLog = rest[m]
                shifted.withUnsafeMutableBufferPointer { c in
                    let cp = c.baseAddress!
                    cp.update(from: a, count: v)
                    for j in 0..<k { cp[Int(ids[m * k + j])] = -Float.infinity }
                    @_transparent func restShare(_ x: Vec, _: Vec) -> Vec { Vec(repeating: c1) * vexp(x - Vec(repeating: restLog)) }
                    accumulateVec2(v, cp, cp, into: gr, restShare)
                }
            }
            for j in 0..<k { gr[Int(ids[m * k + j])] += scaleFactor * h[hm + j] }
        }
    }
    return out
}

/// One row's divergence over the top-k buckets of target `m` (before T^2 and the mean; `topKDistillationLoss`'s), from
/// the student's log-probs at T in `ls`. Leaves in `complement` the log-probs
/// with the kept ids at -inf, and returns with the divergence what the gradient needs: q_b dD/dq_b of each of the
/// k + 1 buckets and the student's log q_rest.
@inline(__always)
func topKRow(_ ls: UnsafeMutablePointer<Float>, complement cp: UnsafeMutablePointer<Float>, _ targets: TopKTargets, _ m: Int,
             v: Int, kind: Divergence, temperature: Float) -> (kd: Double, terms: (h: [Float], restLog: Float)) {
    let k = targets.k
    cp.update(from: ls, count: v)
    for j in 0..<k { cp[Int(targets.ids[m * k + j])] = -Float.infinity }
    var restLog = -Float.infinity
    let top = vmax(cp, v)
    if top > -Float.infinity {
        restLog = top + Foundation.log(sumExpShifted(v, cp, shift: top))
    }
    var la = [Float](repeating: 0, count: k + 1)
    for b in 0..<k { la[b] = ls[Int(targets.ids[m * k + b])] }
    la[k] = restLog
    let (s, h) = topKBucketDivergence(la, targets, m, kind: kind, temperature: temperature)
    return (s, (h, restLog))
}

/// The divergence of target `m`'s k + 1 buckets from the student's bucket log-probs `la` (the k kept ids', then the
/// rest's), before T^2 and the mean, and q_b dD/dq_b of each bucket (what the gradient needs).
func topKBucketDivergence(_ la: [Float], _ targets: TopKTargets, _ m: Int, kind: Divergence, temperature: Float) -> (kd: Double, h: [Float]) {
    let k = targets.k
    let lb = targets.bucketLogProbs(m, at: temperature)
    var h = [Float](repeating: 0, count: k + 1)
    var s: Double = 0
    for b in 0...k {
        let la = la[b]
        let pb = lb[b] == -Float.infinity ? 0 : Foundation.exp(lb[b])
        let qa = la == -Float.infinity ? 0 : Foundation.exp(la)
        switch kind {
        case .forwardKL:
            if pb > 0 { s += Double(pb * (lb[b] - la)) }
            h[b] = -pb
        case .reverseKL:
            if qa > 0 { s += Double(qa * (la - lb[b])) }
            h[b] = qa > 0 ? qa * (la - lb[b] + 1) : 0
        case .jsd(let beta):
            let lm = topKLogMixture(la, lb[b], beta)
            if pb > 0 { s += Double(beta * pb * (lb[b] - lm)) }
            if qa > 0 { s += Double((1 - beta) * qa * (la - lm)) }
            h[b] = qa > 0 ? qa * (1 - beta) * (la - lm) : 0
        }
    }
    return (s, h)
}

/// log(beta e^lt + (1 - beta) e^ls) as a log-sum-exp (as `distillationLoss`'s mixture); -inf when both are.
@inline(__always)
func topKLogMixture(_ ls: Float, _ lt: Float, _ beta: Float) -> Float {
    let x = Foundation.log(beta) + lt, y = Foundation.log(1 - beta) + ls
    let m = max(x, y)
    guard m > -Float.infinity else { return -Float.infinity }
    return m + Foundation.log1p(Foundation.exp(-abs(x - y)))
}
