import Tensor

/// A Linear layer quantized for inference: its int8 weight (a scale per output channel) and the calibrated scale
/// its input activations are rounded at.
public struct QuantizedLinear: Sendable, Equatable {
    /// The weight, int8 with one symmetric scale per output row.
    public let weight: Int8Matrix
    /// Input activations are rounded to int8 at this scale (calibrated range / 127); 0: each input row at its own
    /// scale, found at run time (`ActivationRange.dynamic`).
    public let inputScale: Float

    public init(weight: Int8Matrix, inputScale: Float) {
        self.weight = weight
        self.inputScale = inputScale
    }

    /// Bytes as a checkpoint stores the layer: the int8 weight with its row scales, and the input scale.
    public var byteCount: Int { weight.byteCount + 4 }
}

/// How the range of a layer's input activations is read from the calibration data.
public enum ActivationRange: Sendable, Equatable, CustomStringConvertible {
    /// The largest magnitude seen.
    case minMax
    /// This percentile (e.g. 99.99) of the magnitudes seen: rare outliers are clipped so the rest keep resolution.
    case percentile(Double)
    /// No calibrated range: each row (token) is rounded at its own largest magnitude, found at run time. For models
    /// whose activations have rare huge values at a few tokens (SmolLM2's first token), which one static scale
    /// per layer cannot represent.
    case dynamic

    public var description: String {
        switch self {
        case .minMax: return "minmax"
        case .percentile(let p): return "percentile \(p)"
        case .dynamic: return "dynamic"
        }
    }

    /// The range of `magnitudes` (|x| values, any order; sorted in place for a percentile).
    public func range(of magnitudes: inout [Float]) -> Float {
        guard !magnitudes.isEmpty else { return 0 }
        switch self {
        case .minMax, .dynamic:
            return magnitudes.max()!
        case .percentile(let p):
            magnitudes.sort()
            // the nearest-rank percentile: the smallest value with at least p% of the values at or below it
            let rank = Int((p / 100 * Double(magnitudes.count)).rounded(.up))
            return magnitudes[min(max(rank, 1), magnitudes.count) - 1]
        }
    }
}

/// A quantization request that cannot be met: what and how to fix it.
public struct QuantizationError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

extension Transformer {
    /// Whether `name` is one of the model's Linear weights (the products quantization can make int8): the
    /// attention and MLP projections, and an untied `lm_head`. The embedding is a lookup, not a product.
    static func isLinearWeight(_ name: String, _ c: TransformerConfig) -> Bool {
        if name == "lm_head.weight" { return !c.tieWordEmbeddings }
        return name.hasPrefix("model.layers.") && name.hasSuffix("_proj.weight")
    }

