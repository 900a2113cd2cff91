import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Transformer.forward against an independent NumPy forward pass (Fixtures/model.json, written by
// scripts/make_model_fixtures.py in float64 from the Hugging Face formulas): GQA with QKV bias
// (Qwen2-style) and a tied-embedding Llama with rope_theta 500. Weights are loaded by their HF
// state-dict names, so this also pins the parameter names and shapes. Tolerance: 1e-4 absolute plus
// 1e-4 relative on O(1-10) logits (float32 accumulation over two layers).

@Suite("Transformer forward")
struct TransformerForwardTests {
    /// A model built from the fixture's config with the fixture's weights copied in by name.
    static func load(_ c: ModelFixtureCase) throws -> Transformer {
        let config = try TransformerConfig.fromJSON(c.configJSON)
        var rng = RandomGenerator(seed: 1)
        let model = try Transformer(config: config, rng: &rng)
        for (name, values) in c.weights where model.parameters.contains(name) {
            let p = model.parameters[name]
            #expect(p.count == values.count, "\(c.name): \(name) has \(p.count) elements, fixture \(values.count)")
            if p.count == values.count { p.assign(Tensor(shape: p.shape, values: values.map { Float($0) })) }
        }
        return model
    }

    @Test("fixture cases are present and cover GQA, QKV bias, tied embeddings and rope_theta")
    func fixtureCoverage() throws {
        let cases = try ModelFixtures.all.get()
        #expect(cases.count == 2)
        let configs = try cases.map { try TransformerConfig.fromJSON($0.configJSON) }
        #expect(configs.contains { $0.numKeyValueHeads < $0.numAttentionHeads && $0.qkvBias && !$0.tieWordEmbeddings })
        #expect(configs.contains { $0.tieWordEmbeddings && !$0.qkvBias && $0.ropeTheta == 500 })
    }

    @Test("parameter store names equal the fixture's HF state-dict names, with matching element counts")
    func parameterNames() throws {
        for c in try ModelFixtures.all.get() {
            let config = try TransformerConfig.fromJSON(c.configJSON)
            var rng = RandomGenerator(seed: 1)
            let model = try Transformer(config: config, rng: &rng)
            #expect(Set(model.parameters.names) == Set(c.weights.keys), "\(c.name): store and fixture name sets differ")
            #expect(model.parameters.names.count == c.weights.count)
            #expect(model.parameterCount == c.weights.values.reduce(0) { $0 + $1.count })
            #expect(model.parameters.contains("lm_head.weight") == !config.tieWordEmbeddings)
        }
    }

    @Test("logits and last hidden state match the NumPy forward pass")
    func logitsMatchNumpy() throws {
        for c in try ModelFixtures.all.get() {
            let model = try Self.load(c)
            let v = model.config.vocabSize, d = model.config.hiddenSize
            let out = model.forward(tokens: c.tokens, batch: c.batch, length: c.length, options: [.hiddenStates])
            allClose(out.logits, c.logits, shape: [c.batch, c.length, v], rtol: 1e-4, atol: 1e-4, "\(c.name) logits")
            #expect(out.hiddenStates.count == model.config.numHiddenLayers)
            if let last = out.hiddenStates.last {
                allClose(last, c.hiddenLast, shape: [c.batch, c.length, d], rtol: 1e-4, atol: 1e-4, "\(c.name) last hidden state")
            }
            // The same weights without the request give the same logits and keep no hidden states.
            let plain = model.forward(tokens: c.tokens, batch: c.batch, length: c.length)
            #expect(plain.hiddenStates.isEmpty && plain.attentions.isEmpty)
            allClose(plain.logits, out.logits, rtol: 0, atol: 0, "\(c.name) logits with and without hidden states")
        }
    }

    @Test("a perturbed weight moves the logits away from the fixture (the comparison can fail)")
    func comparisonCanFail() throws {
        let c = try #require(try ModelFixtures.all.get().first)
        let model = try Self.load(c)
        let w = model.parameters["model.layers.1.mlp.down_proj.weight"]
        w.ptr[3] += 0.05
        let out = model.forward(tokens: c.tokens, batch: c.batch, length: c.length)
        #expect(!closeness(out.logits.toArray(), c.logits, rtol: 1e-4, atol: 1e-4).ok)
    }

    @Test("final hidden is the normed last layer output; the head maps it to the logits")
    func finalHiddenFeedsHead() throws {
        let c = try #require(try ModelFixtures.all.get().first)
        let model = try Self.load(c)
        let out = model.forward(tokens: c.tokens, batch: c.batch, length: c.length, options: [.hiddenStates])
        let x = out.hiddenStates.last!, w = model.parameters["model.norm.weight"].toArray()
        let d = model.config.hiddenSize, v = model.config.vocabSize
        let head = model.parameters["lm_head.weight"].toArray()
        var normed: [Double] = [], logits: [Double] = []
        for r in 0..<(c.batch * c.length) {
            let xr = row(x, r).map(Double.init)
            let inv = 1 / (xr.reduce(0) { $0 + $1 * $1 } / Double(d) + Double(model.config.rmsNormEps)).squareRoot()
            let hr = (0..<d).map { xr[$0] * inv * Double(w[$0]) }
            normed += hr
            logits += (0..<v).map { j in (0..<d).reduce(0.0) { $0 + hr[$1] * Double(head[j * d + $1]) } }
        }
        allClose(out.finalHidden, normed, shape: [c.batch, c.length, d], rtol: 1e-5, atol: 1e-5, "final hidden")
        allClose(out.logits, logits, shape: [c.batch, c.length, v], rtol: 1e-5, atol: 1e-4, "logits from final hidden")
    }

    @Test("attention probabilities on request: one (B, H, T, T) per layer, causal rows summing to 1")
    func attentionsOnRequest() throws {
        let c = try #require(try ModelFixtures.all.get().first)
        let model = try Self.load(c)
        let h = model.config.numAttentionHeads, t = c.length
        let out = model.forward(tokens: c.tokens, batch: c.batch, length: t, options: [.attentions])
        #expect(out.attentions.count == model.config.numHiddenLayers)
        #expect(out.hiddenStates.isEmpty)
        for (l, p) in out.attentions.enumerated() {
            #expect(p.shape == [c.batch, h, t, t])
            let a = p.toArray()
            for r in 0..<(c.batch * h * t) {
                let i = r % t, rowValues = a[(r * t)..<((r + 1) * t)]
                #expect(abs(rowValues.reduce(0, +) - 1) < 1e-5, "layer \(l) row \(r) sums to \(rowValues.reduce(0, +))")
                #expect(rowValues.dropFirst(i + 1).allSatisfy { $0 == 0 }, "layer \(l) row \(r) sees future keys")
                #expect(rowValues.prefix(i + 1).allSatisfy { $0 > 0 })
            }
        }
        // Position 0 can only attend to itself.
        #expect(out.attentions[0].ptr[0] == 1)
    }

    @Test("HF state-dict order, shapes and weight-decay flags (no decay on norms and biases)")
    func parameterSpecs() throws {
        let config = TinyModels.config(vocab: 11, hidden: 8, intermediate: 12, layers: 1, heads: 2, kvHeads: 1, qkvBias: true)
        let specs = Transformer.parameterSpecs(config)
        let p = "model.layers.0."
        #expect(specs.map(\.name) == [
            "model.embed_tokens.weight",
            p + "self_attn.q_proj.weight", p + "self_attn.q_proj.bias",
            p + "self_attn.k_proj.weight", p + "self_attn.k_proj.bias",
            p + "self_attn.v_proj.weight", p + "self_attn.v_proj.bias",
            p + "self_attn.o_proj.weight",
            p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight",
            p + "input_layernorm.weight", p + "post_attention_layernorm.weight",
            "model.norm.weight", "lm_head.weight",
        ])
        let shapes = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0.shape) })
        #expect(shapes[p + "self_attn.q_proj.weight"] == [8, 8])
        #expect(shapes[p + "self_attn.k_proj.weight"] == [4, 8])  // 1 kv head of dim 4
        #expect(shapes[p + "self_attn.k_proj.bias"] == [4])
        #expect(shapes[p + "mlp.down_proj.weight"] == [8, 12])
        #expect(shapes["lm_head.weight"] == [11, 8])
        for s in specs {
            let noDecay = s.name.hasSuffix("norm.weight") || s.name.hasSuffix(".bias")
            #expect(s.decay == !noDecay, "\(s.name) decay flag \(s.decay)")
        }
    }

    @Test("initialisation as HF: Linear and embedding weights N(0, 0.02), norms 1, biases 0")
    func initialisation() throws {
        let config = TinyModels.config(vocab: 64, hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, qkvBias: true)
        var rng = RandomGenerator(seed: 3)
        let model = try Transformer(config: config, rng: &rng)
        var weights: [Float] = []
        for name in model.parameters.names {
            let v = model.parameters[name].toArray()
            if name.hasSuffix("norm.weight") { #expect(v.allSatisfy { $0 == 1 }, "\(name)") }
            else if name.hasSuffix(".bias") { #expect(v.allSatisfy { $0 == 0 }, "\(name)") }
            else { weights += v }
        }
        let n = Double(weights.count)
        let mean = weights.reduce(0.0) { $0 + Double($1) } / n
        let std = (weights.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
        #expect(abs(mean) < 1e-3 && abs(std - 0.02) < 5e-4, "mean \(mean) std \(std) over \(weights.count) weights")
        var rng2 = RandomGenerator(seed: 3)
        let again = try Transformer(config: config, rng: &rng2)
        #expect(again.parameters["model.layers.1.mlp.up_proj.weight"].toArray() == model.parameters["model.layers.1.mlp.up_proj.weight"].toArray(),
                "same seed, different weights")
    }

    @Test("dropout: off without a generator or in no-grad mode, seeded and active in training")
    func dropout() throws {
        var config = TinyModels.config()
        config.hiddenDropout = 0.3
        let model = try TinyModels.model(config, seed: 5)
        let tokens = randomIds(10, below: config.vocabSize, seed: 3)
        let eval = model.forward(tokens: tokens, batch: 2, length: 5).logits.toArray()
        var r1: RandomGenerator? = RandomGenerator(seed: 9), r2: RandomGenerator? = RandomGenerator(seed: 9)
        let train1 = model.forward(tokens: tokens, batch: 2, length: 5, dropout: &r1).logits.toArray()
        let train2 = model.forward(tokens: tokens, batch: 2, length: 5, dropout: &r2).logits.toArray()
        #expect(train1 == train2, "same dropout seed, different outputs")
        #expect(train1 != eval, "dropout 0.3 with a generator changed nothing")
        #expect(r1 != RandomGenerator(seed: 9), "the generator was not advanced")
        var r3: RandomGenerator? = RandomGenerator(seed: 9)
        let noGrad = withNoGrad { model.forward(tokens: tokens, batch: 2, length: 5, dropout: &r3).logits.toArray() }
        #expect(noGrad == eval, "dropout applied inside withNoGrad (teacher / sampling path)")
    }
}

@Suite("Students cut from the teacher")
struct CutTests {
    @Test("a cut copies the chosen layers bit for bit, renumbered, with embeddings, final norm and head")
    func copiesLayers() throws {
        let teacher = try TinyModels.model(TinyModels.config(layers: 4), seed: 5)
        let student = try teacher.cut(layers: [3, 1])
        #expect(student.config.numHiddenLayers == 2)
        for name in student.parameters.names {
            // student layer 0 is teacher layer 3, student layer 1 is teacher layer 1
            let source = name.replacingOccurrences(of: "model.layers.0.", with: "model.layers.3.")
            #expect(student.parameters[name].toArray().map(\.bitPattern) == teacher.parameters[source].toArray().map(\.bitPattern), "\(name)")
        }
        // the weights are copies: training the student leaves the teacher as it was
        let before = teacher.parameters["model.layers.3.mlp.up_proj.weight"].toArray()
        student.parameters["model.layers.0.mlp.up_proj.weight"].ptr[0] += 1
        #expect(teacher.parameters["model.layers.3.mlp.up_proj.weight"].toArray() == before)
    }

    @Test("cutting every layer in order gives the teacher's logits exactly")
    func allLayersIsTheTeacher() throws {
        let teacher = try TinyModels.model(TinyModels.config(layers: 3), seed: 6)
        let student = try teacher.cut(layers: Transformer.everyKthLayer(1, of: 3))
        let tokens = randomIds(12, below: teacher.config.vocabSize, seed: 2)
        #expect(student.forward(tokens: tokens, batch: 2, length: 6).logits.toArray()
                == teacher.forward(tokens: tokens, batch: 2, length: 6).logits.toArray())
        #expect(Transformer.everyKthLayer(3, of: 30) == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27])
    }

    @Test("an empty list, a repeated layer and a missing layer are errors naming from_teacher.layers")
    func badLists() throws {
        let teacher = try TinyModels.model(TinyModels.config(layers: 2), seed: 7)
        for layers in [[], [0, 0], [2], [-1]] {
            #expect(throws: ConfigurationError.self) { _ = try teacher.cut(layers: layers) }
            do { _ = try teacher.cut(layers: layers) } catch let e as ConfigurationError { #expect(e.key == "from_teacher.layers") }
        }
    }
}
