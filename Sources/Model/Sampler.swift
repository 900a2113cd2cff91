import Foundation
import Tensor

/// How to choose each new token.
public struct SamplingOptions: Sendable, Equatable {
    /// Softmax temperature; 0 means greedy (argmax).
    public var temperature: Float
    /// Keep only the k most likely tokens (nil: all).
    public var topK: Int?
    /// Keep the smallest set of most likely tokens whose probability reaches p (nil: all).
    public var topP: Float?
    /// Most new tokens per sequence.
    public var maxNewTokens: Int
    /// Generation of a row ends after it produces one of these (the stop token is kept in the output).
    public var stopTokens: Set<Int32>

    public init(temperature: Float = 1, topK: Int? = nil, topP: Float? = nil, maxNewTokens: Int = 64,
                stopTokens: Set<Int32> = [Tokenizer.eos]) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
    }

    /// Greedy decoding (evaluation).
    public static func greedy(maxNewTokens: Int, stopTokens: Set<Int32> = [Tokenizer.eos]) -> SamplingOptions {
        SamplingOptions(temperature: 0, maxNewTokens: maxNewTokens, stopTokens: stopTokens)
    }
}

/// Why a row stopped.
public enum FinishReason: String, Sendable, Codable {
    /// It produced a stop token.
    case stop
    /// It reached maxNewTokens or the model's context length.
    case length
}

/// Generated continuations, one entry per prompt.
public struct Generation: Sendable {
    /// New tokens per row (prompt excluded; a final stop token included).
    public var tokens: [[Int32]]
    /// log p(token) under the temperature-scaled distribution (T = 1 for greedy), before top-k/top-p
    /// filtering, as PPO's behaviour policy needs.
    public var logProbs: [[Float]]
    /// Entropy (nats) of that distribution at each step (for adaptive temperature).
    public var entropies: [[Float]]
    /// Why each row ended.
    public var finishReasons: [FinishReason]
    /// Per row, the first new token (0-based) whose logits held a NaN or an infinity, nil when all were finite:
    /// finite weights can still overflow Float, and a token chosen from such logits means nothing.
    public var nonFiniteLogitsAt: [Int?] = []
}

extension Transformer {
    /// Batched generation with a KV cache, each row drawing from its own generator: `generate(prompts:options:streams:)`
    /// with row i's stream `rng.fork().substream(question: i, sample: 0)` when sampling (this advances `rng` by one
    /// draw), and `rng` untouched when greedy (which draws nothing). The same prompts, options and generator state give
    /// the same tokens.
    public func generate(prompts: [[Int32]], options: SamplingOptions, rng: inout RandomGenerator) -> Generation {
        generate(prompts: prompts, options: options, streams: Self.rowStreams(prompts.count, options: options, rng: &rng))
    }

    /// Batched generation with a KV cache; row i draws only from `streams[i]`. Prompts may differ in length; each row
    /// keeps its own positions.
    ///
    /// The first and the second half of the rows decode at once, one per core (`Parallel.split`), each with its own
    /// cache: one decoding step of a few rows is too small to split across cores op by op. The halves are fixed by the
    /// row count, so the tokens do not depend on the thread count. A model whose weights outgrow the caches
    /// (`decodesAsOneBatch`) decodes all rows as one batch instead, its products split across cores: each step then
    /// reads the weights once, not once per half, and memory bandwidth is what a step of such a model costs. A row's
    /// tokens depend on its prompt, its stream and the model; its log-probabilities' last bits may also depend on the
    /// rows decoded in the same batch (the products' blocking follows the row count), which is why a split across
    /// processes keeps the batches fixed (`generate(prompts:options:streams:split:)`).
    public func generate(prompts: [[Int32]], options: SamplingOptions, streams: [RandomGenerator]) -> Generation {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generate needs non-empty prompts")
        precondition(options.temperature >= 0, "temperature must be >= 0, got \(options.temperature)")
        precondition(streams.count == prompts.count, "generate needs one stream per prompt: \(streams.count) for \(prompts.count) prompts")
        guard prompts.count >= 2, !decodesAsOneBatch else {
            return decode(prompts: prompts, options: options, streams: streams, panels: decodingPanels())
        }
        let cut = Parallel.halves(prompts)[0].count
        return Generation(concatenating: decode(parts: [0 ..< cut, cut ..< prompts.count], prompts: prompts, options: options, streams: streams))
    }

