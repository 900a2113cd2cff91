import Tensor

extension Transformer {
    /// Layer `layer`'s attention probabilities on one sequence, averaged over heads, `[query][key]`, computed with no
    /// autograd recording (for attention heatmaps).
    /// - Parameters:
    ///   - ids: the token ids, at most `maxPositionEmbeddings` of them.
    ///   - layer: 0-based, below `numHiddenLayers` (a precondition: callers check user input first).
    public func meanAttention(ids: [Int32], layer: Int) -> [[Float]] {
        precondition((0..<config.numHiddenLayers).contains(layer), "layer \(layer) of a model with \(config.numHiddenLayers) layers")
        let t = ids.count
        let probabilities = withNoGrad { forward(tokens: ids, batch: 1, length: t, options: .attentions).attentions[layer] }
        let heads = probabilities.shape[1]  // (B, H, T, T)
        precondition(probabilities.shape == [1, heads, t, t], "attention of layer \(layer) has shape \(probabilities.shape), expected [1, H, \(t), \(t)]")
        let p = probabilities.ptr
        var mean = [[Float]](repeating: [Float](repeating: 0, count: t), count: t)
        for h in 0..<heads {
            for i in 0..<t {
                for j in 0..<t { mean[i][j] += p[(h * t + i) * t + j] }
            }
        }
        let scale = 1 / Float(heads)
        return mean.map { $0.map { $0 * scale } }
    }
}
