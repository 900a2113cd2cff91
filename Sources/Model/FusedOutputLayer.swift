import Foundation
import Tensor

// The output layer fused with its losses and chunked over tokens (as Liger-Kernel's fused linear
// cross-entropy / JSD): the vocabulary projection, CE, the temperature divergence and their gradients run
// chunk by chunk, so only one chunk's student logits, teacher logits and logit gradient exist at a time.
// Shapes: N rows (tokens), C hidden width (Ct the teacher's), V vocabulary, R rows in one chunk.

/// The loss terms of the output layer: weight_kd * T^2 * D(teacher_T || student_T) + weight_ce * CE, as the
/// distillation stages combine them (weight_kd = alpha, weight_ce = 1 - alpha).
public struct OutputLossTerms: Sendable, Equatable {
    /// Weight of the distillation term (0: no teacher needed).
    public var distillationWeight: Float
    /// Weight of the cross-entropy term.
    public var crossEntropyWeight: Float
    /// Softmax temperature of the distillation term (the T^2 factor is included, as `distillationLoss`).
    public var temperature: Float
    /// Which divergence the distillation term is.
    public var divergence: Divergence
    /// CE label smoothing eps: targets (1 - eps) one-hot + eps / V (as PyTorch).
    public var labelSmoothing: Float
    /// Rows whose target is this get no CE (prompt and padding positions).
    public var ignoreIndex: Int32

    public init(distillationWeight: Float = 0, crossEntropyWeight: Float = 1, temperature: Float = 1,
                divergence: Divergence = .forwardKL, labelSmoothing: Float = 0, ignoreIndex: Int32 = -100) {
        self.distillationWeight = distillationWeight
        self.crossEntropyWeight = crossEntropyWeight
        self.temperature = temperature
        self.divergence = divergence
        self.labelSmoothing = labelSmoothing
        self.ignoreIndex = ignoreIndex
    }

    /// Cross-entropy alone (teacher-sft, baseline-ce, a plain training step).
    public static func crossEntropy(labelSmoothing: Float = 0, ignoreIndex: Int32 = -100) -> OutputLossTerms {
        OutputLossTerms(labelSmoothing: labelSmoothing, ignoreIndex: ignoreIndex)
    }
}

/// The result of `fusedOutputLoss`: the weighted loss (a scalar that backpropagates) and its two parts.
public struct FusedOutputLoss {
    /// weight_kd * kd + weight_ce * ce, recorded for backward.
    public let loss: Tensor
    /// T^2 times the mean divergence over the masked rows (0 when no teacher was given or no row counts).
    public let distillation: Float
    /// The mean cross-entropy over rows with a target (0 when none has one).
    public let crossEntropy: Float
}

/// How many rows one chunk of the fused output layer holds.
public enum OutputChunking {
    /// Floats one chunk's logits buffer may hold (16M floats, 64 MB): at a 49,152 vocabulary 256-341 rows, so the
    /// projections stay large enough for sgemm's full speed while the student logits, the teacher logits and
    /// the gradient together stay near 130 MB per share instead of 3 x N x V. Set it before work starts.
    public nonisolated(unsafe) static var maximumElements = 1 << 24

    /// The training stages take the fused path from this vocabulary size up. Below it the whole logits are small,
    /// and the unfused path measured faster on the smoke curriculum (vocabulary 97, 2026-12-05, Sapphire Rapids:
    /// baseline-ce 76 against 65 steps/s, feature-align 28 against 26) and keeps earlier runs' results bit for
    /// bit. `distill` reads `TRACEDISTILL_FUSED_MIN_VOCAB` into it at start (0: always fused). Set it before work starts.
    public nonisolated(unsafe) static var minimumVocabulary = 4096

    /// Whether a stage should use the fused path for a model of this vocabulary (see `minimumVocabulary`).
    public static func applies(vocabulary: Int) -> Bool { vocabulary >= minimumVocabulary }

    /// Rows per chunk for `rows` rows over a vocabulary of `vocabulary`: as many as fit `maximumElements`
    /// (at least 16), balanced so the last chunk is not a sliver.
    public static func rowsPerChunk(rows: Int, vocabulary: Int) -> Int {
        let cap = max(16, maximumElements / max(vocabulary, 1))
        guard rows > cap else { return max(rows, 1) }
        let chunks = (rows + cap - 1) / cap
        return (rows + chunks - 1) / chunks
    }
}