    /// The row generators `generate(prompts:options:rng:)` and `stream` use: sampling forks one generator from `rng`
    /// and gives row i its `substream(question: i, sample: 0)`; greedy decoding draws nothing and leaves `rng` as it was.
    static func rowStreams(_ count: Int, options: SamplingOptions, rng: inout RandomGenerator) -> [RandomGenerator] {
        guard options.temperature > 0 else { return Array(repeating: rng, count: count) }
        let base = rng.fork()
        return (0..<count).map { base.substream(question: $0, sample: 0) }
    }

    /// Each of `parts` (ranges of rows) decoded as its own batch: at once, one per core, or, for a model that
    /// `decodesAsOneBatch`, consecutive parts of at most `FewRowProduct.maximumRows` rows in all in one decoding loop
    /// when its steps compute every row alike whatever rows share them (`decodesRowsIndependently`: each step then reads
    /// the weights once for those parts, and each row comes out the bits its own part's batch gives), the others one
    /// after the other, each step's products split across cores.
    func decode(parts: [Range<Int>], prompts: [[Int32]], options: SamplingOptions, streams: [RandomGenerator]) -> [Generation] {
        var out = [Generation?](repeating: nil, count: parts.count)
        // packed once for every part (the set is read-only while the parts decode at once)
        let panels = decodingPanels()
        if decodesAsOneBatch {
            var i = 0
            while i < parts.count {
                var j = i + 1, rows = parts[i].count
                while j < parts.count, rows + parts[j].count <= FewRowProduct.maximumRows {
                    rows += parts[j].count
                    j += 1
                }
                if j - i >= 2, decodesRowsIndependently(rows: rows) {
                    let together = parts[i ..< j].flatMap { Array($0) }
                    let all = decode(prompts: together.map { prompts[$0] }, options: options, streams: together.map { streams[$0] },
                                     batches: parts[i ..< j].map(\.count), panels: panels)
                    var at = 0
                    for k in i ..< j {
                        let r = at ..< at + parts[k].count
                        out[k] = Generation(tokens: Array(all.tokens[r]), logProbs: Array(all.logProbs[r]), entropies: Array(all.entropies[r]),
                                            finishReasons: Array(all.finishReasons[r]), nonFiniteLogitsAt: Array(all.nonFiniteLogitsAt[r]))
                        at = r.upperBound
                    }
                } else {
                    for k in i ..< j {
                        out[k] = decode(prompts: Array(prompts[parts[k]]), options: options, streams: Array(streams[parts[k]]), panels: panels)
                    }
                }
                i = j
            }
        } else {
            out.withUnsafeMutableBufferPointer { out in
                Parallel.split(parts.count) { i in
                    out[i] = decode(prompts: Array(prompts[parts[i]]), options: options, streams: Array(streams[parts[i]]), panels: panels)
                }
            }
        }
        return out.map { $0! }
    }

    /// Samples one completion of `prompt` token by token, calling `onToken` with each as soon as it is chosen (for
    /// printing a generation while it happens); the tokens equal `generate`'s for a single prompt with the same
    /// options and generator.
    public func stream(prompt: [Int32], options: SamplingOptions, rng: inout RandomGenerator,
                       onToken: (Int32) -> Void) -> (tokens: [Int32], finish: FinishReason) {
        precondition(!prompt.isEmpty, "stream needs a non-empty prompt")
        precondition(prompt.count < config.maxPositionEmbeddings,
                     "prompt of \(prompt.count) tokens leaves no room in max_position_embeddings \(config.maxPositionEmbeddings)")
        var own = Self.rowStreams(1, options: options, rng: &rng)[0]
        let capacity = min(config.maxPositionEmbeddings, prompt.count + options.maxNewTokens)
        let cache = KVCache(config: config, batch: 1, capacity: capacity)
        cache.panels = decodingPanels()
        var logits = step(cache: cache, rows: [0], tokens: prompt, count: prompt.count, lastPositionOnly: true)  // (1, 1, V)
        var tokens: [Int32] = []
        while tokens.count < options.maxNewTokens {
            let token = chooseToken(logits: UnsafeBufferPointer(start: logits.ptr, count: config.vocabSize), options: options, rng: &own).token
            tokens.append(token)
            onToken(token)
            if options.stopTokens.contains(token) { return (tokens, .stop) }
            guard cache.lengths[0] < capacity, tokens.count < options.maxNewTokens else { break }
            logits = step(cache: cache, rows: [0], tokens: [token], count: 1)
        }
        return (tokens, .length)
    }

