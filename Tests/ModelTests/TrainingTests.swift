import Foundation
import Model
import Tensor
import TestSupport
import Testing

// End-to-end learning and the teacher -> student shrink. A tiny model must memorise one batch with
// AdamW (loss from ln V to < 0.05, then every position's argmax is its target); the student derived
// from the benchmark teacher (DESIGN.md: 4 layers, d 256, 8 heads, MLP 688 -> 2, 128, 4, 344) must
// have exactly the parameter shapes and count worked out by hand below.

@Suite("Training and student shapes")
struct TrainingTests {
    @Test("a tiny model overfits one batch to near-zero loss with AdamW")
    func overfitOneBatch() throws {
        let config = TinyModels.config(vocab: 11, hidden: 16, intermediate: 32, layers: 2, heads: 2, kvHeads: 1, qkvBias: true)
        var rng = RandomGenerator(seed: 2024)
        let model = try Transformer(config: config, rng: &rng)  // HF init, N(0, 0.02)
        let b = 2, t = 8, v = config.vocabSize
        let sequence = randomIds(b * (t + 1), below: v, seed: 99)
        var tokens: [Int32] = [], targets: [Int32] = []
        for r in 0..<b {
            let s = Array(sequence[(r * (t + 1))..<((r + 1) * (t + 1))])
            tokens += s.dropLast()
            targets += s.dropFirst()
        }
        let optimizer = AdamW(store: model.parameters, weightDecay: 0.01)
        var losses: [Float] = []
        for _ in 0..<400 {
            model.parameters.zeroGradients()
            let loss = crossEntropy(model.forward(tokens: tokens, batch: b, length: t).logits, targets: targets)
            losses.append(loss.item)
            if loss.item < 0.05 { break }
            loss.backward()
            optimizer.step(learningRate: 1e-2)
        }
        // Near-uniform start: the loss begins at about ln V.
        #expect(abs(Double(losses[0]) - Foundation.log(Double(v))) < 0.05, "initial loss \(losses[0]), ln V \(Foundation.log(Double(v)))")
        #expect(losses.last! < 0.05, "loss after \(losses.count) steps: \(losses.last!) (first \(losses[0]))")
        #expect(losses.allSatisfy { $0.isFinite })
        let logits = model.forward(tokens: tokens, batch: b, length: t).logits
        for r in 0..<(b * t) { #expect(argmax(row(logits, r)) == Int(targets[r]), "position \(r) not memorised") }
    }

    @Test("student from shrunk(by:) has the hand-computed parameter shapes and count")
    func studentShapes() throws {
        let teacher = TransformerConfig(vocabSize: 64, hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4,
                                        numAttentionHeads: 8, ropeTheta: 10_000, maxPositionEmbeddings: 128)
        let student = try teacher.shrunk(by: ShrinkSpec(layers: 2, hiddenSize: 128, heads: 4, intermediateSize: 344))
        #expect(student.numHiddenLayers == 2 && student.hiddenSize == 128 && student.numAttentionHeads == 4)
        #expect(student.numKeyValueHeads == 4 && student.intermediateSize == 344 && student.headDim == 32)
        // Kept from the teacher: vocabulary, norms, rotary base, positions, tying, bias.
        #expect(student.vocabSize == 64 && student.rmsNormEps == teacher.rmsNormEps && student.ropeTheta == teacher.ropeTheta)
        #expect(student.maxPositionEmbeddings == 128 && student.tieWordEmbeddings == teacher.tieWordEmbeddings && student.qkvBias == teacher.qkvBias)

        var rng = RandomGenerator(seed: 1)
        let model = try Transformer(config: student, rng: &rng)
        // By hand: embed 64*128 = 8192; per layer q, k, v, o 4 * 128*128 = 65536, gate, up, down
        // 3 * 344*128 = 132096, two norms 2*128 = 256 -> 197888; two layers 395776; final norm 128;
        // untied lm_head 64*128 = 8192. Total 8192 + 395776 + 128 + 8192 = 412288.
        #expect(model.parameterCount == 412_288)
        var expected: [String: [Int]] = ["model.embed_tokens.weight": [64, 128], "model.norm.weight": [128], "lm_head.weight": [64, 128]]
        for i in 0..<2 {
            let p = "model.layers.\(i)."
            for n in ["q", "k", "v", "o"] { expected[p + "self_attn.\(n)_proj.weight"] = [128, 128] }
            expected[p + "mlp.gate_proj.weight"] = [344, 128]
            expected[p + "mlp.up_proj.weight"] = [344, 128]
            expected[p + "mlp.down_proj.weight"] = [128, 344]
            expected[p + "input_layernorm.weight"] = [128]
            expected[p + "post_attention_layernorm.weight"] = [128]
        }
        #expect(Set(model.parameters.names) == Set(expected.keys))
        for name in model.parameters.names { #expect(model.parameters[name].shape == expected[name], "\(name)") }
        // The teacher by hand: 16384 + 4 * (4 * 65536 + 3 * 688*256 + 512) + 256 + 16384 = 3197184.
        #expect(Transformer.parameterSpecs(teacher).reduce(0) { $0 + shapeCount($1.shape) } == 3_197_184)
    }

    @Test("shrinking into an invalid student is a ConfigurationError naming the key")
    func invalidShrink() throws {
        let teacher = TransformerConfig(vocabSize: 64, hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4, numAttentionHeads: 8)
        #expect(throws: ConfigurationError.self) { try teacher.shrunk(by: ShrinkSpec(layers: 2, hiddenSize: 128, heads: 3, intermediateSize: 344)) }
        do {
            _ = try teacher.shrunk(by: ShrinkSpec(layers: 2, hiddenSize: 128, heads: 4, kvHeads: 3, intermediateSize: 344))
            Issue.record("3 kv heads for 4 heads was accepted")
        } catch let e as ConfigurationError {
            #expect(e.key == "num_key_value_heads")
        }
        let gqa = try teacher.shrunk(by: ShrinkSpec(layers: 2, hiddenSize: 128, heads: 4, kvHeads: 2, intermediateSize: 344))
        #expect(gqa.numKeyValueHeads == 2)
    }
}