/// The output projection fused with CE and a temperature divergence, chunked over rows.
///
/// Equals `linear(hidden, weight)` followed by `distillationLoss` (against `linear(teacherHidden,
/// teacherWeight)`) and `crossEntropy`, weighted by `terms`, within float rounding; the logits are never whole.
/// The gradients with respect to `hidden` and `weight` (when they require one) are computed chunk by chunk in
/// this call and kept (N x C and V x C, the sizes of the inputs), so backward only scales them by the upstream
/// gradient. The teacher side gets no gradient.
///
/// With `topK` in place of the teacher's hidden states and weight, the divergence is `topKDistillationLoss`'s: over
/// the teacher's cached top-k buckets and the rest, averaged over the targets (each names the row that predicts it),
/// again within float rounding and without the (N, V) logits or log-probs.
/// - Parameters:
///   - hidden: the student's final hidden states (..., C), one row per position.
///   - weight: the student's output weight (V, C) (`lm_head`, or the embedding when tied).
///   - teacherHidden: the teacher's final hidden states (..., Ct) on the same rows; nil when the distillation
///     weight is 0.
///   - teacherWeight: the teacher's output weight (V, Ct).
///   - targets: next-token ids per row (`terms.ignoreIndex` where there is none); nil for no CE.
///   - rowMask: rows the divergence averages over (nil: all); not used with `topK`.
///   - topK: the teacher's cached top-k targets, at most one per row (instead of `teacherHidden` and `teacherWeight`).
///   - chunkRows: rows per chunk (default `OutputChunking.rowsPerChunk`).
public func fusedOutputLoss(hidden: Tensor, weight: Tensor, teacherHidden: Tensor? = nil, teacherWeight: Tensor? = nil,
                            targets: [Int32]?, rowMask: [Bool]? = nil, topK: TopKTargets? = nil, terms: OutputLossTerms,
                            chunkRows: Int? = nil) -> FusedOutputLoss {
    let c = hidden.lastDim, n = hidden.rows, v = weight.rows
    precondition(weight.rank == 2 && weight.lastDim == c, "fusedOutputLoss: weight \(weight.shape) does not fit hidden \(hidden.shape) (needs (V, \(c)))")
    precondition(targets == nil || targets!.count == n, "fusedOutputLoss: \(targets!.count) targets for \(n) rows")
    precondition(rowMask == nil || rowMask!.count == n, "fusedOutputLoss: row mask has \(rowMask!.count) entries for \(n) rows")
    precondition(terms.temperature > 0, "distillation temperature must be positive, got \(terms.temperature)")
    precondition(terms.labelSmoothing >= 0 && terms.labelSmoothing < 1, "label smoothing must be in [0, 1), got \(terms.labelSmoothing)")
    let distilling = terms.distillationWeight != 0 || teacherHidden != nil || topK != nil
    var kind = terms.divergence
    if case .jsd(let beta) = kind {
        precondition(beta >= 0 && beta <= 1, "JSD beta must be in [0, 1], got \(beta)")
        if beta == 0 { kind = .forwardKL } else if beta == 1 { kind = .reverseKL }
    }
    // with top-k targets: the target each row predicts (-1: none)
    var targetOfRow = [Int](repeating: -1, count: topK == nil ? 0 : n)
    if let topK {
        precondition(teacherHidden == nil && teacherWeight == nil, "fusedOutputLoss: top-k targets replace the teacher's hidden states and weight")
        precondition(rowMask == nil, "fusedOutputLoss: a row mask does not apply to top-k targets (their positions choose the rows)")
        precondition(topK.k <= v, "fusedOutputLoss: k \(topK.k) exceeds the vocabulary \(v)")
        for (m, r) in topK.positions.enumerated() {
            precondition(r >= 0 && r < n, "fusedOutputLoss: target \(m) reads row \(r) of \(n)")
            precondition(targetOfRow[r] < 0, "fusedOutputLoss: targets \(targetOfRow[r]) and \(m) both read row \(r)")
            targetOfRow[r] = m
        }
        for id in topK.ids { precondition(id >= 0 && Int(id) < v, "fusedOutputLoss: a top-k target names id \(id) outside the vocabulary \(v)") }
    } else if distilling {
        guard let th = teacherHidden, let tw = teacherWeight else {
            preconditionFailure("fusedOutputLoss: a distillation weight of \(terms.distillationWeight) needs the teacher's hidden states and output weight")
        }
        precondition(th.rows == n && tw.rank == 2 && tw.rows == v && tw.lastDim == th.lastDim,
                     "fusedOutputLoss: teacher hidden \(th.shape) and weight \(tw.shape) do not fit \(n) rows over a vocabulary of \(v)")
    }
    let ceRows = targets.map { t in (0..<n).filter { t[$0] != terms.ignoreIndex } } ?? []
    for r in ceRows { precondition(targets![r] >= 0 && Int(targets![r]) < v, "fusedOutputLoss: target \(targets![r]) outside 0..<\(v) at row \(r)") }
    let kdCount = topK?.count ?? (distilling ? (rowMask?.reduce(0) { $0 + ($1 ? 1 : 0) } ?? n) : 0)
    let wantsGrad = GradMode.isEnabled && (hidden.requiresGrad || weight.requiresGrad)
    // per-unit-of-loss factors of each row's logit gradient: CE (p - q) / count, KD T (...) / count (T^2 / T)
    let ceScale = ceRows.isEmpty ? 0 : terms.crossEntropyWeight / Float(ceRows.count)
    let kdScale = kdCount == 0 ? 0 : terms.distillationWeight * terms.temperature / Float(kdCount)
    let rowsPerChunk = chunkRows ?? OutputChunking.rowsPerChunk(rows: n, vocabulary: v)
    precondition(rowsPerChunk >= 1, "fusedOutputLoss: chunk of \(rowsPerChunk) rows")

    var ceLoss = [Double](repeating: 0, count: n), kdLoss = [Double](repeating: 0, count: n)  // per row, summed in order
    let gradHidden = wantsGrad && hidden.requiresGrad ? Tensor.uninitialized([n, c]) : nil  // (N, C)
    let gradWeight = wantsGrad && weight.requiresGrad ? Tensor.uninitialized([v, c]) : nil  // (V, C)
    let chunkCap = min(rowsPerChunk, n)
    let z = Tensor.uninitialized([chunkCap, v])  // (R, V) student logits, then their gradient
    let u = distilling && topK == nil ? Tensor.uninitialized([chunkCap, v]) : nil  // (R, V) teacher logits
    var lo = 0
    while lo < n {
        let r = min(rowsPerChunk, n - lo)
        sgemm(transA: false, transB: true, m: r, n: v, k: c, a: hidden.ptr + lo * c, lda: c, b: weight.ptr, ldb: c,
              beta: 0, c: z.ptr, ldc: v)
        if let u, let th = teacherHidden, let tw = teacherWeight {
            let ct = th.lastDim
            sgemm(transA: false, transB: true, m: r, n: v, k: ct, a: th.ptr + lo * ct, lda: ct, b: tw.ptr, ldb: ct,
                  beta: 0, c: u.ptr, ldc: v)
        }
        let base = lo
        ceLoss.withUnsafeMutableBufferPointer { ceOut in
            kdLoss.withUnsafeMutableBufferPointer { kdOut in
                let ceOut = ceOut.baseAddress!, kdOut = kdOut.baseAddress!
                Parallel.forRanges(r, work: r * v * 16) { range in
                    var scratch = OutputRowScratch(v, k: topK?.k ?? 0, logDomain: u != nil && needsLogDomainRows(kind))
                    for i in range {
                        let row = base + i
                        let target: Int? = targets.flatMap { $0[row] == terms.ignoreIndex ? nil : Int($0[row]) }
                        let cached = topK.flatMap { t in targetOfRow[row] < 0 ? nil : (t, targetOfRow[row]) }
                        let inKD = topK == nil ? distilling && (rowMask?[row] ?? true) : cached != nil
                        let (ce, kd) = outputRow(z.ptr + i * v, u.map { $0.ptr + i * v }, cached, v: v, target: target, inKD: inKD,
                                                 kind: kind, terms: terms, ceScale: ceScale, kdScale: kdScale,
                                                 gradient: wantsGrad, scratch: &scratch)
                        ceOut[row] = ce
                        kdOut[row] = kd
                    }
                }
            }
        }
        if let gh = gradHidden {  // dH (R, C) = G (R, V) W (V, C)
            sgemm(transA: false, transB: false, m: r, n: c, k: v, a: z.ptr, lda: v, b: weight.ptr, ldb: c,
                  beta: 0, c: gh.ptr + lo * c, ldc: c)
        }
        if let gw = gradWeight {  // dW (V, C) += G^T (V, R) H (R, C)
            sgemm(transA: true, transB: false, m: v, n: c, k: r, a: z.ptr, lda: v, b: hidden.ptr + lo * c, ldb: c,
                  beta: lo == 0 ? 0 : 1, c: gw.ptr, ldc: c)
        }
        lo += r
    }
    let ce = ceRows.isEmpty ? 0 : Float(ceRows.reduce(0.0) { $0 + ceLoss[$1] } / Double(ceRows.count))
    let kdSum = kdLoss.reduce(0, +)
    let kd = kdCount == 0 ? 0 : Float(kdSum / Double(kdCount)) * terms.temperature * terms.temperature
    let out = Tensor(shape: [], values: [terms.distillationWeight * kd + terms.crossEntropyWeight * ce])
    if wantsGrad {
        Tensor.record(out, inputs: [hidden, weight]) { g in
            let s = g.ptr[0]
            if let gh = gradHidden { vaxpy(gh.count, s, gh.ptr, hidden.gradPointer()) }
            if let gw = gradWeight { vaxpy(gw.count, s, gw.ptr, weight.gradPointer()) }
        }
    }
    return FusedOutputLoss(loss: out, distillation: kd, crossEntropy: ce)
}

