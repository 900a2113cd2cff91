import Foundation
import Tensor

/// Which divergence between the teacher's and the student's temperature-softened distributions.
public enum Divergence: Sendable, Equatable, Codable {
    /// KL(teacher || student), Hinton et al. 2015 (mode-covering; the classic distillation loss).
    case forwardKL
    /// KL(student || teacher) (mode-seeking, as MiniLLM).
    case reverseKL
    /// Generalised Jensen-Shannon with weight beta on the teacher (Agarwal et al. 2024, GKD; as TRL):
    /// beta KL(p_t || m) + (1 - beta) KL(p_s || m), m = beta p_t + (1 - beta) p_s. beta 0 is forward
    /// KL and beta 1 is reverse KL, as TRL's generalized_jsd_loss defines the ends.
    case jsd(beta: Float)
}

/// Distillation loss between student and teacher logits at temperature T, times T^2 (Hinton et al.
/// 2015: keeps the gradient scale independent of T), averaged over the rows in `rowMask` (all when nil).
///
/// Fused: both softmaxes, the divergence and its gradient in one kernel. The teacher never gets a
/// gradient. Shapes: student and teacher logits (..., V), one row per position.
public func distillationLoss(student: Tensor, teacher: Tensor, temperature: Float, divergence: Divergence = .forwardKL,
                             rowMask: [Bool]? = nil) -> Tensor {
    precondition(student.shape == teacher.shape, "distillationLoss: student \(student.shape) and teacher \(teacher.shape) logits differ")
    precondition(temperature > 0, "distillation temperature must be positive, got \(temperature)")
    let v = student.lastDim, rows = student.rows
    precondition(rowMask == nil || rowMask!.count == rows, "distillationLoss: row mask has \(rowMask!.count) entries for \(rows) rows")
    var kind = divergence
    if case .jsd(let beta) = divergence {
        precondition(beta >= 0 && beta <= 1, "JSD beta must be in [0, 1], got \(beta)")
        if beta == 0 { kind = .forwardKL } else if beta == 1 { kind = .reverseKL }
    }
    let invT = 1 / temperature
    let ls = Tensor.uninitialized(student.shape), lt = Tensor.uninitialized(student.shape)  // log-probs at T, saved
    let scaledS = Tensor.uninitialized(student.shape), scaledT = Tensor.uninitialized(student.shape)
    vscale(student.count, invT, student.ptr, scaledS.ptr)
    vscale(teacher.count, invT, teacher.ptr, scaledT.ptr)
    logSoftmaxRows(scaledS.ptr, ls.ptr, rows: rows, cols: v)
    logSoftmaxRows(scaledT.ptr, lt.ptr, rows: rows, cols: v)
    let included = (0..<rows).filter { rowMask?[$0] ?? true }
    var total: Double = 0
    for r in included {
        let a = ls.ptr + r * v, b = lt.ptr + r * v
        var s: Float = 0
        // local functions, not closure literals: the optimizer leaves those as a call per 16 lanes (see FastMath)
        @_transparent func forwardTerm(_ la: Vec, _ lb: Vec) -> Vec { vexp(lb) * (lb - la) }
        @_transparent func reverseTerm(_ la: Vec, _ lb: Vec) -> Vec { vexp(la) * (la - lb) }
        switch kind {
        case .forwardKL:
            s = sumVec2(v, a, b, forwardTerm)
        case .reverseKL:
            s = sumVec2(v, a, b, reverseTerm)
        case .jsd(let beta):
            for j in 0..<v {
                let ps = fexp(a[j]), pt = fexp(b[j])
                let lm = logMixture(a[j], b[j], beta)
                s += beta * pt * (b[j] - lm) + (1 - beta) * ps * (a[j] - lm)
            }
        }
        total += Double(s)
    }
    let t2 = temperature * temperature
    let count = max(included.count, 1)
    let out = Tensor(shape: [], values: [Float(total / Double(count)) * t2])
    guard !included.isEmpty else {
        Tensor.record(out, inputs: [student]) { _ in _ = student.gradPointer() }  // zero loss, zero gradients
        return out
    }
    Tensor.record(out, inputs: [student]) { g in
        // dL/dz_s = (T^2 / T) * p_s * (q - <p_s, q>) / rows with q = dL/dp_s per divergence;
        // forward KL simplifies to T (p_s - p_t) / rows.
        let gs = student.gradPointer(), k = g.ptr[0] * t2 * invT / Float(count)
        var q = [Float](repeating: 0, count: v)
        @_transparent func forwardGradient(_ la: Vec, _ lb: Vec) -> Vec { k * (vexp(la) - vexp(lb)) }
        @_transparent func weighted(_ la: Vec, _ qv: Vec) -> Vec { vexp(la) * qv }
        for r in included {
            let a = ls.ptr + r * v, b = lt.ptr + r * v, gr = gs + r * v
            switch kind {
            case .forwardKL:
                accumulateVec2(v, a, b, into: gr, forwardGradient)
                continue
            case .reverseKL:
                for j in 0..<v { q[j] = a[j] - b[j] + 1 }
            case .jsd(let beta):
                for j in 0..<v { q[j] = (1 - beta) * (a[j] - logMixture(a[j], b[j], beta)) }
            }
            q.withUnsafeBufferPointer { q in
                let mean = sumVec2(v, a, q.baseAddress!, weighted)
                @_transparent func gradient(_ la: Vec, _ qv: Vec) -> Vec { k * vexp(la) * (qv - mean) }
                accumulateVec2(v, a, q.baseAddress!, into: gr, gradient)
            }
        }
    }
    return out
}

