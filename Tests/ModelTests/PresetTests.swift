import Model
import Tensor
import Testing

// The built-in architectures against their published sources: the PyTorch anchor's model dicts
// (../shared/anchors/torch_anchor.py: teacher n_layer=4, d_model=256, n_head=8, n_kv_head=8, ffn_hidden=688;
// student 2, 128, 4, 4, 344), the README's `distill init --preset` help (tiny: 2 x 32) and the README's count of
// the default student (420,736 parameters, "Build facts": `distill init --preset student`).

@Suite("TransformerConfig.preset")
struct PresetTests {
    /// Parameters of an untied Llama layout, by hand: embedding and head V*d each, per layer q and o d*d, k and v
    /// d*(kv*hd), the MLP 3*d*f, two norms d; the final norm d.
    static func handCount(vocab v: Int, d: Int, layers: Int, heads: Int, kvHeads: Int, mlp f: Int) -> Int {
        let hd = d / heads
        return 2 * v * d + layers * (2 * d * d + 2 * d * kvHeads * hd + 3 * d * f + 2 * d) + d
    }

    @Test("teacher and student are the anchor's shapes; the bench's vocab 64 and context 128 pass through")
    func anchorShapes() {
        let teacher = TransformerConfig.preset(.teacher, vocab: 64, context: 128)
        #expect([teacher.numHiddenLayers, teacher.hiddenSize, teacher.numAttentionHeads, teacher.numKeyValueHeads, teacher.intermediateSize]
                == [4, 256, 8, 8, 688])
        let student = TransformerConfig.preset(.student, vocab: 64, context: 128)
        #expect([student.numHiddenLayers, student.hiddenSize, student.numAttentionHeads, student.numKeyValueHeads, student.intermediateSize]
                == [2, 128, 4, 4, 344])
        for c in [teacher, student] {
            #expect(c.vocabSize == 64 && c.maxPositionEmbeddings == 128)
            #expect(!c.tieWordEmbeddings && !c.qkvBias && c.modelType == "llama")
        }
        let tiny = TransformerConfig.preset(.tiny, vocab: 64)
        #expect([tiny.numHiddenLayers, tiny.hiddenSize, tiny.numAttentionHeads, tiny.numKeyValueHeads, tiny.intermediateSize] == [2, 32, 4, 2, 64])
        #expect(tiny.maxPositionEmbeddings == 256, "distill init's context")
    }

    @Test("parameter counts match the hand count, and the default student has the README's 420,736")
    func parameterCounts() throws {
        let v = Tokenizer.math.vocabularySize
        var rng = RandomGenerator(seed: 0)
        let shapes: [(TransformerConfig.Preset, Int, Int, Int, Int, Int)] = [(.teacher, 256, 4, 8, 8, 688), (.student, 128, 2, 4, 4, 344),
                                                                            (.tiny, 32, 2, 4, 2, 64)]
        for (preset, d, layers, heads, kv, f) in shapes {
            let model = try Transformer(config: .preset(preset, vocab: v), rng: &rng)
            #expect(model.parameterCount == Self.handCount(vocab: v, d: d, layers: layers, heads: heads, kvHeads: kv, mlp: f), "\(preset)")
        }
        #expect(try Transformer(config: .preset(.student, vocab: v), rng: &rng).parameterCount == 420_736)
    }
}