/// One thread's row buffers: log-probs at T = 1 (CE), of the student at T and of the teacher at T, and the
/// logits divided by T (log-softmax does not run in place), for the rows `logDomainRow` computes; a row's kept
/// ids' logits and which of them are first occurrences, for `bucketRow`.
private struct OutputRowScratch {
    var logp: [Float] = [], ls: [Float] = [], lt: [Float] = [], scaled: [Float] = []
    var kept: [Float], first: [Bool]
    init(_ v: Int, k: Int, logDomain: Bool) {
        if logDomain {
            logp = [Float](repeating: 0, count: v)
            ls = [Float](repeating: 0, count: v)
            lt = [Float](repeating: 0, count: v)
            scaled = [Float](repeating: 0, count: v)
        }
        kept = [Float](repeating: 0, count: k)
        first = [Bool](repeating: false, count: k)
    }
}

/// Whether a divergence against full teacher logits goes through `logDomainRow` (reverse KL and JSD) rather than
/// `forwardKLRow`.
private func needsLogDomainRows(_ kind: Divergence) -> Bool {
    if case .forwardKL = kind { return false }
    return true
}

/// One row's CE and divergence (before T^2 and the means), the same quantities as `crossEntropy` and
/// `distillationLoss` (or `topKDistillationLoss`); with `gradient`, overwrites the student logits `z` with this
/// row's share of the weighted loss's gradient (zero for a row in neither term).
@inline(__always)
private func outputRow(_ z: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>?, _ cached: (TopKTargets, Int)?, v: Int,
                       target: Int?, inKD: Bool,
                       kind: Divergence, terms: OutputLossTerms, ceScale: Float, kdScale: Float, gradient: Bool,
                       scratch: inout OutputRowScratch) -> (ce: Double, kd: Double) {
    if inKD, cached == nil, let u {
        if needsLogDomainRows(kind) {
            return logDomainRow(z, u, v: v, target: target, kind: kind, terms: terms, ceScale: ceScale, kdScale: kdScale,
                                gradient: gradient, scratch: &scratch)
        }
        return forwardKLRow(z, u, v: v, target: target, terms: terms, ceScale: ceScale, kdScale: kdScale, gradient: gradient)
    }
    return bucketRow(z, inKD ? cached : nil, v: v, target: target, kind: kind, terms: terms, ceScale: ceScale, kdScale: kdScale,
                     gradient: gradient, scratch: &scratch)
}

