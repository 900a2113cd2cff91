import Tensor

/// Learned maps from student hidden states to teacher width, one per aligned layer pair
/// (FitNets, Romero et al. 2015). Saved with the student as role `projection`.
public final class HiddenProjection {
    /// (student layer, teacher layer) pairs, 0-based.
    public let layerMap: [(student: Int, teacher: Int)]
    /// `projections.{i}.weight` (teacher width, student width), Linear layout, no bias.
    public let parameters: ParameterStore

    /// - Parameters:
    ///   - layerMap: which student layer is compared with which teacher layer.
    ///   - studentWidth, teacherWidth: hidden sizes.
    public init(layerMap: [(student: Int, teacher: Int)], studentWidth: Int, teacherWidth: Int, rng: inout RandomGenerator) {
        self.layerMap = layerMap
        parameters = ParameterStore(layerMap.indices.map { ("projections.\($0).weight", [teacherWidth, studentWidth], true) })
        // PyTorch's Linear default: U(-1/sqrt(in), 1/sqrt(in))
        let bound = 1 / Float(studentWidth).squareRoot()
        parameters.initialize(rng: &rng) { v, rng in (0..<v.count).map { _ in (rng.nextFloat() * 2 - 1) * bound } }
    }

    /// Projections over this one's weights (shared) with gradients of their own, as `Transformer.replica()`.
    public func replica() -> HiddenProjection { HiddenProjection(layerMap: layerMap, parameters: parameters.sharingValues()) }

    private init(layerMap: [(student: Int, teacher: Int)], parameters: ParameterStore) {
        self.layerMap = layerMap
        self.parameters = parameters
    }

    /// The uniform layer map: student layer i (0-based) to teacher layer (i + 1) * Lt / Ls - 1, so the last
    /// layers meet (4 teacher and 2 student layers: 0 -> 1, 1 -> 3).
    public static func uniformLayerMap(studentLayers: Int, teacherLayers: Int) -> [(student: Int, teacher: Int)] {
        (0..<studentLayers).map { ($0, ($0 + 1) * teacherLayers / studentLayers - 1) }
    }

    /// Mean over the pairs of MSE(project(student hidden), teacher hidden).
    public func loss(studentHidden: [Tensor], teacherHidden: [Tensor]) -> Tensor {
        precondition(!layerMap.isEmpty, "hidden projection has an empty layer map")
        var total: Tensor?
        for (i, pair) in layerMap.enumerated() {
            precondition(pair.student < studentHidden.count && pair.teacher < teacherHidden.count,
                         "layer pair \(pair) outside \(studentHidden.count) student / \(teacherHidden.count) teacher layers")
            let projected = linear(studentHidden[pair.student], weight: parameters["projections.\(i).weight"])
            let l = mseLoss(projected, teacherHidden[pair.teacher])
            total = total.map { add($0, l) } ?? l
        }
        return scale(total!, 1 / Float(layerMap.count))
    }
}

/// PPO's value head: a linear map of the final hidden state to one number per position.
public final class ValueHead {
    /// `v_head.weight` (1, C) and `v_head.bias` (1).
    public let parameters: ParameterStore

    /// A zero-bias head with small random weights.
    public init(hiddenSize: Int, rng: inout RandomGenerator) {
        parameters = ParameterStore([("v_head.weight", [1, hiddenSize], true), ("v_head.bias", [1], false)])
        parameters.initialize(rng: &rng) { v, rng in
            v.name.hasSuffix("bias") ? [0] : (0..<v.count).map { _ in rng.nextNormal() * 0.02 }
        }
    }

    /// A head over this one's weights (shared) with gradients of its own, as `Transformer.replica()`.
    public func replica() -> ValueHead { ValueHead(parameters: parameters.sharingValues()) }

    private init(parameters: ParameterStore) { self.parameters = parameters }

    /// Values (B, T) from the final hidden state (B, T, C).
    public func callAsFunction(_ hidden: Tensor) -> Tensor {
        let v = linear(hidden, weight: parameters["v_head.weight"], bias: parameters["v_head.bias"])  // (B, T, 1)
        return reshape(v, Array(hidden.shape.dropLast()))
    }
}
