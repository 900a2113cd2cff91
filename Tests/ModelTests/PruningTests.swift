import Foundation
import Model
import Tensor
import Testing

// Structured pruning's core (issue 24): removing units whose weights are zero leaves the function unchanged, the
// L1 ranking on a hand-built layer, and the plans a config cannot hold are refused.

@Suite("structured pruning")
struct PruningTests {
    /// 2 layers, 4 query heads in 2 KV groups of width 4, MLP 12, QKV bias: every pruned tensor kind is present.
    private let config = TransformerConfig(vocabSize: 11, hiddenSize: 16, intermediateSize: 12, numHiddenLayers: 2,
                                           numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 32, qkvBias: true)

    /// Zeroes KV group `g` of `layer` (its query heads' q rows and biases, its k and v rows and biases, the o columns
    /// of its query heads) and MLP channel `ch` (gate, up rows and the down column).
    private func zeroUnits(_ m: Transformer, layer: Int, group g: Int, channel ch: Int) {
        let n = "model.layers.\(layer).", d = 4, r = 2, p = m.parameters
        for row in (g * r * d)..<((g + 1) * r * d) {
            for j in 0..<16 { p[n + "self_attn.q_proj.weight"].ptr[row * 16 + j] = 0 }
            p[n + "self_attn.q_proj.bias"].ptr[row] = 0
            for i in 0..<16 { p[n + "self_attn.o_proj.weight"].ptr[i * 16 + row] = 0 }
        }
        for row in (g * d)..<((g + 1) * d) {
            for name in ["k", "v"] {
                for j in 0..<16 { p[n + "self_attn.\(name)_proj.weight"].ptr[row * 16 + j] = 0 }
                p[n + "self_attn.\(name)_proj.bias"].ptr[row] = 0
            }
        }
        for j in 0..<16 {
            p[n + "mlp.gate_proj.weight"].ptr[ch * 16 + j] = 0
            p[n + "mlp.up_proj.weight"].ptr[ch * 16 + j] = 0
            p[n + "mlp.down_proj.weight"].ptr[j * 12 + ch] = 0
        }
    }

    @Test("removing units whose weights are zero leaves the logits unchanged; the model is physically smaller")
    func zeroUnitsRemoved() throws {
        var rng = RandomGenerator(seed: 7)
        let model = try Transformer(config: config, rng: &rng)
        model.parameters.initialize(rng: &rng) { view, rng in
            view.name.hasSuffix("norm.weight") ? (0..<view.count).map { _ in 1 + 0.1 * rng.nextNormal() }
                                               : (0..<view.count).map { _ in 0.3 * rng.nextNormal() }
        }
        zeroUnits(model, layer: 0, group: 1, channel: 4)
        zeroUnits(model, layer: 1, group: 0, channel: 9)
        let plan = PruningPlan(kvGroups: [[0], [1]], channels: [Array(0..<12).filter { $0 != 4 }, Array(0..<12).filter { $0 != 9 }])
        let smaller = try model.pruned(plan)
        #expect(smaller.config.numKeyValueHeads == 1 && smaller.config.numAttentionHeads == 2)
        #expect(smaller.config.headDim == 4 && smaller.config.intermediateSize == 11)
        #expect(smaller.parameters["model.layers.0.self_attn.q_proj.weight"].shape == [8, 16])
        #expect(smaller.parameters["model.layers.1.mlp.down_proj.weight"].shape == [16, 11])
        // per layer: q 8x16 + 8, k and v 4x16 + 4 each, o 16x8, and one MLP channel of 3 x 16: by hand
        let removedPerLayer = (8 * 16 + 8) + 2 * (4 * 16 + 4) + 16 * 8 + 3 * 16
        #expect(smaller.parameterCount == model.parameterCount - 2 * removedPerLayer)
        let tokens: [Int32] = [1, 5, 2, 9, 3, 3, 10, 0]
        let a = model.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
        let b = smaller.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
        let gap = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(gap < 1e-5, "logits differ by \(gap)")
        // removing a unit that is not zero does change them: the test can fail
        let other = try model.pruned(PruningPlan(kvGroups: [[1], [1]], channels: plan.channels))
        let c = other.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
        #expect(zip(a, c).map { abs($0 - $1) }.max()! > 1e-3)
    }

    @Test("L1 ranking on a hand-built layer: group and channel scores equal the sums of |w| by hand; the plan keeps the largest")
    func ranking() throws {
        let model = try Transformer(config: config)  // all zero
        let p = model.parameters, n = "model.layers.0."
        p[n + "self_attn.q_proj.weight"].ptr[0] = -2          // q row 0: head 0, group 0
        p[n + "self_attn.k_proj.weight"].ptr[4 * 16 + 3] = 1.5  // k row 4: group 1
        p[n + "self_attn.o_proj.weight"].ptr[2 * 16 + 9] = -3   // o column 9: head 2, group 1
        p[n + "mlp.gate_proj.weight"].ptr[5 * 16] = 0.5          // channel 5
        p[n + "mlp.down_proj.weight"].ptr[3 * 12 + 5] = -0.25    // channel 5
        p[n + "mlp.up_proj.weight"].ptr[7 * 16 + 1] = 2          // channel 7
        let scores = model.l1PruningScores()
        #expect(scores.kvGroups[0] == [2, 4.5])
        var expected = [Double](repeating: 0, count: 12)
        expected[5] = 0.75
        expected[7] = 2
        #expect(scores.channels[0] == expected)
        let plan = Transformer.plan(keeping: scores, groups: 1, channels: 2)
        #expect(plan.kvGroups[0] == [1] && plan.channels[0] == [5, 7])
        #expect(plan.kvGroups[1] == [0] && plan.channels[1] == [0, 1])  // layer 1 is all zero: ties keep the lower index
    }

    @Test("plans a config cannot hold are refused: other counts per layer, nothing kept, repeats, units out of range")
    func badPlans() throws {
        let model = try Transformer(config: config)
        let all = Array(0..<12)
        for plan in [PruningPlan(kvGroups: [[0], [0, 1]], channels: [all, all]),
                     PruningPlan(kvGroups: [[0], [0]], channels: [all, Array(0..<11)]),
                     PruningPlan(kvGroups: [[], []], channels: [all, all]),
                     PruningPlan(kvGroups: [[0, 0], [0, 1]], channels: [all, all]),
                     PruningPlan(kvGroups: [[2], [0]], channels: [all, all]),
                     PruningPlan(kvGroups: [[0]], channels: [all])] {
            #expect(throws: ConfigurationError.self, "\(plan)") { try model.pruned(plan) }
        }
    }
}