/// How a row's e^(z - c) follows from its tempered e^((z - c) / T) (c the shift, d = z - c, e the tempered value):
/// at T = 1 and T = 2 (the stages' default) without another exp.
private enum Untempering {
    case same, square, exp
    init(temperature: Float) { self = temperature == 1 ? .same : temperature == 2 ? .square : .exp }
    @_transparent func callAsFunction(_ d: Vec, _ e: Vec) -> Vec {
        switch self {
        case .same: return e
        case .square: return e * e
        case .exp: return vexp(d)
        }
    }

    /// sum e^((z - shift) / T) and sum e^(z - shift) over a row of `v` logits, in one pass.
    @inline(__always) func sums(_ v: Int, _ z: UnsafePointer<Float>, shift: Float, invT: Float) -> (tempered: Float, untempered: Float) {
        @_transparent func both(_ x: Vec) -> (Vec, Vec) {
            let d = x - Vec(repeating: shift), e = vexp(d * invT)
            return (e, self(d, e))
        }
        let (t, u) = sumVecPair(v, z, both)
        return (t, u)
    }
}

/// A row's CE, -(1 - eps) log p(target) - eps / V sum_j log p_j, from the target's logit, the row's log-sum-exp and
/// (with label smoothing) the sum of its logits.
@inline(__always)
private func crossEntropyTerm(targetLogit zt: Float, logSumExp lse: Double, logitSum: Double, eps: Float, v: Int) -> Double {
    var loss = -Double(1 - eps) * (Double(zt) - lse)
    if eps > 0 { loss -= Double(eps) / Double(v) * (logitSum - Double(v) * lse) }
    return loss
}