    /// The float weights of the model's products (its Linear weights not in int8, and the output layer's) packed for the
    /// few-row `panels` kernel, for the caches of one call's decoding loops (shared: the set is read-only): those
    /// `FewRowPanels.isWorthPacking`, in a model that does not `decodesAsOneBatch` (its weights stay in cache from step
    /// to step); nil where there are none (no AVX-512, or weights too large or too small).
    public func decodingPanels() -> FewRowPanelSet? {
        guard FewRowPanels.isAvailable, !decodesAsOneBatch else { return nil }
        let names = Set(linearWeights.map(\.name) + [outputWeightName]).filter { quantizedLinears[$0] == nil }
        let set = FewRowPanelSet(names.sorted().map { parameters[$0] })
        return set.isEmpty ? nil : set
    }

    /// Whether `generate` decodes all rows as one batch: when the float weights (64 MB and more) are larger than
    /// the caches, so that reading them twice per step (once per half) would cost more than splitting each
    /// product across cores.
    var decodesAsOneBatch: Bool { parameters.count * MemoryLayout<Float>.size >= 64 << 20 }

    /// Whether a decoding step of `rows` rows computes each row to the same bits whatever other rows share the step, so
    /// that batches decoded in one loop give what each gives alone. It holds when every product of the step goes through
    /// the few-row kernel (at most `FewRowProduct.maximumRows` rows, every matrix of `FewRowProduct.minimumWeightBytes`
    /// or more, none int8: the kernel computes each output alike whatever the rows; sgemm's blocking follows the row
    /// count) and SwiGLU never hands a row's entries to its scalar tail, which computes the sigmoid another way than the
    /// vector loop (the MLP width a multiple of the vector width times the threads that split the loop). Norms, rotary
    /// embedding, attention and the residual adds work row by row or entry by entry alike. Prefill is not covered: it
    /// runs each batch's own groups of prompts, as that batch alone would.
    public func decodesRowsIndependently(rows: Int) -> Bool {
        rows <= FewRowProduct.maximumRows && quantizedLinears.isEmpty
            && config.intermediateSize % (simdWidth * max(1, Parallel.threads)) == 0
            && parameters.views.allSatisfy { $0.shape.count != 2 || $0.count * MemoryLayout<Float>.stride >= FewRowProduct.minimumWeightBytes }
    }

