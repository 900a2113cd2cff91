import Model
import Tensor
import Testing

// Transformer.meanAttention, the map `distill plot` draws: with the query and key projections zeroed every score is 0,
// so causal softmax gives row i the uniform 1/(i+1) over keys 0...i and 0 above the diagonal (a hand computation
// that needs no reference); with random weights each head's row sums to 1, so their mean's does too.

@Suite("Transformer.meanAttention")
struct MeanAttentionTests {
    @Test("zero query and key weights give the uniform causal map 1/(i+1); random weights give causal rows summing to 1")
    func uniformAndRandom() throws {
        var rng = RandomGenerator(seed: 4)
        let model = try Transformer(config: .preset(.tiny, vocab: 20, context: 16), rng: &rng)
        let ids: [Int32] = [1, 5, 7, 3, 9, 11]
        for layer in 0..<2 {
            let map = model.meanAttention(ids: ids, layer: layer)
            #expect(map.count == ids.count && map.allSatisfy { $0.count == ids.count })
            for i in 0..<ids.count {
                #expect(abs(map[i].reduce(0, +) - 1) < 1e-5, "layer \(layer) row \(i)")
                #expect(map[i][(i + 1)...].allSatisfy { $0 == 0 }, "layer \(layer) row \(i): attention above the diagonal")
            }
        }
        for layer in 0..<2 {
            for name in ["q_proj", "k_proj"] {
                let w = model.parameters["model.layers.\(layer).self_attn.\(name).weight"]
                for k in 0..<w.count { w.ptr[k] = 0 }
            }
        }
        for layer in 0..<2 {
            let map = model.meanAttention(ids: ids, layer: layer)
            for i in 0..<ids.count {
                for j in 0..<ids.count {
                    let expected: Float = j <= i ? 1 / Float(i + 1) : 0
                    #expect(abs(map[i][j] - expected) < 1e-6, "layer \(layer) [\(i)][\(j)] = \(map[i][j]), expected \(expected)")
                }
            }
        }
    }
}