// The per-vector functions below are local functions, not closure literals: the optimizer leaves those as a call per
// 16 lanes (see FastMath).

/// A row with CE, top-k targets, both or neither, in three passes over the vocabulary (the rest's max, the sums of
/// e^(z - c) and e^((z - c) / T), the gradient) instead of a log-softmax per term.
///
/// The kept ids' logits are set aside and z holds -inf there while the passes run, so the rest bucket's sum is
/// computed over its own ids (it never comes from 1 minus the kept mass, which cancels) and shifted by the rest's
/// own max (it does not underflow when the kept ids hold nearly all the mass). Duplicate kept ids count once in the
/// sums and once per entry in the divergence, as `topKDistillationLoss` counts them.
@inline(__always)
private func bucketRow(_ z: UnsafeMutablePointer<Float>, _ cached: (TopKTargets, Int)?, v: Int, target: Int?, kind: Divergence,
                       terms: OutputLossTerms, ceScale: Float, kdScale: Float, gradient: Bool,
                       scratch: inout OutputRowScratch) -> (ce: Double, kd: Double) {
    guard target != nil || cached != nil else {
        if gradient { z.update(repeating: 0, count: v) }
        return (0, 0)
    }
    let eps = terms.labelSmoothing
    // without top-k targets only T = 1 is needed: the tempered sums are the CE's
    let temperature = cached == nil ? 1 : terms.temperature, invT = 1 / temperature
    let sumZ = target != nil && eps > 0 ? Double(vsum(z, v)) : 0
    let zt = target.map { z[$0] }
    let k = cached?.0.k ?? 0
    var ce = 0.0, kd = 0.0
    scratch.kept.withUnsafeMutableBufferPointer { keptBuf in
    scratch.first.withUnsafeMutableBufferPointer { firstBuf in
        let kept = keptBuf.baseAddress!, first = firstBuf.baseAddress!
        let ids = cached.map { t, m in Array(t.ids[(m * k)..<((m + 1) * k)]) } ?? []
        for j in 0..<k { kept[j] = z[Int(ids[j])] }
        for j in 0..<k {  // a duplicate id finds -inf already (as does a logit that is -inf: it adds nothing either way)
            first[j] = z[Int(ids[j])] > -Float.infinity
            z[Int(ids[j])] = -Float.infinity
        }
        let mr = vmax(z, v)  // the rest's largest logit (-inf when every id is kept)
        var m = mr
        for j in 0..<k where first[j] { m = Swift.max(m, kept[j]) }
        // the rest's sums shifted by mr: sT = sum e^((z - mr) / T), s1 = sum e^(z - mr)
        let untempered = Untempering(temperature: temperature)
        var sT: Float = 0, s1: Float = 0
        if mr > -Float.infinity { (sT, s1) = untempered.sums(v, z, shift: mr, invT: invT) }
        // the whole row's, shifted by m
        let restScale1 = mr > -Float.infinity ? fexp(mr - m) : 0, restScaleT = mr > -Float.infinity ? fexp((mr - m) * invT) : 0
        var total1 = s1 * restScale1, totalT = sT * restScaleT
        for j in 0..<k where first[j] {
            total1 += fexp(kept[j] - m)
            totalT += fexp((kept[j] - m) * invT)
        }
        let log1 = Foundation.log(total1), logT = Foundation.log(totalT)
        if let zt { ce = crossEntropyTerm(targetLogit: zt, logSumExp: Double(m) + Double(log1), logitSum: sumZ, eps: eps, v: v) }
        var h: [Float] = [], restLog = -Float.infinity
        if let (t, row) = cached {
            var la = [Float](repeating: 0, count: k + 1)
            for j in 0..<k { la[j] = (kept[j] - m) * invT - logT }
            if sT > 0 { restLog = Foundation.log(sT) + (mr - m) * invT - logT }
            la[k] = restLog
            (kd, h) = topKBucketDivergence(la, t, row, kind: kind, temperature: terms.temperature)
        }
        guard gradient else {
            for j in 0..<k where first[j] { z[Int(ids[j])] = kept[j] }
            return
        }
        // dz = ceScale (p - eps / V) + kdScale (h_b(i) q_i / q_b(i) - q_i sum_b h_b), minus ceScale (1 - eps) at the
        // target; for a rest id p = e^(z - mr) e^(mr - m) / total1, q = e^((z - mr) / T) e^((mr - m) / T) / totalT and
        // q / q_rest = e^((z - mr) / T) / sT. The masked kept ids get the constant here and their own terms below.
        let sumH = h.reduce(0, +)
        let a = target == nil ? 0 : ceScale * restScale1 / total1, c = target == nil ? 0 : -ceScale * eps / Float(v)
        let restTerm = restLog > -Float.infinity && h[k] != 0 ? kdScale * h[k] / sT : 0
        let b = cached == nil ? 0 : -kdScale * sumH * restScaleT / totalT + restTerm
        @_transparent func logitGradient(_ x: Vec) -> Vec {
            let d = x - Vec(repeating: mr), e = vexp(d * invT)
            return Vec(repeating: a) * untempered(d, e) + Vec(repeating: b) * e + Vec(repeating: c)
        }
        if mr > -Float.infinity {
            mapVec(v, z, z, logitGradient)
        } else {
            z.update(repeating: c, count: v)
        }
        for j in 0..<k where first[j] {
            var g = c
            if target != nil { g += ceScale * fexp(kept[j] - m - log1) }
            if cached != nil { g -= kdScale * sumH * fexp((kept[j] - m) * invT - logT) }
            z[Int(ids[j])] = g
        }
        for j in 0..<k { z[Int(ids[j])] += kdScale * h[j] }
        if let t = target { z[t] -= ceScale * (1 - eps) }
    }
    }
    return (ce, kd)
}