    /// `generate` over `prompts` in one batch; row i draws from `streams[i]`. With `batches` (consecutive row counts,
    /// summing to the prompts), each batch is prefilled and bounded as if decoded alone (its own prompt-length groups,
    /// its own cache capacity), and only the decoding steps take every batch's rows at once (for
    /// `decodesRowsIndependently` models).
    /// `panels`: the model's `decodingPanels()`, which the caller packs once for all the batches it decodes.
    private func decode(prompts: [[Int32]], options: SamplingOptions, streams: [RandomGenerator], batches: [Int]? = nil,
                        panels: FewRowPanelSet?) -> Generation {
        var generators = streams
        let sizes = batches ?? [prompts.count]
        precondition(sizes.reduce(0, +) == prompts.count && sizes.allSatisfy { $0 > 0 }, "decode: batches \(sizes) for \(prompts.count) prompts")
        let batchOf = sizes.enumerated().flatMap { Array(repeating: $0.offset, count: $0.element) }
        var start = 0
        // each batch's cache length is its own longest prompt plus the new tokens, as when it is decoded alone
        let capacities: [Int] = sizes.map { n in
            defer { start += n }
            let longest = prompts[start ..< start + n].map(\.count).max()!
            precondition(longest < config.maxPositionEmbeddings,
                         "prompt of \(longest) tokens leaves no room in max_position_embeddings \(config.maxPositionEmbeddings)")
            return min(config.maxPositionEmbeddings, longest + options.maxNewTokens)
        }
        let capacity = capacities.max()!
        let cache = KVCache(config: config, batch: prompts.count, capacity: capacity)
        cache.panels = panels
        let v = config.vocabSize
        // Each row's last-position logits, read where the step left them: (the step's logits, the row's index in
        // them). Nothing copies them per row, so a step holds one (R, V) tensor at a 49K vocabulary, no more.
        var last = [(logits: Tensor, index: Int)?](repeating: nil, count: prompts.count)
        func lastLogits(_ row: Int) -> UnsafeBufferPointer<Float> {
            UnsafeBufferPointer(start: last[row]!.logits.ptr + last[row]!.index * v, count: v)
        }
        // Prefill: rows of a batch with equal prompt length go through together; only their last positions are projected.
        let groups = Dictionary(grouping: prompts.indices, by: { [batchOf[$0], prompts[$0].count] })
        for (_, rows) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let logits = step(cache: cache, rows: rows, tokens: rows.flatMap { prompts[$0] }, count: prompts[rows[0]].count, lastPositionOnly: true)
            for (j, row) in rows.enumerated() { last[row] = (logits, j) }
        }
        var out = Generation(tokens: .init(repeating: [], count: prompts.count), logProbs: .init(repeating: [], count: prompts.count),
                             entropies: .init(repeating: [], count: prompts.count),
                             finishReasons: .init(repeating: .length, count: prompts.count),
                             nonFiniteLogitsAt: .init(repeating: nil, count: prompts.count))
        var active = Array(prompts.indices)
        for _ in 0..<options.maxNewTokens where !active.isEmpty {
            var next: [Int32] = []
            var stillActive: [Int] = []
            // each row's choice reads only its logits and draws only from its own generator: the rows are chosen
            // in parallel (a greedy choice over 49K logits is tens of microseconds a row), then recorded in order
            var choices = [(token: Int32, logProb: Float, entropy: Float, firstNonFinite: Bool)](repeating: (0, 0, 0, false), count: active.count)
            choices.withUnsafeMutableBufferPointer { choices in
                generators.withUnsafeMutableBufferPointer { generators in
                    Parallel.forRanges(active.count, work: active.count * v) { range in
                        for j in range {
                            let row = active[j], logits = lastLogits(row)
                            let firstNonFinite = out.nonFiniteLogitsAt[row] == nil && logits.contains(where: { !$0.isFinite })
                            let choice = chooseToken(logits: logits, options: options, rng: &generators[row])
                            choices[j] = (choice.token, choice.logProb, choice.entropy, firstNonFinite)
                        }
                    }
                }
            }
            for (j, row) in active.enumerated() {
                let choice = choices[j]
                if choice.firstNonFinite { out.nonFiniteLogitsAt[row] = out.tokens[row].count }
                out.tokens[row].append(choice.token)
                out.logProbs[row].append(choice.logProb)
                out.entropies[row].append(choice.entropy)
                if options.stopTokens.contains(choice.token) {
                    out.finishReasons[row] = .stop
                } else if cache.lengths[row] < capacities[batchOf[row]] {
                    stillActive.append(row)
                    next.append(choice.token)
                }
            }
            active = stillActive
            guard !active.isEmpty, out.tokens[active[0]].count < options.maxNewTokens else { break }
            let logits = step(cache: cache, rows: active, tokens: next, count: 1)
            for (j, row) in active.enumerated() { last[row] = (logits, j) }
        }
        return out
    }
}

/// Draws one of `candidates` with probability proportional to `weights` (one uniform draw).
private func sampleIndex(weights: [Double], candidates: [Int], rng: inout RandomGenerator) -> Int {
    var u = rng.nextDouble() * weights.reduce(0, +)
    for (j, w) in zip(candidates, weights) {
        u -= w
        if u < 0 { return j }
    }
    return candidates.last!
}

/// Picks one token from `logits`: greedy when temperature is 0, else top-k / top-p filtered sampling.
/// Returns the token with its log-probability and the entropy of the temperature-scaled distribution.
public func chooseToken(logits: [Float], options: SamplingOptions, rng: inout RandomGenerator)
    -> (token: Int32, logProb: Float, entropy: Float) {
    logits.withUnsafeBufferPointer { chooseToken(logits: $0, options: options, rng: &rng) }
}

