import Foundation
import Tensor

/// What a forward pass keeps besides the logits.
public struct ForwardOptions: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Every layer's output hidden state (B, T, C), for hidden-state alignment.
    public static let hiddenStates = ForwardOptions(rawValue: 1)
    /// Every layer's attention probabilities (B, H, T, T), for attention-map alignment.
    public static let attentions = ForwardOptions(rawValue: 2)
}

/// The result of a forward pass.
public struct ForwardOutput {
    /// Next-token logits (B, T, V).
    public let logits: Tensor
    /// The final hidden state after the last norm (B, T, C) (the value head reads it).
    public let finalHidden: Tensor
    /// Each layer's output (B, T, C), when asked for.
    public let hiddenStates: [Tensor]
    /// Each layer's attention probabilities (B, H, T, T), when asked for.
    public let attentions: [Tensor]
}

/// The result of a forward pass that stops before the output projection.
public struct HiddenOutput {
    /// The final hidden state after the last norm (B, T, C).
    public let finalHidden: Tensor
    /// Each layer's output (B, T, C), when asked for.
    public let hiddenStates: [Tensor]
    /// Each layer's attention probabilities (B, H, T, T), when asked for.
    public let attentions: [Tensor]

    public init(finalHidden: Tensor, hiddenStates: [Tensor], attentions: [Tensor]) {
        self.finalHidden = finalHidden
        self.hiddenStates = hiddenStates
        self.attentions = attentions
    }
}

/// A decoder-only transformer of the Llama / Qwen2 / Qwen3 family: pre-norm RMSNorm, rotary positions
/// (HF rotate_half, optionally Llama 3 scaled), grouped-query attention, SwiGLU MLP, optional QKV bias,
/// optional per-head q/k RMSNorm (Qwen3) and tied embeddings.
///
/// Parameters sit in one `ParameterStore` under the Hugging Face state-dict names, Linear weights
/// stored [out, in], so a weight set moves to and from transformers with no renaming.
public final class Transformer {
    /// The architecture.
    public let config: TransformerConfig
    /// All weights, in one flat buffer, under their HF names.
    public let parameters: ParameterStore
    /// The dropout probability training forwards apply (starts at `config.hiddenDropout`; a training stage
    /// may set its own without changing the saved architecture).
    public var dropoutProbability: Float
    let rope: RotaryTable
    /// Linear layers that run in int8 (post-training quantization), by weight name; their float weights are not
    /// in `parameters` when the model was loaded quantized.
    public internal(set) var quantizedLinears: [String: QuantizedLinear] = [:]
    /// Called with each Linear's weight name and input before the product (activation-range calibration).
    public var linearInputObserver: ((String, Tensor) -> Void)?

    /// A model with HF's initialisation: every Linear/Embedding weight N(0, 0.02), norms 1, biases 0.
    /// - Throws: `ConfigurationError` when the config is invalid.
    public convenience init(config: TransformerConfig, rng: inout RandomGenerator) throws {
        try self.init(config: config)
        parameters.initialize(rng: &rng) { view, rng in
            if view.name.hasSuffix("norm.weight") { return [Float](repeating: 1, count: view.count) }
            if view.name.hasSuffix(".bias") { return [Float](repeating: 0, count: view.count) }
            return (0..<view.count).map { _ in rng.nextNormal() * 0.02 }
        }
    }

    /// A model with every weight zero, to be filled by a loader (a checkpoint, a Hugging Face folder, a GGUF
    /// file): skips drawing random numbers for weights that are overwritten at once.
    /// - Throws: `ConfigurationError` when the config is invalid.
    public convenience init(config: TransformerConfig) throws {
        try self.init(config: config, quantized: [:])
    }

    /// A model whose `quantized` Linear layers run in int8 and hold no float weight; every other weight is zero,
    /// to be filled by a loader.
    /// - Throws: `ConfigurationError` when the config is invalid or a quantized layer is not one of the model's
    ///   Linear weights or has another shape.
    public init(config: TransformerConfig, quantized: [String: QuantizedLinear]) throws {
        try config.validate()
        let specs = Transformer.parameterSpecs(config)
        for (name, q) in quantized.sorted(by: { $0.key < $1.key }) {
            guard let spec = specs.first(where: { $0.name == name }), Transformer.isLinearWeight(name, config) else {
                throw ConfigurationError(key: name, message: "is not a Linear weight of this model, so it cannot be int8")
            }
            guard spec.shape == [q.weight.rows, q.weight.columns] else {
                throw ConfigurationError(key: name, message: "int8 weight is \(q.weight.rows) x \(q.weight.columns), the model needs \(spec.shape)")
            }
        }
        self.config = config
        dropoutProbability = config.hiddenDropout
        parameters = ParameterStore(specs.filter { quantized[$0.name] == nil })
        quantizedLinears = quantized
        rope = RotaryTable(headDim: config.headDim, positions: config.maxPositionEmbeddings,
                           inverseFrequencies: config.ropeInverseFrequencies)
    }