/// A row distilled with forward KL against the teacher's logits `u` (and CE when it has a target), in three passes
/// over the vocabulary (the maxima, the sums, the divergence with the gradient) instead of a log-softmax per term.
@inline(__always)
private func forwardKLRow(_ z: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, v: Int, target: Int?,
                          terms: OutputLossTerms, ceScale: Float, kdScale: Float, gradient: Bool) -> (ce: Double, kd: Double) {
    let eps = terms.labelSmoothing, invT = 1 / terms.temperature
    let m = vmax(z, v), mu = vmax(u, v)
    let sumZ = target != nil && eps > 0 ? Double(vsum(z, v)) : 0
    let zt = target.map { z[$0] }
    // sT = sum e^((z - m) / T), s1 = sum e^(z - m), sU = sum e^((u - mu) / T)
    let untempered = Untempering(temperature: terms.temperature)
    @_transparent func teacherSum(_ x: Vec, _: Vec) -> Vec { vexp((x - Vec(repeating: mu)) * invT) }
    let (sT, s1) = untempered.sums(v, z, shift: m, invT: invT)
    let sU = sumVec2(v, u, u, teacherSum)
    let log1 = Foundation.log(s1), logT = Foundation.log(sT), logU = Foundation.log(sU)
    let ce = zt.map { crossEntropyTerm(targetLogit: $0, logSumExp: Double(m) + Double(log1), logitSum: sumZ, eps: eps, v: v) } ?? 0
    // per entry: ls = (z - m) / T - log sT and lt = (u - mu) / T - log sU, the log-probs at T; KL = sum e^lt (lt - ls)
    @_transparent func divergence(_ x: Vec, _ y: Vec) -> Vec {
        let ls = (x - Vec(repeating: m)) * invT - Vec(repeating: logT), lt = (y - Vec(repeating: mu)) * invT - Vec(repeating: logU)
        return vexp(lt) * (lt - ls)
    }
    guard gradient else { return (ce, Double(sumVec2(v, z, u, divergence))) }
    // dz = ceScale (p - eps / V) + kdScale (q_s - q_t), minus ceScale (1 - eps) at the target; p = e^(z - m) / s1
    let a = target == nil ? 0 : ceScale / s1, c = target == nil ? 0 : -ceScale * eps / Float(v), invST = 1 / sT
    @_transparent func gradientAndDivergence(_ x: Vec, _ y: Vec) -> (Vec, Vec) {
        let d = x - Vec(repeating: m), e = vexp(d * invT)
        let ls = d * invT - Vec(repeating: logT), lt = (y - Vec(repeating: mu)) * invT - Vec(repeating: logU)
        let qt = vexp(lt)
        let g = Vec(repeating: a) * untempered(d, e) + Vec(repeating: kdScale) * (e * invST - qt) + Vec(repeating: c)
        return (g, qt * (lt - ls))
    }
    let kd = mapVec2Sum(v, z, u, into: z, gradientAndDivergence)
    if let t = target { z[t] -= ceScale * (1 - eps) }
    return (ce, Double(kd))
}

