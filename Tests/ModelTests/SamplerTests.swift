import Foundation
import Model
import Tensor
import TestSupport
import Testing

// chooseToken and generate: greedy, seeding, top-k, top-p (nucleus) and temperature, checked on
// hand-built logits with many draws (empirical frequencies vs the renormalised probabilities, 20000
// draws: a frequency's standard error is <= 0.0036, the tolerance 0.015 is > 4 standard errors);
// stop tokens and maxNewTokens; log-probabilities and entropies against NumPy numbers
// (scripts/make_model_loss_values.py) and against full recompute through the model.

@Suite("Sampler")
struct SamplerTests {
    /// Empirical frequency of each token over `draws` calls.
    static func frequencies(_ logits: [Float], _ options: SamplingOptions, draws: Int = 20_000, seed: UInt64 = 1) -> [Double] {
        var rng = RandomGenerator(seed: seed)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[Int(chooseToken(logits: logits, options: options, rng: &rng).token)] += 1 }
        return counts.map { Double($0) / Double(draws) }
    }

    static let handLogits: [Float] = [2.0, 1.0, 0.5, -1.0]

    @Test("greedy picks the argmax whatever the generator; its log-prob and entropy are at T = 1 (NumPy values)")
    func greedy() {
        for seed in UInt64(0)..<20 {
            var rng = RandomGenerator(seed: seed)
            let c = chooseToken(logits: [0.1, 3.0, -2.0, 2.9], options: .greedy(maxNewTokens: 1), rng: &rng)
            #expect(c.token == 1)
        }
        var rng = RandomGenerator(seed: 0)
        let c = chooseToken(logits: Self.handLogits, options: .greedy(maxNewTokens: 1), rng: &rng)
        #expect(c.token == 0)
        // numpy: log_softmax([2, 1, 0.5, -1]) = [-0.495181898, -1.4951819, -1.9951819, -3.4951819], entropy 1.01440278
        allClose(c.logProb, -0.495181898, rtol: 1e-6, atol: 1e-6)
        allClose(c.entropy, 1.01440278, rtol: 1e-6, atol: 1e-6)
    }

    @Test("log-prob and entropy of a sampled token are those of log-softmax(logits / T), before filtering")
    func logProbAndEntropyAtTemperature() {
        // numpy, T = 0.7: log_softmax = [-0.315346355, -1.74391778, -2.4582035, -4.60106064], entropy 0.791547061
        let expected: [Double] = [-0.315346355, -1.74391778, -2.4582035, -4.60106064]
        var seen = Set<Int32>()
        var rng = RandomGenerator(seed: 3)
        for _ in 0..<200 {
            let c = chooseToken(logits: Self.handLogits, options: SamplingOptions(temperature: 0.7), rng: &rng)
            seen.insert(c.token)
            allClose(c.logProb, expected[Int(c.token)], rtol: 1e-5, atol: 1e-6, "token \(c.token)")
            allClose(c.entropy, 0.791547061, rtol: 1e-5, atol: 1e-6)
        }
        #expect(seen.count >= 3)
        // With top-k 2 the reported log-prob is still the unfiltered one (PPO's behaviour policy).
        var rng2 = RandomGenerator(seed: 4)
        for _ in 0..<50 {
            let c = chooseToken(logits: Self.handLogits, options: SamplingOptions(temperature: 0.7, topK: 2), rng: &rng2)
            #expect(c.token == 0 || c.token == 1)
            allClose(c.logProb, expected[Int(c.token)], rtol: 1e-5, atol: 1e-6)
            allClose(c.entropy, 0.791547061, rtol: 1e-5, atol: 1e-6)
        }
    }

    @Test("top-k = 1 equals greedy at any temperature")
    func topKOne() {
        var rng = RandomGenerator(seed: 8)
        var logitsRng = RandomGenerator(seed: 9)
        for _ in 0..<200 {
            let logits = (0..<7).map { _ in logitsRng.nextNormal() }
            let c = chooseToken(logits: logits, options: SamplingOptions(temperature: 1.5, topK: 1), rng: &rng)
            #expect(Int(c.token) == argmax(logits))
        }
    }

    @Test("top-p keeps only the nucleus; frequencies match the renormalised probabilities")
    func nucleus() {
        // probabilities 0.3, 0.05, 0.5, 0.15 (in a scrambled order); p = 0.75 keeps {0.5, 0.3} (mass 0.8)
        let probs: [Double] = [0.3, 0.05, 0.5, 0.15]
        let logits = probs.map { Float(Foundation.log($0)) }
        let f = Self.frequencies(logits, SamplingOptions(temperature: 1, topP: 0.75))
        #expect(f[1] == 0 && f[3] == 0, "tokens outside the nucleus were drawn: \(f)")
        #expect(abs(f[2] - 0.5 / 0.8) < 0.015 && abs(f[0] - 0.3 / 0.8) < 0.015, "\(f) vs 0.625, 0.375")
        // p = 0.9 adds the 0.15 token (mass 0.95), never the 0.05 one.
        let g = Self.frequencies(logits, SamplingOptions(temperature: 1, topP: 0.9), seed: 2)
        #expect(g[1] == 0, "\(g)")
        #expect(abs(g[2] - 0.5 / 0.95) < 0.015 && abs(g[0] - 0.3 / 0.95) < 0.015 && abs(g[3] - 0.15 / 0.95) < 0.015, "\(g)")
        // p below the top probability keeps the top token only.
        let one = Self.frequencies(logits, SamplingOptions(temperature: 1, topP: 0.4), draws: 2000, seed: 3)
        #expect(one == [0, 0, 1, 0])
    }

    @Test("top-k and temperature: frequencies match softmax(logits / T) renormalised over the kept tokens")
    func topKAndTemperature() {
        let logits: [Float] = [0.5, 1.5, -0.2, 1.0, 0.0]
        let p = referenceLogSoftmax(logits, temperature: 0.5).map { Foundation.exp($0) }
        let f = Self.frequencies(logits, SamplingOptions(temperature: 0.5))
        for j in 0..<5 { #expect(abs(f[j] - p[j]) < 0.015, "T 0.5 token \(j): \(f[j]) vs \(p[j])") }
        // top-k 3 keeps tokens 1, 3, 0
        let kept = p[1] + p[3] + p[0]
        let g = Self.frequencies(logits, SamplingOptions(temperature: 0.5, topK: 3), seed: 5)
        #expect(g[2] == 0 && g[4] == 0, "\(g)")
        for j in [0, 1, 3] { #expect(abs(g[j] - p[j] / kept) < 0.015, "top-k token \(j): \(g[j]) vs \(p[j] / kept)") }
    }

    @Test("tokens with -inf logits are never drawn and do not make the entropy NaN")
    func maskedLogits() {
        var rng = RandomGenerator(seed: 1)
        for _ in 0..<500 {
            let c = chooseToken(logits: [0, -.infinity, 0.3, -.infinity], options: SamplingOptions(temperature: 1), rng: &rng)
            #expect(c.token == 0 || c.token == 2)
            #expect(c.entropy.isFinite && c.logProb.isFinite)
        }
    }

    @Test("same seed gives the same tokens; greedy ignores the seed")
    func seeding() throws {
        let config = TinyModels.config(vocab: 13, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2)
        let model = try TinyModels.model(config, seed: 40, std: 0.2)
        let prompts: [[Int32]] = [[1, 5, 7], [1, 4]]
        let options = SamplingOptions(temperature: 1, topK: 8, maxNewTokens: 10, stopTokens: [])
        func run(_ seed: UInt64, _ o: SamplingOptions) -> [[Int32]] {
            var rng = RandomGenerator(seed: seed)
            return model.generate(prompts: prompts, options: o, rng: &rng).tokens
        }
        let a = run(7, options), b = run(7, options)
        #expect(a == b)
        #expect(a.allSatisfy { $0.count == 10 })
        #expect([8, 9, 10, 11].contains { run($0, options) != a }, "four other seeds all gave the same 20 sampled tokens")
        let greedy = SamplingOptions.greedy(maxNewTokens: 10, stopTokens: [])
        #expect(run(1, greedy) == run(2, greedy))
    }

    @Test("rows decoded in two halves come back in order: greedy over five prompts equals each prompt alone, and leaves the generator as it was")
    func halvesKeepRowOrder() throws {
        let config = TinyModels.config(vocab: 13, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2)
        let model = try TinyModels.model(config, seed: 44, std: 0.5)
        let prompts: [[Int32]] = [[1, 5, 7], [1, 4], [3, 9, 4, 2], [7, 1], [1, 2, 3]]
        let greedy = SamplingOptions.greedy(maxNewTokens: 7, stopTokens: [])
        var rng = RandomGenerator(seed: 5)
        let before = rng
        let all = model.generate(prompts: prompts, options: greedy, rng: &rng)
        #expect(rng == before)
        for (r, prompt) in prompts.enumerated() {
            let alone = model.generate(prompts: [prompt], options: greedy, rng: &rng)
            #expect(all.tokens[r] == alone.tokens[0], "row \(r)")
            allClose(all.logProbs[r], alone.logProbs[0], rtol: 1e-4, atol: 1e-5, "row \(r) log-probs")
        }
        #expect(Set(all.tokens).count > 1, "the rows should differ, or the order would not be tested")
    }

    @Test("sampled generate: each token's log-prob and entropy equal full recompute at temperature T")
    func sampledGenerateLogProbs() throws {
        let config = TinyModels.config(vocab: 13, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2)
        let model = try TinyModels.model(config, seed: 41, std: 0.3)
        let prompts: [[Int32]] = [[1, 5, 7, 2], [1, 4]]
        var rng = RandomGenerator(seed: 12)
        let t: Float = 0.8
        let gen = model.generate(prompts: prompts, options: SamplingOptions(temperature: t, topK: 5, maxNewTokens: 6, stopTokens: []), rng: &rng)
        for (r, prompt) in prompts.enumerated() {
            #expect(gen.tokens[r].count == 6 && gen.logProbs[r].count == 6 && gen.entropies[r].count == 6)
            var prefix = prompt
            for (i, token) in gen.tokens[r].enumerated() {
                let logits = row(model.forward(tokens: prefix, batch: 1, length: prefix.count).logits, prefix.count - 1)
                let logp = referenceLogSoftmax(logits, temperature: Double(t))
                allClose(gen.logProbs[r][i], logp[Int(token)], rtol: 1e-4, atol: 1e-4, "row \(r) step \(i) log-prob")
                allClose(gen.entropies[r][i], referenceEntropy(logp), rtol: 1e-4, atol: 1e-4, "row \(r) step \(i) entropy")
                let rank = logits.filter { $0 > logits[Int(token)] }.count
                #expect(rank < 5, "row \(r) step \(i): token of rank \(rank) drawn with top-k 5")
                prefix.append(token)
            }
        }
    }

    @Test("a stop token ends its row (.stop, token kept); other rows run to maxNewTokens (.length)")
    func stopTokens() throws {
        let config = TinyModels.config(vocab: 13, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2)
        let model = try TinyModels.model(config, seed: 43, std: 0.5)
        let prompts: [[Int32]] = [[3, 9, 4], [7, 1, 12, 6, 5]]
        var rng = RandomGenerator(seed: 0)
        let free = model.generate(prompts: prompts, options: .greedy(maxNewTokens: 8, stopTokens: []), rng: &rng)
        #expect(free.finishReasons == [.length, .length])
        #expect(free.tokens.allSatisfy { $0.count == 8 })
        // A token that row 0 produces (not first) and row 1 never does.
        let candidate = free.tokens[0].dropFirst().first { !free.tokens[1].contains($0) && $0 != free.tokens[0][0] }
        let stop = try #require(candidate, "no usable stop token in \(free.tokens)")
        let at = free.tokens[0].firstIndex(of: stop)!
        var rng2 = RandomGenerator(seed: 0)
        let stopped = model.generate(prompts: prompts, options: .greedy(maxNewTokens: 8, stopTokens: [stop]), rng: &rng2)
        #expect(stopped.tokens[0] == Array(free.tokens[0][...at]), "row 0 should end with the stop token \(stop)")
        #expect(stopped.tokens[0].last == stop)
        #expect(stopped.finishReasons[0] == .stop)
        #expect(stopped.logProbs[0].count == at + 1 && stopped.entropies[0].count == at + 1)
        #expect(stopped.tokens[1] == free.tokens[1], "the other row changed when row 0 stopped")
        #expect(stopped.finishReasons[1] == .length)
        // A stop token as the very first new token.
        var rng3 = RandomGenerator(seed: 0)
        let immediate = model.generate(prompts: prompts, options: .greedy(maxNewTokens: 8, stopTokens: [free.tokens[0][0]]), rng: &rng3)
        #expect(immediate.tokens[0] == [free.tokens[0][0]] && immediate.finishReasons[0] == .stop)
    }

    @Test("maxNewTokens bounds every row and gives .length; the default stop token is EOS")
    func maxNewTokens() throws {
        let config = TinyModels.config(vocab: 13, hidden: 16, intermediate: 24, layers: 1, heads: 4, kvHeads: 2)
        let model = try TinyModels.model(config, seed: 44)
        var rng = RandomGenerator(seed: 1)
        let gen = model.generate(prompts: [[1, 2, 3], [4]], options: SamplingOptions(temperature: 1, maxNewTokens: 3, stopTokens: []), rng: &rng)
        #expect(gen.tokens.map(\.count) == [3, 3])
        #expect(gen.finishReasons == [.length, .length])
        #expect(SamplingOptions().stopTokens == [Tokenizer.eos])
        #expect(SamplingOptions.greedy(maxNewTokens: 4).temperature == 0)
    }
    @Test("a model of 64 MB and more decodes a split call's fixed batches in one loop: every row the same bits as its batch decoded alone")
    func splitBatchesInOneLoop() throws {
        // 71 MB of float weights (decoded as one batch), every matrix 1 MB or more (the few-row kernel's), an MLP width
        // of 1536 (a multiple of 16 lanes x 2 threads); a context of 24 positions so that a long prompt's batch ends
        // on its cache capacity while the others end on max_new_tokens
        var rng = RandomGenerator(seed: 31)
        let model = try Transformer(config: TransformerConfig(vocabSize: 8192, hiddenSize: 512, intermediateSize: 1536, numHiddenLayers: 4,
                                                              numAttentionHeads: 8, maxPositionEmbeddings: 24, tieWordEmbeddings: true), rng: &rng)
        #expect(model.parameters.count * 4 >= 64 << 20, "\(model.parameters.count * 4) bytes of weights")
        // the loop takes all 11 rows at once (else the batches decode one after the other and the test shows nothing)
        #expect(model.decodesRowsIndependently(rows: 11) && !model.decodesRowsIndependently(rows: FewRowProduct.maximumRows + 1))
        let lengths = [5, 3, 5, 9, 3, 20, 5, 12, 3, 7, 5]  // equal lengths in different batches: each batch prefills its own
        let prompts = lengths.enumerated().map { r, n in (0..<n).map { Int32(($0 * 37 + r * 101) % 8192) } }
        let base = RandomGenerator(seed: 5)
        let streams = prompts.indices.map { base.substream(question: $0, sample: 0) }
        /// Every row of `together` against its batch of `RowSplit.rows(of:count: 4)` decoded alone, bit for bit.
        func expectBatchesAlone(_ together: Generation, _ prompts: [[Int32]], _ streams: [RandomGenerator], _ options: SamplingOptions) {
            for j in 0..<4 {
                let rows = RowSplit.rows(of: j, count: 4, rows: prompts.count)
                let alone = model.generate(prompts: Array(prompts[rows]), options: options, streams: Array(streams[rows]))
                for (a, r) in rows.enumerated() {
                    #expect(together.tokens[r] == alone.tokens[a], "T \(options.temperature), row \(r) of \(prompts.count): tokens")
                    #expect(together.logProbs[r].map(\.bitPattern) == alone.logProbs[a].map(\.bitPattern), "T \(options.temperature), row \(r): log-probs")
                    #expect(together.entropies[r].map(\.bitPattern) == alone.entropies[a].map(\.bitPattern), "T \(options.temperature), row \(r): entropies")
                    #expect(together.finishReasons[r] == alone.finishReasons[a], "row \(r): end")
                }
            }
        }
        // 4 batches of a third of what one few-row step takes (FewRowProduct.maximumRows, 48): the first three batches
        // share a loop and the fourth decodes alone
        let many = (0..<(4 * (FewRowProduct.maximumRows / 3))).map { r in (0..<(3 + r % 6)).map { Int32(($0 * 53 + r * 7) % 8192) } }
        let manyStreams = many.indices.map { base.substream(question: $0, sample: 1) }
        let short = SamplingOptions(temperature: 1, maxNewTokens: 4, stopTokens: [])
        expectBatchesAlone(try model.generate(prompts: many, options: short, streams: manyStreams, split: .inOneProcess(parts: 4)),
                           many, manyStreams, short)
        for options in [SamplingOptions(temperature: 1, maxNewTokens: 8, stopTokens: []), .greedy(maxNewTokens: 8, stopTokens: [])] {
            let together = try model.generate(prompts: prompts, options: options, streams: streams, split: .inOneProcess(parts: 4))
            // 20 prompt positions and 4 steps fill the 24; the 5th token is chosen from the last step's logits
            #expect(together.finishReasons[5] == .length && together.tokens[5].count == 5, "the 20-token prompt ends on the 24 positions")
            expectBatchesAlone(together, prompts, streams, options)
        }
    }
}