/// log(beta e^lt + (1 - beta) e^ls) computed as a log-sum-exp, finite even when both
/// probabilities underflow (as TRL's mixture of log-probs).
@inline(__always)
func logMixture(_ ls: Float, _ lt: Float, _ beta: Float) -> Float {
    let x = Foundation.log(beta) + lt, y = Foundation.log(1 - beta) + ls
    let m = max(x, y)
    return m + Foundation.log1p(Foundation.exp(-abs(x - y)))
}

/// Attention-map MSE between a student layer's probabilities (B, Hs, T, T) and a teacher layer's
/// (B, Ht, T, T). When the head counts differ, the teacher's heads are averaged in consecutive groups of
/// Ht / Hs into each student head (Ht a multiple of Hs), or each teacher head is repeated for Hs / Ht
/// consecutive student heads (Hs a multiple of Ht). The teacher side gets no gradient.
public func attentionMapLoss(student: Tensor, teacher: Tensor) -> Tensor {
    precondition(student.rank == 4 && teacher.rank == 4 && student.shape[0] == teacher.shape[0]
                 && student.shape[2...] == teacher.shape[2...],
                 "attentionMapLoss: student \(student.shape) and teacher \(teacher.shape) must be (B, H, T, S) with equal B, T, S")
    let hs = student.shape[1], ht = teacher.shape[1]
    precondition(ht % hs == 0 || hs % ht == 0, "attentionMapLoss: head counts \(hs) (student) and \(ht) (teacher) must divide one another")
    let b = student.shape[0], plane = student.shape[2] * student.shape[3]
    let target = Tensor(zeros: student.shape)
    for bi in 0..<b {
        for h in 0..<hs {
            let dst = target.ptr + (bi * hs + h) * plane
            if ht >= hs {
                let group = ht / hs
                for j in 0..<group { vaxpy(plane, 1 / Float(group), teacher.ptr + (bi * ht + h * group + j) * plane, dst) }
            } else {
                dst.update(from: teacher.ptr + (bi * ht + h / (hs / ht)) * plane, count: plane)
            }
        }
    }
    return mseLoss(student, target)
}
