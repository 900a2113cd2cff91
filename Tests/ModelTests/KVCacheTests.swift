import Foundation
import Model
import Tensor
import TestSupport
import Testing

// KV-cache decoding (Transformer.step) against full recomputation with forward over the whole prefix:
// prefill, one token at a time, several tokens at once, rows of different lengths in one cache, rows
// stepped in any order and subsets; and generate's greedy tokens against the argmax of full recompute.
// Tolerance 1e-4 absolute + 1e-4 relative (same float32 arithmetic in a different order).

@Suite("KV cache")
struct KVCacheTests {
    static let config = TinyModels.config(vocab: 13, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2,
                                          qkvBias: true, maxPositions: 24)

    /// Logits of the last position of `prefix` from a full forward pass.
    static func fullLastLogits(_ model: Transformer, _ prefix: [Int32]) -> [Float] {
        let logits = model.forward(tokens: prefix, batch: 1, length: prefix.count).logits
        return row(logits, prefix.count - 1)
    }

    @Test("prefill then one token at a time equals forward over the whole prefix")
    func singleRow() throws {
        let model = try TinyModels.model(Self.config, seed: 21)
        let v = Self.config.vocabSize
        let seq = randomIds(12, below: v, seed: 3)
        let cache = KVCache(config: Self.config, batch: 1, capacity: 16)
        let prefill = model.step(cache: cache, rows: [0], tokens: Array(seq[..<5]), count: 5)
        #expect(prefill.shape == [1, 5, v])
        #expect(!prefill.requiresGrad)
        allClose(prefill, model.forward(tokens: Array(seq[..<5]), batch: 1, length: 5).logits, rtol: 1e-4, atol: 1e-4, "prefill")
        #expect(cache.lengths == [5])
        for n in 5..<12 {
            let logits = model.step(cache: cache, rows: [0], tokens: [seq[n]], count: 1)
            #expect(logits.shape == [1, 1, v])
            allClose(logits.toArray(), Self.fullLastLogits(model, Array(seq[...n])), rtol: 1e-4, atol: 1e-4, "position \(n)")
        }
        #expect(cache.lengths == [12])
        // A chunk of 3 new tokens at once: each of its positions equals the full recompute.
        let more = randomIds(3, below: v, seed: 4)
        let chunk = model.step(cache: cache, rows: [0], tokens: more, count: 3)
        let full = model.forward(tokens: seq + more, batch: 1, length: 15).logits
        for j in 0..<3 { allClose(row(chunk, j), row(full, 12 + j), rtol: 1e-4, atol: 1e-4, "chunk position \(12 + j)") }
        #expect(cache.lengths == [15])
    }

    @Test("a prefill projecting only the last positions gives (R, 1, V), each row's last logits of the full forward")
    func lastPositionOnly() throws {
        let model = try TinyModels.model(Self.config, seed: 23)
        let v = Self.config.vocabSize
        let seqs = [randomIds(7, below: v, seed: 30), randomIds(7, below: v, seed: 31)]
        let cache = KVCache(config: Self.config, batch: 2, capacity: 10)
        let last = model.step(cache: cache, rows: [0, 1], tokens: seqs[0] + seqs[1], count: 7, lastPositionOnly: true)
        #expect(last.shape == [2, 1, v])
        #expect(cache.lengths == [7, 7])
        for r in 0..<2 { allClose(row(last, r), Self.fullLastLogits(model, seqs[r]), rtol: 1e-4, atol: 1e-4, "row \(r)") }
        // the cache it filled decodes on as a full prefill's would
        let next = model.step(cache: cache, rows: [1], tokens: [3], count: 1)
        allClose(next.toArray(), Self.fullLastLogits(model, seqs[1] + [3]), rtol: 1e-4, atol: 1e-4, "after the prefill")
    }

    @Test("rows of different prompt lengths share one cache; rows step in any order and as subsets")
    func raggedRows() throws {
        let model = try TinyModels.model(Self.config, seed: 22)
        let v = Self.config.vocabSize
        var seqs = [randomIds(2, below: v, seed: 10), randomIds(6, below: v, seed: 11), randomIds(4, below: v, seed: 12)]
        let cache = KVCache(config: Self.config, batch: 3, capacity: 20)
        // Prefill row 1 and row 0 separately (different lengths), row 2 last.
        for r in [1, 0, 2] {
            let logits = model.step(cache: cache, rows: [r], tokens: seqs[r], count: seqs[r].count)
            allClose(row(logits, seqs[r].count - 1), Self.fullLastLogits(model, seqs[r]), rtol: 1e-4, atol: 1e-4, "prefill row \(r)")
        }
        #expect(cache.lengths == [2, 6, 4])
        var rng = RandomGenerator(seed: 5)
        let schedule: [[Int]] = [[0, 1, 2], [2, 0, 1], [1], [0, 2], [2, 1, 0], [0]]
        for (s, rows) in schedule.enumerated() {
            let next = rows.map { _ in Int32(rng.nextInt(below: v)) }
            let logits = model.step(cache: cache, rows: rows, tokens: next, count: 1)
            #expect(logits.shape == [rows.count, 1, v])
            for (j, r) in rows.enumerated() {
                seqs[r].append(next[j])
                allClose(row(logits, j), Self.fullLastLogits(model, seqs[r]), rtol: 1e-4, atol: 1e-4,
                         "step \(s) row \(r) (length \(seqs[r].count))")
            }
        }
        #expect(cache.lengths == seqs.map(\.count))
    }