    /// A model over this one's weights (shared, not copied) with gradients of its own: it can run a forward and
    /// backward pass on another share of a batch at the same time as this model (see `Parallel.split`).
    public func replica() -> Transformer { Transformer(replicating: self) }

    private init(replicating other: Transformer) {
        config = other.config
        dropoutProbability = other.dropoutProbability
        parameters = other.parameters.sharingValues()
        quantizedLinears = other.quantizedLinears
        rope = other.rope
    }

    /// Parameter names, shapes and decay flags in HF state-dict order.
    public static func parameterSpecs(_ c: TransformerConfig) -> [(name: String, shape: [Int], decay: Bool)] {
        let d = c.hiddenSize, hd = c.headDim, q = c.numAttentionHeads * hd, kv = c.numKeyValueHeads * hd
        var specs: [(name: String, shape: [Int], decay: Bool)] = [("model.embed_tokens.weight", [c.vocabSize, d], true)]
        for i in 0..<c.numHiddenLayers {
            let p = "model.layers.\(i)."
            specs.append((p + "self_attn.q_proj.weight", [q, d], true))
            if c.qkvBias { specs.append((p + "self_attn.q_proj.bias", [q], false)) }
            specs.append((p + "self_attn.k_proj.weight", [kv, d], true))
            if c.qkvBias { specs.append((p + "self_attn.k_proj.bias", [kv], false)) }
            specs.append((p + "self_attn.v_proj.weight", [kv, d], true))
            if c.qkvBias { specs.append((p + "self_attn.v_proj.bias", [kv], false)) }
            specs.append((p + "self_attn.o_proj.weight", [d, q], true))
            if c.qkNorm {
                specs.append((p + "self_attn.q_norm.weight", [hd], false))
                specs.append((p + "self_attn.k_norm.weight", [hd], false))
            }
            specs.append((p + "mlp.gate_proj.weight", [c.intermediateSize, d], true))
            specs.append((p + "mlp.up_proj.weight", [c.intermediateSize, d], true))
            specs.append((p + "mlp.down_proj.weight", [d, c.intermediateSize], true))
            specs.append((p + "input_layernorm.weight", [d], false))
            specs.append((p + "post_attention_layernorm.weight", [d], false))
        }
        specs.append(("model.norm.weight", [d], false))
        if !c.tieWordEmbeddings { specs.append(("lm_head.weight", [c.vocabSize, d], true)) }
        return specs
    }