/// A row distilled with reverse KL or JSD against the teacher's logits `u`: log-softmaxes of the student at T = 1
/// (CE) and both sides at T, the same arithmetic as `crossEntropy` and `distillationLoss`.
@inline(__always)
private func logDomainRow(_ z: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, v: Int, target: Int?, kind: Divergence,
                          terms: OutputLossTerms, ceScale: Float, kdScale: Float, gradient: Bool,
                          scratch: inout OutputRowScratch) -> (ce: Double, kd: Double) {
    var ce = 0.0, kd = 0.0
    let eps = terms.labelSmoothing, invT = 1 / terms.temperature
    scratch.logp.withUnsafeMutableBufferPointer { lpBuf in
    scratch.ls.withUnsafeMutableBufferPointer { lsBuf in
    scratch.lt.withUnsafeMutableBufferPointer { ltBuf in
    scratch.scaled.withUnsafeMutableBufferPointer { scBuf in
        let lp = lpBuf.baseAddress!, ls = lsBuf.baseAddress!, lt = ltBuf.baseAddress!, sc = scBuf.baseAddress!
        if let t = target {
            logSoftmaxRows(z, lp, rows: 1, cols: v)
            var loss = -(1 - eps) * lp[t]
            if eps > 0 { loss -= eps / Float(v) * vsum(lp, v) }
            ce = Double(loss)
        }
        vscale(v, invT, z, sc)
        logSoftmaxRows(sc, ls, rows: 1, cols: v)
        vscale(v, invT, u, sc)
        logSoftmaxRows(sc, lt, rows: 1, cols: v)
        switch kind {
        case .forwardKL:
            preconditionFailure("logDomainRow: forward KL rows go through forwardKLRow")
        case .reverseKL:
            @_transparent func reverseTerm(_ la: Vec, _ lb: Vec) -> Vec { vexp(la) * (la - lb) }
            kd = Double(sumVec2(v, ls, lt, reverseTerm))
        case .jsd(let beta):
            var s: Float = 0
            for j in 0..<v {
                let ps = fexp(ls[j]), pt = fexp(lt[j])
                let lm = logMixture(ls[j], lt[j], beta)
                s += beta * pt * (lt[j] - lm) + (1 - beta) * ps * (ls[j] - lm)
            }
            kd = Double(s)
        }
        guard gradient else { return }
        // The row's gradient, written over z (its logits are not read again).
        z.update(repeating: 0, count: v)
        if let t = target, ceScale != 0 {
            let k = ceScale, w = eps / Float(v)
            @_transparent func crossEntropyGradient(_ la: Vec, _: Vec) -> Vec { k * (vexp(la) - w) }
            accumulateVec2(v, lp, lp, into: z, crossEntropyGradient)
            z[t] -= k * (1 - eps)
        }
        guard kdScale != 0 else { return }
        // dL/dz_s = T p_s (q - <p_s, q>) with q = dL/dlog p_s; lt is not needed after q, so q replaces it
        let k = kdScale
        if case .jsd(let beta) = kind {
            for j in 0..<v { lt[j] = (1 - beta) * (ls[j] - logMixture(ls[j], lt[j], beta)) }
        } else {
            for j in 0..<v { lt[j] = ls[j] - lt[j] + 1 }
        }
        @_transparent func weighted(_ la: Vec, _ qv: Vec) -> Vec { vexp(la) * qv }
        let mean = sumVec2(v, ls, lt, weighted)
        @_transparent func divergenceGradient(_ la: Vec, _ qv: Vec) -> Vec { k * vexp(la) * (qv - mean) }
        accumulateVec2(v, ls, lt, into: z, divergenceGradient)
    }
    }
    }
    }
    return (ce, kd)
}

