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

    @Test("unit sizes by hand: a KV group holds 400 parameters per layer here, a channel 48; the counts drop by exactly that")
    func unitSizes() throws {
        // q: 2 heads x 4 rows x 16 + 8 bias; k, v: 4 x 16 + 4 each; o: 16 x 8 columns; a channel: gate, up rows and down column
        let (group, channel) = Transformer.pruningUnitSizes(config)
        #expect(group == (8 * 16 + 8) + 2 * (4 * 16 + 4) + 16 * 8 && group == 400)
        #expect(channel == 3 * 16)
        let full = try Transformer(config: config).parameterCount
        #expect(Transformer.parameterCount(config, groups: 2, channels: 12) == full)
        #expect(Transformer.parameterCount(config, groups: 1, channels: 12) == full - 2 * 400)
        #expect(Transformer.parameterCount(config, groups: 2, channels: 9) == full - 2 * 3 * 48)
    }

    @Test("a round's choice by hand: the cheaper kind per weight goes first, within the budget and above the floor")
    func roundChoice() throws {
        // across the 2 layers a group costs 800 parameters, a channel 96; per weight a group's score is divided by
        // (2 * 2 + 2) * 4 * 16 = 384 weights, a channel's by 48
        let cheapGroups = PruningScores(kvGroups: [[1, 5], [1, 5]], channels: Array(repeating: Array(repeating: 10, count: 12), count: 2))
        // the group (1 / 384) goes first: 800; then 2 channels (192) fit in 1000, a third would not
        #expect(Transformer.pruningRound(config, scores: cheapGroups, budget: 1000, floor: 0) == (1, 10))
        let cheapChannels = PruningScores(kvGroups: [[1, 5], [1, 5]], channels: Array(repeating: Array(repeating: 0.01, count: 12), count: 2))
        // 10 channels (960) first; then neither a group (1760) nor an 11th channel (1056) fits
        #expect(Transformer.pruningRound(config, scores: cheapChannels, budget: 1000, floor: 0) == (2, 2))
        // the floor binds before the budget: 500 parameters above it leave room for 5 channels (480), no group
        let full = try Transformer(config: config).parameterCount
        #expect(Transformer.pruningRound(config, scores: cheapGroups, budget: 10_000, floor: full - 500) == (2, 7))
        // every layer keeps one group and one channel, however large the budget
        #expect(Transformer.pruningRound(config, scores: cheapGroups, budget: 1_000_000, floor: 0) == (1, 1))
        // less than one channel's worth: nothing
        #expect(Transformer.pruningRound(config, scores: cheapGroups, budget: 95, floor: 0) == (2, 12))
    }

    @Test("activation score by hand: with no attention output, a channel's score is mean |silu(gate x) * up x| over the tokens times its down column's L1")
    func activationScores() throws {
        var one = config
        one.numHiddenLayers = 1
        one.qkvBias = false
        var rng = RandomGenerator(seed: 3)
        let model = try Transformer(config: one, rng: &rng)
        model.parameters.initialize(rng: &rng) { view, rng in
            if view.name.hasSuffix("norm.weight") { return [Float](repeating: 1, count: view.count) }
            if view.name.hasSuffix("v_proj.weight") { return [Float](repeating: 0, count: view.count) }  // attention adds nothing
            return (0..<view.count).map { _ in 0.5 * rng.nextNormal() }
        }
        let sequences: [[Int32]] = [[1, 4, 7], [2, 2, 9, 5]]
        let scores = model.activationPruningScores(calibration: sequences)
        // by hand: the MLP reads rmsnorm(embedding) (the attention output is 0 with v = 0)
        let p = model.parameters, h = 16, m = 12
        let embed = p["model.embed_tokens.weight"], gate = p["model.layers.0.mlp.gate_proj.weight"]
        let up = p["model.layers.0.mlp.up_proj.weight"], down = p["model.layers.0.mlp.down_proj.weight"]
        var mean = [Double](repeating: 0, count: m)
        let tokens = sequences.flatMap { $0 }
        for t in tokens {
            let e = (0..<h).map { Double(embed.ptr[Int(t) * h + $0]) }
            let rms = (e.map { $0 * $0 }.reduce(0, +) / Double(h) + Double(one.rmsNormEps)).squareRoot()
            let x = e.map { $0 / rms }
            for c in 0..<m {
                let g = (0..<h).reduce(0.0) { $0 + Double(gate.ptr[c * h + $1]) * x[$1] }
                let u = (0..<h).reduce(0.0) { $0 + Double(up.ptr[c * h + $1]) * x[$1] }
                mean[c] += abs(g / (1 + exp(-g)) * u) / Double(tokens.count)
            }
        }
        for c in 0..<m {
            let norm = (0..<h).reduce(0.0) { $0 + Double(abs(down.ptr[$1 * m + c])) }
            let want = mean[c] * norm, got = scores.channels[0][c]
            #expect(abs(got - want) <= 1e-4 * max(abs(want), 1e-6), "channel \(c): \(got) vs \(want) by hand")
        }
        // the KV groups' o_proj inputs are all zero
        #expect(scores.kvGroups[0] == [0, 0])
    }
}