/// `chooseToken` over logits read in place (a row of a step's (R, V) logits, not copied).
public func chooseToken(logits: UnsafeBufferPointer<Float>, options: SamplingOptions, rng: inout RandomGenerator)
    -> (token: Int32, logProb: Float, entropy: Float) {
    let v = logits.count
    if options.temperature == 0 { return greedyToken(logits: logits) }
    let t = options.temperature
    var logp = [Float](repeating: 0, count: v)
    let scaled = logits.map { $0 / t }
    scaled.withUnsafeBufferPointer { s in
        logp.withUnsafeMutableBufferPointer { lp in logSoftmaxRows(s.baseAddress!, lp.baseAddress!, rows: 1, cols: v) }
    }
    // -sum p log p, vectorised; a masked entry (log p = -inf) adds 0, not 0 * -inf
    @_transparent func term(_ a: Vec, _: Vec) -> Vec {  // not a closure literal: see FastMath
        let e = vexp(a)
        return (e * a).replacing(with: 0, where: e .== 0)
    }
    let entropy = -logp.withUnsafeBufferPointer { lp in sumVec2(v, lp.baseAddress!, lp.baseAddress!, term) }
    let token: Int
    if options.topK == nil && options.topP == nil {
        token = sampleIndex(weights: logp.indices.map { Double(Foundation.exp(logp[$0])) }, candidates: Array(logp.indices), rng: &rng)
    } else {
        var order = Array(0..<v)
        order.sort { logp[$0] > logp[$1] }
        var keep = v
        if let k = options.topK { keep = max(1, min(k, v)) }
        if let p = options.topP {
            // the nucleus is measured on the top-k distribution renormalised (as Hugging Face and vLLM)
            let kept = order.prefix(keep)
            let total = kept.reduce(Float(0)) { $0 + Foundation.exp(logp[$1]) }
            var mass: Float = 0
            for (i, j) in kept.enumerated() {
                mass += Foundation.exp(logp[j]) / total
                if mass >= p { keep = i + 1; break }
            }
        }
        let kept = Array(order.prefix(keep))
        token = sampleIndex(weights: kept.map { Double(Foundation.exp(logp[$0])) }, candidates: kept, rng: &rng)
    }
    return (Int32(token), logp[token], entropy)
}

/// Greedy choice at T = 1: the first index of the largest logit, its log-probability -log sum_j e^(x_j - max) and
/// the entropy log s - (sum_j e^(y_j) y_j) / s with y = x - max, s = sum_j e^(y_j), in one vectorised pass with no
/// (V) log-softmax written out. Logits that are all -inf or NaN give token 0 and a NaN log-probability, as a
/// log-softmax over them would.
private func greedyToken(logits: UnsafeBufferPointer<Float>) -> (token: Int32, logProb: Float, entropy: Float) {
    let v = logits.count, x = logits.baseAddress!
    let m = vmax(x, v)
    guard m.isFinite else { return (0, .nan, .nan) }
    var token = 0, i = 0
    let top = Vec(repeating: m)
    while i + simdWidth <= v, !any(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self) .== top) { i += simdWidth }
    while i < v, x[i] != m { i += 1 }
    token = i
    // s = ties + rest: the maxima's e^0 = 1 counted apart from the other entries' sum, so that log s = log1p(rest)
    // keeps its precision when the distribution is peaked (1 + rest in float would drop rest's low bits);
    // sy = sum e^y y. An entry at -inf has e^y = 0 and adds 0 to both.
    var ties = Vec(), rest = Vec(), sy = Vec()
    let zero = Vec(), one = Vec(repeating: 1)
    i = 0
    while i + simdWidth <= v {
        let y = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self) - top
        let e = vexp(y)
        ties += zero.replacing(with: one, where: y .== zero)
        rest += e.replacing(with: 0, where: y .== zero)
        sy += (e * y).replacing(with: 0, where: e .== 0)
        i += simdWidth
    }
    var tieCount = laneSum(ties), restSum = laneSum(rest), weighted = laneSum(sy)
    while i < v {
        let y = x[i] - m, e = fexp(y)
        if y == 0 { tieCount += 1 } else { restSum += e }
        if e != 0 { weighted += e * y }
        i += 1
    }
    let logTotal = tieCount == 1 ? Foundation.log1p(restSum) : Foundation.log(tieCount + restSum)
    return (Int32(token), -logTotal, logTotal - weighted / (tieCount + restSum))
}
