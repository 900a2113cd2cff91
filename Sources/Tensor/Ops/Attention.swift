import CBLAS
import Foundation

// Fused causal multi-head attention with grouped-query heads, in two ops so the attention
// probabilities are an ordinary tensor (feature alignment puts a loss on them):
//   P = softmax(mask(Q K^T / sqrt(D)))   attentionProbabilities
//   O = P V                              attentionApply
// Shapes: B batch, T queries, S keys (S >= T; query i sits at absolute position S - T + i),
// H query heads, G = H / KVH query heads per key/value head, D head dim.
// q (B, T, H*D), k and v (B, L, KVH*D) with L >= S (a KV cache may be longer than its used part),
// P (B, H, T, S), O (B, T, H*D). Per-head slices are addressed through leading dimensions, so no
// permute copies are made.

/// Geometry of one attention call.
struct AttentionGeometry {
    let b: Int, t: Int, s: Int, h: Int, kvh: Int, d: Int, keyRows: Int
    var group: Int { h / kvh }
    var qStride: Int { h * d }    // distance between consecutive positions in q / O
    var kStride: Int { kvh * d }  // distance between consecutive positions in k / v

    init(q: Tensor, k: Tensor, heads: Int, kvHeads: Int, keyCount: Int?) {
        precondition(q.rank == 3 && k.rank == 3, "attention expects q (B,T,H*D) and k (B,L,KVH*D), got \(q.shape), \(k.shape)")
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "heads \(heads) must be a multiple of kv heads \(kvHeads)")
        precondition(q.shape[2] % heads == 0, "q width \(q.shape[2]) is not divisible by \(heads) heads")
        b = q.shape[0]; t = q.shape[1]; h = heads; kvh = kvHeads; d = q.shape[2] / heads
        keyRows = k.shape[1]
        s = keyCount ?? keyRows
        precondition(k.shape[0] == b && k.shape[2] == kvh * d, "k \(k.shape) does not match q \(q.shape) with \(kvh) kv heads")
        precondition(s >= t && s <= keyRows, "key count \(s) must be in \(t)...\(keyRows)")
    }
}

/// Causal attention probabilities softmax(Q K^T / sqrt(D)) with the causal mask, (B, H, T, S).
/// - Parameter keyCount: how many leading key positions of `k` are in use (a KV cache); all if nil.
public func attentionProbabilities(q: Tensor, k: Tensor, heads: Int, kvHeads: Int, keyCount: Int? = nil) -> Tensor {
    let g = AttentionGeometry(q: q, k: k, heads: heads, kvHeads: kvHeads, keyCount: keyCount)
    let p = Tensor.uninitialized([g.b, g.h, g.t, g.s])
    let scale = 1 / Float(g.d).squareRoot()
    let offset = g.s - g.t
    Parallel.forRanges(g.b * g.h, work: g.b * g.h * g.t * g.s * g.d) { range in
        for bh in range {
            let bi = bh / g.h, hi = bh % g.h
            let qp = q.ptr + bi * g.t * g.qStride + hi * g.d
            let kp = k.ptr + bi * g.keyRows * g.kStride + (hi / g.group) * g.d
            let pp = p.ptr + bh * g.t * g.s
            // scores (T, S) = Q (T, D) K^T (D, S) * scale
            sgemm(transA: false, transB: true, m: g.t, n: g.s, k: g.d, alpha: scale, a: qp, lda: g.qStride,
                  b: kp, ldb: g.kStride, beta: 0, c: pp, ldc: g.s)
            for i in 0..<g.t { causalSoftmaxRow(pp + i * g.s, visible: offset + i + 1, length: g.s) }
        }
    }
    let saved = p.detached()
    Tensor.record(p, inputs: [q, k]) { gp in
        // fresh buffers are stored into by the first product that reaches each slice (the first head of
        // each kv group for dK); a cache longer than the used keys keeps rows no product writes, so zero it
        let gq = q.requiresGrad ? q.gradForWrite() : nil
        let gk = k.requiresGrad ? (g.keyRows == g.s ? k.gradForWrite() : (pointer: k.gradPointer(), fresh: false)) : nil
        // Heads sharing a kv head write the same dK rows, so parallelise over batch entries only.
        Parallel.forRanges(g.b, work: g.b * g.h * g.t * g.s * g.d) { range in
            let ds = UnsafeMutablePointer<Float>.allocate(capacity: g.t * g.s)  // (T, S) dScores
            defer { ds.deallocate() }
            for bi in range {
                for hi in 0..<g.h {
                    let pp = saved.ptr + (bi * g.h + hi) * g.t * g.s, gpp = gp.ptr + (bi * g.h + hi) * g.t * g.s
                    // dS = P * (dP - rowsum(dP * P)), then folded with the 1/sqrt(D) scale
                    for i in 0..<g.t {
                        let pr = pp + i * g.s, gr = gpp + i * g.s, dr = ds + i * g.s
                        let dot = vdot(pr, gr, g.s)
                        for j in 0..<g.s { dr[j] = pr[j] * (gr[j] - dot) * scale }
                    }
                    let qOff = bi * g.t * g.qStride + hi * g.d
                    let kOff = bi * g.keyRows * g.kStride + (hi / g.group) * g.d
                    if let gq {  // dQ (T, D) += dS (T, S) K (S, D)
                        sgemm(transA: false, transB: false, m: g.t, n: g.d, k: g.s, a: ds, lda: g.s,
                              b: k.ptr + kOff, ldb: g.kStride, beta: gq.fresh ? 0 : 1, c: gq.pointer + qOff, ldc: g.qStride)
                    }
                    if let gk {  // dK (S, D) += dS^T (S, T) Q (T, D)
                        sgemm(transA: true, transB: false, m: g.s, n: g.d, k: g.t, a: ds, lda: g.s,
                              b: q.ptr + qOff, ldb: g.qStride, beta: gk.fresh && hi % g.group == 0 ? 0 : 1,
                              c: gk.pointer + kOff, ldc: g.kStride)
                    }
                }
            }
        }
    }
    return p
}