    @Test("two rows prefilled together equal each row alone")
    func batchedPrefill() throws {
        let model = try TinyModels.model(Self.config, seed: 23)
        let v = Self.config.vocabSize
        let a = randomIds(5, below: v, seed: 1), b = randomIds(5, below: v, seed: 2)
        let cache = KVCache(config: Self.config, batch: 2, capacity: 10)
        let logits = model.step(cache: cache, rows: [1, 0], tokens: b + a, count: 5)  // row order 1, 0
        let full = model.forward(tokens: b + a, batch: 2, length: 5).logits
        allClose(logits, full, rtol: 1e-4, atol: 1e-4, "batched prefill")
        let next = model.step(cache: cache, rows: [0, 1], tokens: [3, 4], count: 1)
        allClose(row(next, 0), Self.fullLastLogits(model, a + [3]), rtol: 1e-4, atol: 1e-4, "row 0 after batched prefill")
        allClose(row(next, 1), Self.fullLastLogits(model, b + [4]), rtol: 1e-4, atol: 1e-4, "row 1 after batched prefill")
    }

    @Test("greedy generate equals the argmax of full recompute, step by step, for prompts of different lengths")
    func greedyGenerate() throws {
        let model = try TinyModels.model(Self.config, seed: 24)
        let v = Self.config.vocabSize
        let prompts = [randomIds(3, below: v, seed: 31), randomIds(7, below: v, seed: 32), randomIds(1, below: v, seed: 33)]
        var rng = RandomGenerator(seed: 0)
        let gen = model.generate(prompts: prompts, options: .greedy(maxNewTokens: 8, stopTokens: []), rng: &rng)
        #expect(gen.tokens.count == 3 && gen.finishReasons == [.length, .length, .length])
        for (r, prompt) in prompts.enumerated() {
            #expect(gen.tokens[r].count == 8)
            var prefix = prompt
            for (i, token) in gen.tokens[r].enumerated() {
                let logits = Self.fullLastLogits(model, prefix)
                #expect(Int(token) == argmax(logits), "row \(r) step \(i)")
                let logp = referenceLogSoftmax(logits)
                allClose(gen.logProbs[r][i], logp[Int(token)], rtol: 1e-4, atol: 1e-4, "row \(r) step \(i) log-prob")
                allClose(gen.entropies[r][i], referenceEntropy(logp), rtol: 1e-4, atol: 1e-4, "row \(r) step \(i) entropy")
                prefix.append(token)
            }
        }
        // Generating a row alone gives the same tokens as in the batch.
        var rng2 = RandomGenerator(seed: 0)
        let alone = model.generate(prompts: [prompts[1]], options: .greedy(maxNewTokens: 8, stopTokens: []), rng: &rng2)
        #expect(alone.tokens[0] == gen.tokens[1])
    }

    @Test("with the weights packed for the panels kernel (AVX-512), decoding steps and greedy generate equal full recompute",
          .enabled(if: FewRowPanels.isAvailable))
    func packedWeights() throws {
        // 64 wide: every matrix is 16-25 KB, each packed
        let config = TinyModels.config(vocab: 70, hidden: 64, intermediate: 96, layers: 2, heads: 4, kvHeads: 2, maxPositions: 24)
        let model = try TinyModels.model(config, seed: 26)
        let panels = try #require(model.decodingPanels())
        for name in model.linearWeights.map(\.name) + ["model.embed_tokens.weight"] where model.parameters.contains(name) {
            // the embedding is packed only as the tied output layer's weight
            #expect((panels.panels(for: model.parameters[name]) != nil) == (name != "model.embed_tokens.weight" || config.tieWordEmbeddings),
                    "\(name)")
        }
        let seqs = [randomIds(4, below: 70, seed: 40), randomIds(6, below: 70, seed: 41), randomIds(5, below: 70, seed: 42)]
        let cache = KVCache(config: config, batch: 3, capacity: 16)
        cache.panels = panels
        var prefixes = seqs
        for r in 0..<3 { _ = model.step(cache: cache, rows: [r], tokens: seqs[r], count: seqs[r].count) }
        for s in 0..<5 {
            let next = (0..<3).map { Int32(($0 * 7 + s * 3) % 70) }
            let logits = model.step(cache: cache, rows: [0, 1, 2], tokens: next, count: 1)
            for r in 0..<3 {
                prefixes[r].append(next[r])
                allClose(row(logits, r), Self.fullLastLogits(model, prefixes[r]), rtol: 1e-4, atol: 1e-4, "step \(s) row \(r)")
            }
        }
        var rng = RandomGenerator(seed: 0)
        let gen = model.generate(prompts: seqs, options: .greedy(maxNewTokens: 6, stopTokens: []), rng: &rng)
        for (r, prompt) in seqs.enumerated() {
            var prefix = prompt
            for (i, token) in gen.tokens[r].enumerated() {
                #expect(Int(token) == argmax(Self.fullLastLogits(model, prefix)), "row \(r) token \(i)")
                prefix.append(token)
            }
        }
    }

    @Test("generation stops with .length at the context limit; every token still equals full recompute")
    func contextLimit() throws {
        var config = Self.config
        config.maxPositionEmbeddings = 12
        let model = try TinyModels.model(config, seed: 25)
        let prompt = randomIds(10, below: config.vocabSize, seed: 7)
        var rng = RandomGenerator(seed: 0)
        let gen = model.generate(prompts: [prompt], options: .greedy(maxNewTokens: 6, stopTokens: []), rng: &rng)
        #expect(gen.finishReasons == [.length])
        #expect(gen.tokens[0].count >= 2 && gen.tokens[0].count < 6, "\(gen.tokens[0].count) tokens with 2 free positions")
        var prefix = prompt
        for token in gen.tokens[0] {
            #expect(prefix.count <= config.maxPositionEmbeddings)
            #expect(Int(token) == argmax(Self.fullLastLogits(model, prefix)))
            prefix.append(token)
        }
    }
}
