import Tensor

/// Keys (after rotary embedding) and values of every layer for a batch of sequences being generated.
///
/// Shapes: per layer keys and values (B, L, KVH*D), L = capacity; row b uses positions 0..<lengths[b].
public final class KVCache {
    /// Per-layer keys (B, L, KVH*D).
    let keys: [Tensor]
    /// Per-layer values (B, L, KVH*D).
    let values: [Tensor]
    /// Positions filled per row.
    public private(set) var lengths: [Int]
    /// Longest sequence a row can hold.
    public let capacity: Int
    /// The model's weights packed for the few-row `panels` kernel (`Transformer.decodingPanels`), used by every step
    /// over this cache; nil to use the weights as they are. The weights must not change while the cache is in use.
    public var panels: FewRowPanelSet?

    /// An empty cache for `batch` rows of up to `capacity` tokens of `config`'s model.
    public init(config: TransformerConfig, batch: Int, capacity: Int) {
        precondition(capacity <= config.maxPositionEmbeddings,
                     "KV cache capacity \(capacity) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        let w = config.numKeyValueHeads * config.headDim
        keys = (0..<config.numHiddenLayers).map { _ in Tensor.uninitialized([batch, capacity, w]) }
        values = (0..<config.numHiddenLayers).map { _ in Tensor.uninitialized([batch, capacity, w]) }
        lengths = [Int](repeating: 0, count: batch)
        self.capacity = capacity
    }

    func advance(rows: [Int], by n: Int) { for r in rows { lengths[r] += n } }
}

extension Transformer {
    /// Runs `n` new tokens for each of `rows` through the model, reading and extending `cache`, and
    /// returns their logits (R, n, V), or (R, 1, V) for each row's last position only. Records nothing
    /// (generation never needs gradients).
    /// - Parameters:
    ///   - tokens: R * n ids, row-major (row i of the result belongs to cache row rows[i]).
    ///   - lastPositionOnly: project only each row's last position to the vocabulary (a prefill samples from
    ///     nothing else, and at a 49K vocabulary the other positions' logits are most of its memory).
    /// Products of at most `FewRowProduct.maximumRows` rows (a decoding step's) stream the weights through
    /// `fewRowProduct` instead of sgemm, which would pack every weight panel on every step.
    public func step(cache: KVCache, rows: [Int], tokens: [Int32], count n: Int, lastPositionOnly: Bool = false) -> Tensor {
        FewRowProduct.$isEnabled.withValue(true) { FewRowProduct.$panels.withValue(cache.panels) { withNoGrad {
            let r = rows.count, c = config, p = parameters
            precondition(tokens.count == r * n, "step: \(tokens.count) tokens for \(r) rows x \(n)")
            for row in rows {
                precondition(cache.lengths[row] + n <= cache.capacity, "KV cache row \(row) full (\(cache.capacity) positions)")
            }
            let h = c.numAttentionHeads, kvh = c.numKeyValueHeads, d = c.headDim
            var x = embedding(p["model.embed_tokens.weight"], ids: tokens, shape: [r, n])  // (R, n, C)
            for i in 0..<c.numHiddenLayers {
                let (q, k, v) = attentionInputs(x, layer: i)
                let o = Tensor.uninitialized([r, n, h * d])  // (R, n, H*D)
                let ck = cache.keys[i], cv = cache.values[i], cap = cache.capacity, kw = kvh * d
                if n == 1 {
                    decodeStep(q: q, k: k, v: v, rows: rows, cache: cache, layer: i, out: o)
                } else {
                    for (j, row) in rows.enumerated() {
                        let pos = cache.lengths[row]
                        let qj = rotaryEmbedding(Tensor(shape: [1, n, h * d], storage: q.storage, offset: q.offset + j * n * h * d),
                                                 heads: h, table: rope, positionOffset: pos)
                        let kj = rotaryEmbedding(Tensor(shape: [1, n, kw], storage: k.storage, offset: k.offset + j * n * kw),
                                                 heads: kvh, table: rope, positionOffset: pos)
                        (ck.ptr + (row * cap + pos) * kw).update(from: kj.ptr, count: n * kw)
                        (cv.ptr + (row * cap + pos) * kw).update(from: v.ptr + j * n * kw, count: n * kw)
                        let rowK = Tensor(shape: [1, cap, kw], storage: ck.storage, offset: ck.offset + row * cap * kw)
                        let rowV = Tensor(shape: [1, cap, kw], storage: cv.storage, offset: cv.offset + row * cap * kw)
                        let probs = attentionProbabilities(q: qj, k: rowK, heads: h, kvHeads: kvh, keyCount: pos + n)
                        let oj = attentionApply(probs, v: rowV, heads: h, kvHeads: kvh)
                        (o.ptr + j * n * h * d).update(from: oj.ptr, count: n * h * d)
                    }
                }
                x = add(x, project(o, "model.layers.\(i).self_attn.o_proj.weight"))
                x = add(x, mlp(x, layer: i))
            }
            cache.advance(rows: rows, by: n)
            var hN = rmsNorm(x, weight: p["model.norm.weight"], eps: c.rmsNormEps)  // (R, n, C)
            if lastPositionOnly && n > 1 {
                let last = Tensor.uninitialized([r, 1, c.hiddenSize])  // (R, 1, C)
                for j in 0..<r {
                    (last.ptr + j * c.hiddenSize).update(from: hN.ptr + (j * n + n - 1) * c.hiddenSize, count: c.hiddenSize)
                }
                hN = last
            }
            return project(hN, outputWeightName)
        } } }
    }

    /// One new token per row: rotate q and k in place, append k and v to the cache, and attend with the
    /// vector kernel (a product per head would cost more in call overhead than in arithmetic). Rows run
    /// in parallel; q, k, v are (R, 1, ...) fresh tensors owned by the caller.
    private func decodeStep(q: Tensor, k: Tensor, v: Tensor, rows: [Int], cache: KVCache, layer i: Int, out o: Tensor) {
        let c = config, h = c.numAttentionHeads, kvh = c.numKeyValueHeads, d = c.headDim, kw = kvh * d
        let ck = cache.keys[i], cv = cache.values[i], cap = cache.capacity
        let lengths = cache.lengths
        Parallel.forRanges(rows.count, work: rows.count * h * cap * d * 2) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: cap)
            defer { scratch.deallocate() }
            for j in range {
                let row = rows[j], pos = lengths[row]
                let qj = q.ptr + j * h * d, kj = k.ptr + j * kw
                rope.rotate(qj, heads: h, position: pos)
                rope.rotate(kj, heads: kvh, position: pos)
                let rowK = ck.ptr + row * cap * kw, rowV = cv.ptr + row * cap * kw
                (rowK + pos * kw).update(from: kj, count: kw)
                (rowV + pos * kw).update(from: v.ptr + j * kw, count: kw)
                decodeAttention(q: qj, keys: rowK, values: rowV, keyCount: pos + 1, heads: h, kvHeads: kvh, headDim: d,
                                out: o.ptr + j * h * d, scratch: scratch)
            }
        }
    }
}