/// Softmax over the first `visible` entries of a row of `length` scores, zeros after them: one causal
/// attention row. When the row has room, the partial last vector is read whole with its hidden lanes set to
/// -inf (exp gives 0), so short rows take no element-by-element tail.
@inline(__always)
func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, visible: Int, length: Int) {
    let full = visible / simdWidth * simdWidth, rem = visible - full
    let padded = rem > 0 ? full + simdWidth : full
    guard padded <= length else {
        let m = vmax(row, visible)
        let inv = 1 / expShiftedSum(visible, row, row, shift: m)
        vscale(visible, inv, row, row)
        if visible < length { (row + visible).update(repeating: 0, count: length - visible) }
        return
    }
    func load(_ i: Int) -> Vec { UnsafeRawPointer(row + i).loadUnaligned(as: Vec.self) }
    func store(_ v: Vec, _ i: Int) { UnsafeMutableRawPointer(row + i).storeBytes(of: v, as: Vec.self) }
    // vector against vector: against a scalar (`.>= Int32(rem)`) Swift built the mask lane by lane
    let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    let hidden = lanes .>= SIMD16<Int32>(repeating: Int32(rem))
    let tail = rem > 0 ? load(full).replacing(with: -.infinity, where: hidden) : Vec(repeating: -.infinity)
    var mv = tail
    var i = 0
    while i < full { let v = load(i); mv = mv.replacing(with: v, where: v .> mv); i += simdWidth }
    let m = laneMax(mv)  // NaN lanes (NaN scores) make the row NaN whatever it picks
    var acc = Vec()
    i = 0
    while i < full { let e = vexp(load(i) - m); store(e, i); acc += e; i += simdWidth }
    if rem > 0 { let e = vexp(tail - m); store(e, full); acc += e }
    let inv = 1 / laneSum(acc)
    i = 0
    while i < padded { store(load(i) * inv, i); i += simdWidth }
    if padded < length { (row + padded).update(repeating: 0, count: length - padded) }
}