    /// The Linear weights in forward order, each with the block it belongs to (nil for the output head).
    public var linearWeights: [(layer: Int?, name: String)] {
        var out: [(layer: Int?, name: String)] = []
        for i in 0..<config.numHiddenLayers {
            for p in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"] {
                out.append((i, "model.layers.\(i).\(p).weight"))
            }
        }
        if !config.tieWordEmbeddings { out.append((nil, "lm_head.weight")) }
        return out
    }

    /// The Linear weights a keep-in-FP32 selector names: `embed` (the embedding; no Linear weight, it always stays
    /// FP32), `lm_head` (the output head; tied to the embedding, it stays FP32 with it), `layers.N` (block N), or
    /// any prefix of a weight name (`model.layers.2.mlp`).
    /// - Throws: `QuantizationError` for a selector that names nothing in this model.
    public func linearWeights(selectedBy selector: String) throws -> [String] {
        let all = linearWeights.map(\.name)
        switch selector {
        case "embed": return []
        case "lm_head": return config.tieWordEmbeddings ? [] : ["lm_head.weight"]
        default: break
        }
        if selector.hasPrefix("layers."), let i = Int(selector.dropFirst("layers.".count)) {
            guard (0..<config.numHiddenLayers).contains(i) else {
                throw QuantizationError(message: "--keep-fp32 \(selector): the model has layers 0...\(config.numHiddenLayers - 1)")
            }
            return all.filter { $0.hasPrefix("model.layers.\(i).") }
        }
        let matched = all.filter { $0 == selector || $0.hasPrefix(selector + ".") }
        guard !matched.isEmpty else {
            throw QuantizationError(message: "--keep-fp32 \(selector) names no Linear layer of this model; use embed, lm_head, "
                                    + "layers.N (N in 0...\(config.numHiddenLayers - 1)) or a weight name such as \(all.first ?? "model.layers.0.mlp")")
        }
        return matched
    }

    /// Makes every Linear weight not in `keep` int8, block by block in forward order: each block's input ranges
    /// are read from `calibration` (token sequences run one at a time, no padding) with the blocks before it
    /// already int8, so a block's scales see the rounding upstream of it (layer-wise calibration, one scale per
    /// layer input rather than one for the model). Each sequence's residual stream is kept between blocks, so the
    /// whole calibration costs about two forward passes per sequence. The float weights stay in `parameters`;
    /// `quantizedLinears` holds the int8 ones, which the forward pass then uses.
    /// - Returns: the calibrated input range of each quantized layer.
    /// - Throws: `QuantizationError` when there is no calibration sequence, one is empty or longer than the
    ///   context, or an activation is not finite.
    @discardableResult
    public func quantize(keeping keep: Set<String>, calibration: [[Int32]], range: ActivationRange) throws -> [String: Float] {
        guard !calibration.isEmpty else { throw QuantizationError(message: "no calibration sequence; give at least one training trace") }
        for (i, s) in calibration.enumerated() where s.isEmpty || s.count > config.maxPositionEmbeddings {
            throw QuantizationError(message: "calibration sequence \(i) has \(s.count) tokens; it needs 1...\(config.maxPositionEmbeddings)")
        }
        let linear = linearWeights
        let targets = Set(linear.map(\.name)).subtracting(keep)
        var ranges: [String: Float] = [:]
        var magnitudes: [String: [Float]] = [:], peaks: [String: Float] = [:]
        // Layers that read the same tensor (q, k and v; gate and up) share one record: the first layer's name.
        var sharesInputWith: [String: String] = [:]
        var lastInput: (tensor: Tensor, name: String)?  // held, so its storage cannot be freed and its address reused
        func record(_ name: String, _ x: Tensor) {
            if let last = lastInput, last.tensor.storage === x.storage, last.tensor.offset == x.offset, last.tensor.count == x.count {
                sharesInputWith[name] = last.name
                return
            }
            lastInput = (x, name)
            let values = UnsafeBufferPointer(start: x.ptr, count: x.count)
            if case .percentile = range {
                magnitudes[name, default: []].append(contentsOf: values.lazy.map { abs($0) })
            } else {  // the largest magnitude (for dynamic layers it is only reported)
                var peak = peaks[name, default: 0]
                for v in values where abs(v) > peak { peak = abs(v) }
                peaks[name] = peak
            }
        }
        func quantizeRecorded(_ names: [String]) throws {
            var rangeOf: [String: Float] = [:]
            for name in names {
                let source = sharesInputWith[name] ?? name
                let r: Float
                if let known = rangeOf[source] {
                    r = known
                } else if case .percentile = range {
                    var seen = magnitudes.removeValue(forKey: source) ?? []
                    r = range.range(of: &seen)
                } else {
                    r = peaks[source, default: 0]
                }
                rangeOf[source] = r
                guard r.isFinite else {
                    throw QuantizationError(message: "the input of \(name) is not finite on the calibration data; the model's weights are damaged")
                }
                ranges[name] = r
                let w = parameters[name]
                quantizedLinears[name] = QuantizedLinear(weight: Int8Matrix.quantizing(w.ptr, rows: w.shape[0], columns: w.shape[1]),
                                                         inputScale: range == .dynamic ? 0 : r > 0 ? r / 127 : 1)
            }
        }
        defer { linearInputObserver = nil }
        try withNoGrad {
            var none: RandomGenerator? = nil
            var states = calibration.map { embedding(parameters["model.embed_tokens.weight"], ids: $0, shape: [1, $0.count]) }
            for layer in 0..<config.numHiddenLayers {
                let names = linear.filter { $0.layer == layer && targets.contains($0.name) }.map(\.name)
                if !names.isEmpty {  // read the block's input ranges with the block still in float, then make it int8
                    let wanted = Set(names)
                    linearInputObserver = { name, x in if wanted.contains(name) { record(name, x) } }
                    for s in states { _ = block(s, layer: layer, dropout: &none) }
                    linearInputObserver = nil
                    try quantizeRecorded(names)
                }
                states = states.map { block($0, layer: layer, dropout: &none).out }  // the next block sees this one's int8 output
            }
            if targets.contains("lm_head.weight") {
                for s in states { record("lm_head.weight", rmsNorm(s, weight: parameters["model.norm.weight"], eps: config.rmsNormEps)) }
                try quantizeRecorded(["lm_head.weight"])
            }
        }
        return ranges
    }

    /// Bytes of the weights as a checkpoint stores them: four per float (a float weight an int8 layer replaces is not
    /// counted), one per int8 value and four per scale.
    public var weightBytes: Int {
        let floats = parameters.views.reduce(0) { $0 + (quantizedLinears[$1.name] == nil ? $1.count : 0) }
        return 4 * floats + quantizedLinears.values.reduce(0) { $0 + $1.byteCount }
    }

    /// The float parameters a quantized model keeps (every one but its int8 Linear weights), copied into a store
    /// of their own: what a quantized checkpoint stores beside the int8 tensors.
    public func floatParametersKept() -> ParameterStore {
        let store = ParameterStore(Transformer.parameterSpecs(config).filter { quantizedLinears[$0.name] == nil })
        for v in store.views { store[v.name].ptr.update(from: parameters[v.name].ptr, count: v.count) }
        return store
    }
}