    /// The output head's weight name: `lm_head.weight`, or the embedding when tied.
    var outputWeightName: String { config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight" }

    /// Number of parameters (int8 ones included).
    public var parameterCount: Int { parameters.count + quantizedLinears.values.reduce(0) { $0 + $1.weight.values.count } }

    /// x W^T (+ b) for the Linear weight `weightName` (and bias `biasName`): in int8 when the layer is quantized.
    @inline(__always)
    func project(_ x: Tensor, _ weightName: String, bias biasName: String? = nil) -> Tensor {
        linearInputObserver?(weightName, x)
        let bias = biasName.map { parameters[$0] }
        if !quantizedLinears.isEmpty, let q = quantizedLinears[weightName] {
            return int8Linear(x, weight: q.weight, inputScale: q.inputScale, bias: bias)
        }
        return linear(x, weight: parameters[weightName], bias: bias)
    }

    /// `project` for several weights over the same x (a layer's q, k and v; its gate and up), through `linears`: in a
    /// decoding step their few-row products then cost one hand-off to the other cores instead of one each.
    func project(_ x: Tensor, _ weightNames: [String], biases biasNames: [String?]) -> [Tensor] {
        if !quantizedLinears.isEmpty && weightNames.contains(where: { quantizedLinears[$0] != nil }) {
            return zip(weightNames, biasNames).map { project(x, $0, bias: $1) }
        }
        for name in weightNames { linearInputObserver?(name, x) }
        return linears(x, weights: weightNames.map { parameters[$0] }, biases: biasNames.map { $0.map { parameters[$0] } })
    }

    /// Forward pass over a (B, T) batch of token ids (row-major), without dropout.
    public func forward(tokens: [Int32], batch: Int, length: Int, options: ForwardOptions = []) -> ForwardOutput {
        var none: RandomGenerator? = nil
        return forward(tokens: tokens, batch: batch, length: length, options: options, dropout: &none)
    }

    /// Forward pass; with a generator and `dropoutProbability` > 0 dropout is applied (training).
    public func forward(tokens: [Int32], batch b: Int, length t: Int, options: ForwardOptions = [],
                        dropout rng: inout RandomGenerator?) -> ForwardOutput {
        let body = forwardHidden(tokens: tokens, batch: b, length: t, options: options, dropout: &rng)
        let logits = project(body.finalHidden, outputWeightName)
        return ForwardOutput(logits: logits, finalHidden: body.finalHidden, hiddenStates: body.hiddenStates, attentions: body.attentions)
    }

    /// The forward pass up to the final norm, without the output projection: for `fusedOutputLoss`, which
    /// projects chunk by chunk (the logits (B, T, V) are never whole).
    public func forwardHidden(tokens: [Int32], batch b: Int, length t: Int, options: ForwardOptions = [],
                              dropout rng: inout RandomGenerator?) -> HiddenOutput {
        precondition(tokens.count == b * t, "forward: \(tokens.count) tokens for batch \(b) x length \(t)")
        precondition(t <= config.maxPositionEmbeddings, "sequence length \(t) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        let c = config, p = parameters
        var x = embedding(p["model.embed_tokens.weight"], ids: tokens, shape: [b, t])  // (B, T, C)
        var hidden: [Tensor] = [], attentions: [Tensor] = []
        for i in 0..<c.numHiddenLayers {
            let probs: Tensor
            (x, probs) = block(x, layer: i, dropout: &rng)
            if options.contains(.attentions) { attentions.append(probs) }
            if options.contains(.hiddenStates) { hidden.append(x) }
        }
        let h = rmsNorm(x, weight: p["model.norm.weight"], eps: c.rmsNormEps)
        return HiddenOutput(finalHidden: h, hiddenStates: hidden, attentions: attentions)
    }

    /// `forwardHidden` without dropout.
    public func forwardHidden(tokens: [Int32], batch: Int, length: Int, options: ForwardOptions = []) -> HiddenOutput {
        var none: RandomGenerator? = nil
        return forwardHidden(tokens: tokens, batch: batch, length: length, options: options, dropout: &none)
    }

    /// The output projection's float weight (V, C) for `fusedOutputLoss`, or nil when the fused path does not
    /// apply: the head runs in int8, or a calibration observer must see its input.
    public var fusedOutputWeight: Tensor? {
        guard quantizedLinears[outputWeightName] == nil, linearInputObserver == nil else { return nil }
        return parameters[outputWeightName]
    }

    /// Decoder block `i` over the residual stream x (B, T, C): its output and its attention probabilities (B, H, T, T).
    func block(_ x: Tensor, layer i: Int, dropout rng: inout RandomGenerator?) -> (out: Tensor, attention: Tensor) {
        let c = config
        var (q, k, v) = attentionInputs(x, layer: i)
        q = rotaryEmbedding(q, heads: c.numAttentionHeads, table: rope)
        k = rotaryEmbedding(k, heads: c.numKeyValueHeads, table: rope)
        let probs = attentionProbabilities(q: q, k: k, heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads)
        let o = attentionApply(probs, v: v, heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads)
        var y = add(x, applyDropout(project(o, "model.layers.\(i).self_attn.o_proj.weight"), &rng))
        y = add(y, applyDropout(mlp(y, layer: i), &rng))
        return (y, probs)
    }

    /// The layer's pre-norm and q, k, v projections (before rotary embedding): (B, T, H*D), (B, T, KVH*D) x 2.
    func attentionInputs(_ x: Tensor, layer i: Int) -> (q: Tensor, k: Tensor, v: Tensor) {
        let n = "model.layers.\(i).", c = config, p = parameters
        let a = rmsNorm(x, weight: p[n + "input_layernorm.weight"], eps: c.rmsNormEps)
        let names = ["q", "k", "v"]
        let qkv = project(a, names.map { n + "self_attn.\($0)_proj.weight" }, biases: names.map { c.qkvBias ? n + "self_attn.\($0)_proj.bias" : nil })
        guard c.qkNorm else { return (qkv[0], qkv[1], qkv[2]) }
        // Qwen3: RMSNorm over each head's vector (rows of width D), before rotary embedding.
        func headNorm(_ x: Tensor, _ name: String) -> Tensor {
            reshape(rmsNorm(reshape(x, [-1, c.headDim]), weight: p[n + "self_attn.\(name)_norm.weight"], eps: c.rmsNormEps), x.shape)
        }
        return (headNorm(qkv[0], "q"), headNorm(qkv[1], "k"), qkv[2])
    }

    /// The layer's MLP branch: down(silu(gate(norm(x))) * up(norm(x))), (B, T, C).
    func mlp(_ x: Tensor, layer i: Int) -> Tensor {
        let n = "model.layers.\(i).", p = parameters
        let m = rmsNorm(x, weight: p[n + "post_attention_layernorm.weight"], eps: config.rmsNormEps)
        let gateUp = project(m, [n + "mlp.gate_proj.weight", n + "mlp.up_proj.weight"], biases: [nil, nil])
        let f = swiglu(gate: gateUp[0], up: gateUp[1])
        return project(f, n + "mlp.down_proj.weight")
    }

    private func applyDropout(_ x: Tensor, _ rng: inout RandomGenerator?) -> Tensor {
        guard dropoutProbability > 0, GradMode.isEnabled, var r = rng else { return x }
        let y = dropout(x, p: dropoutProbability, rng: &r)
        rng = r
        return y
    }
}