/// O = P V per head: probabilities (B, H, T, S) and values (B, L, KVH*D) -> (B, T, H*D).
public func attentionApply(_ p: Tensor, v: Tensor, heads: Int, kvHeads: Int) -> Tensor {
    precondition(p.rank == 4 && p.shape[1] == heads, "attentionApply expects P (B, \(heads), T, S), got \(p.shape)")
    precondition(v.rank == 3 && v.shape[0] == p.shape[0] && v.shape[2] % kvHeads == 0 && heads % kvHeads == 0,
                 "attentionApply: values \(v.shape) do not match P \(p.shape) with \(kvHeads) kv heads")
    let b = p.shape[0], h = heads, t = p.shape[2], s = p.shape[3]
    let d = v.shape[2] / kvHeads, keyRows = v.shape[1], group = h / kvHeads
    precondition(s <= keyRows, "attentionApply: P has \(s) keys but v only \(keyRows) rows")
    let qStride = h * d, kStride = kvHeads * d
    let out = Tensor.uninitialized([b, t, h * d])
    Parallel.forRanges(b * h, work: b * h * t * s * d) { range in
        for bh in range {
            let bi = bh / h, hi = bh % h
            // O_h (T, D) = P (T, S) V_h (S, D)
            sgemm(transA: false, transB: false, m: t, n: d, k: s, a: p.ptr + bh * t * s, lda: s,
                  b: v.ptr + bi * keyRows * kStride + (hi / group) * d, ldb: kStride,
                  beta: 0, c: out.ptr + bi * t * qStride + hi * d, ldc: qStride)
        }
    }
    Tensor.record(out, inputs: [p, v]) { g in
        let gpP = p.requiresGrad ? p.gradForWrite() : nil
        let gv = v.requiresGrad ? (keyRows == s ? v.gradForWrite() : (pointer: v.gradPointer(), fresh: false)) : nil
        Parallel.forRanges(b, work: b * h * t * s * d) { range in
            for bi in range {
                for hi in 0..<h {
                    let bh = bi * h + hi
                    let gOff = bi * t * qStride + hi * d, vOff = bi * keyRows * kStride + (hi / group) * d
                    if let gpP {  // dP (T, S) += dO (T, D) V^T (D, S)
                        sgemm(transA: false, transB: true, m: t, n: s, k: d, a: g.ptr + gOff, lda: qStride,
                              b: v.ptr + vOff, ldb: kStride, beta: gpP.fresh ? 0 : 1, c: gpP.pointer + bh * t * s, ldc: s)
                    }
                    if let gv {  // dV (S, D) += P^T (S, T) dO (T, D); the first head of a kv group stores
                        sgemm(transA: true, transB: false, m: s, n: d, k: t, a: p.ptr + bh * t * s, lda: s,
                              b: g.ptr + gOff, ldb: qStride, beta: gv.fresh && hi % group == 0 ? 0 : 1,
                              c: gv.pointer + vOff, ldc: kStride)
                    }
                }
            }
        }
    }
    return out
}

/// Cosine and sine tables for rotary position embeddings, computed as Hugging Face's
/// LlamaRotaryEmbedding (default type) does: inv_freq[i] = theta^(-2i/D) in float32,
/// angle = position * inv_freq, tables over D with the half repeated (cat(freqs, freqs)).
public struct RotaryTable: Sendable {
    /// Head dimension D (even).
    public let headDim: Int
    /// Number of positions covered.
    public let positions: Int
    /// cos, (positions, D/2): the two halves are equal so only one is stored.
    let cos: [Float]
    /// sin, (positions, D/2).
    let sin: [Float]

    /// Builds tables for positions 0..<positions with the plain inverse frequencies theta^(-2i/D).
    public init(headDim: Int, positions: Int, theta: Double) {
        self.init(headDim: headDim, positions: positions, inverseFrequencies: Self.inverseFrequencies(headDim: headDim, theta: theta))
    }

    /// Builds tables for positions 0..<positions from D/2 inverse frequencies (scaled ones, e.g. Llama 3's).
    public init(headDim: Int, positions: Int, inverseFrequencies: [Float]) {
        precondition(headDim % 2 == 0, "rotary embeddings need an even head dim, got \(headDim)")
        precondition(inverseFrequencies.count == headDim / 2, "\(inverseFrequencies.count) inverse frequencies for head dim \(headDim)")
        self.headDim = headDim
        self.positions = positions
        let half = headDim / 2
        var c = [Float](repeating: 0, count: positions * half), s = c
        for i in 0..<half {
            let invFreq = inverseFrequencies[i]
            for p in 0..<positions {
                let angle = Float(p) * invFreq  // float32 product, as HF's matmul of float32 tensors
                c[p * half + i] = Float(Foundation.cos(Double(angle)))
                s[p * half + i] = Float(Foundation.sin(Double(angle)))
            }
        }
        cos = c
        sin = s
    }

    /// The plain rotary inverse frequencies theta^(-2i/D), i < D/2.
    public static func inverseFrequencies(headDim: Int, theta: Double) -> [Float] {
        (0..<headDim / 2).map { Float(1 / Foundation.pow(theta, Double(2 * $0) / Double(headDim))) }
    }
}

extension RotaryTable {
    /// Rotates, in place, the `heads` consecutive head vectors (each D floats) of one position.
    public func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        precondition(position < positions, "position \(position) exceeds the rotary table (\(positions))")
        let half = headDim / 2
        cos.withUnsafeBufferPointer { c in
            sin.withUnsafeBufferPointer { s in
                let cp = c.baseAddress! + position * half, sp = s.baseAddress! + position * half
                for h in 0..<heads {
                    let a = x + h * headDim, b = a + half
                    for i in 0..<half {
                        let xa = a[i], xb = b[i]
                        a[i] = xa * cp[i] - xb * sp[i]
                        b[i] = xb * cp[i] + xa * sp[i]
                    }
                }
            }
        }
    }
}