/// log p(target) of each row under softmax(hidden W^T), chunked like `fusedOutputLoss` (scoring a sequence
/// never holds its (N, V) logits). Records nothing. Rows whose target is negative (no next token) give 0.
/// - Parameters:
///   - hidden: final hidden states (..., C), one row per position.
///   - weight: the output weight (V, C).
///   - targets: one id per row.
///   - chunkRows: rows per chunk (default `OutputChunking.rowsPerChunk`).
public func tokenLogProbs(hidden: Tensor, weight: Tensor, targets: [Int32], chunkRows: Int? = nil) -> [Float] {
    let c = hidden.lastDim, n = hidden.rows, v = weight.rows
    precondition(weight.rank == 2 && weight.lastDim == c, "tokenLogProbs: weight \(weight.shape) does not fit hidden \(hidden.shape)")
    precondition(targets.count == n, "tokenLogProbs: \(targets.count) targets for \(n) rows")
    let rowsPerChunk = chunkRows ?? OutputChunking.rowsPerChunk(rows: n, vocabulary: v)
    var out = [Float](repeating: 0, count: n)
    let z = Tensor.uninitialized([min(rowsPerChunk, max(n, 1)), v])  // (R, V) one chunk's logits
    var lo = 0
    while lo < n {
        let r = min(rowsPerChunk, n - lo), base = lo
        sgemm(transA: false, transB: true, m: r, n: v, k: c, a: hidden.ptr + lo * c, lda: c, b: weight.ptr, ldb: c,
              beta: 0, c: z.ptr, ldc: v)
        out.withUnsafeMutableBufferPointer { o in
            let o = o.baseAddress!
            Parallel.forRanges(r, work: r * v * 4) { range in
                for i in range where targets[base + i] >= 0 {
                    let t = Int(targets[base + i])
                    precondition(t < v, "tokenLogProbs: target \(t) outside 0..<\(v) at row \(base + i)")
                    let zr = z.ptr + i * v
                    let m = vmax(zr, v)
                    o[base + i] = zr[t] - m - Foundation.log(sumExpShifted(v, zr, shift: m))
                }
            }
        }
        lo += r
    }
    return out
}