/// One decoding step of attention for a single query position per row, straight from a KV cache:
/// out[h] = sum_j softmax_j(q[h] . k_j / sqrt(D)) v_j over the row's first `keyCount` cached positions.
/// No graph is recorded (generation only). Shapes: q (H*D) per row, cache rows (L, KVH*D), out (H*D).
/// - Parameters:
///   - scratch: at least `keyCount` floats for the scores.
public func decodeAttention(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                            keyCount s: Int, heads h: Int, kvHeads kvh: Int, headDim d: Int,
                            out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
    let group = h / kvh, kw = kvh * d
    let scale = 1 / Float(d).squareRoot()
    for hi in 0..<h {
        let kOff = (hi / group) * d
        // scores (S) = K_h (S, D) q_h (D) / sqrt(D); out_h (D) = V_h^T (D, S) p (S): matrix-vector products
        cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(s), blasint(d), scale, keys + kOff, blasint(kw),
                    q + hi * d, 1, 0, scratch, 1)
        let m = vmax(scratch, s)
        let inv = 1 / expShiftedSum(s, scratch, scratch, shift: m)
        cblas_sgemv(CblasRowMajor, CblasTrans, blasint(s), blasint(d), inv, values + kOff, blasint(kw),
                    scratch, 1, 0, out + hi * d, 1)
    }
}

/// Rotates each head of x (B, T, H*D) by its position (HF rotate_half on the two halves of the head):
/// x'[i] = x[i] cos - x[i+D/2] sin, x'[i+D/2] = x[i+D/2] cos + x[i] sin, position = offset + t.
public func rotaryEmbedding(_ x: Tensor, heads: Int, table: RotaryTable, positionOffset: Int = 0) -> Tensor {
    precondition(x.rank == 3 && x.shape[2] == heads * table.headDim,
                 "rotaryEmbedding: x \(x.shape) is not (B, T, \(heads)*\(table.headDim))")
    let b = x.shape[0], t = x.shape[1]
    precondition(positionOffset + t <= table.positions,
                 "positions \(positionOffset)..<\(positionOffset + t) exceed the rotary table (\(table.positions))")
    let out = Tensor.uninitialized(x.shape)
    rotate(x.ptr, out.ptr, b: b, t: t, heads: heads, table: table, offset: positionOffset, inverse: false)
    Tensor.record(out, inputs: [x]) { g in
        // the transpose of a rotation is the rotation by the negative angle
        let (gx, fresh) = x.gradForWrite()
        if fresh {
            rotate(g.ptr, gx, b: b, t: t, heads: heads, table: table, offset: positionOffset, inverse: true)
        } else {
            let tmp = Tensor.uninitialized(x.shape)
            rotate(g.ptr, tmp.ptr, b: b, t: t, heads: heads, table: table, offset: positionOffset, inverse: true)
            vaxpy(x.count, 1, tmp.ptr, gx)
        }
    }
    return out
}

private func rotate(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, b: Int, t: Int, heads: Int,
                    table: RotaryTable, offset: Int, inverse: Bool) {
    let d = table.headDim, half = d / 2
    func load(_ p: UnsafePointer<Float>) -> Vec { UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }
    func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self) }
    let sign: Float = inverse ? -1 : 1
    table.cos.withUnsafeBufferPointer { cosT in
        table.sin.withUnsafeBufferPointer { sinT in
            Parallel.forRanges(b * t, work: b * t * heads * d * 3) { rows in
                for row in rows {
                    let bi = row / t, ti = row % t
                    let c = cosT.baseAddress! + (offset + ti) * half, s = sinT.baseAddress! + (offset + ti) * half
                    for hi in 0..<heads {
                        let base = (bi * t + ti) * heads * d + hi * d
                        let xa = x + base, xb = x + base + half, ya = y + base, yb = y + base + half
                        // 16 lanes at a time (the loop below alone compiled to scalar code): the same operations
                        var i = 0
                        while i + simdWidth <= half {
                            let a = load(xa + i), bv = load(xb + i), ci = load(c + i), si = Vec(repeating: sign) * load(s + i)
                            store(a * ci - bv * si, ya + i)
                            store(bv * ci + a * si, yb + i)
                            i += simdWidth
                        }
                        while i < half {
                            let a = xa[i], bv = xb[i], si = sign * s[i]
                            ya[i] = a * c[i] - bv * si
                            yb[i] = bv * c[i] + a * si
                            i += 1
                        }
                    }
                }
            }
        }
    }
}
