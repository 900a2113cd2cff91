import Foundation
import StrictConfig
import Tensor

/// A bad model configuration: which key, what value, and what to change.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The configuration key at fault (Hugging Face `config.json` spelling).
    public let key: String
    /// What is wrong and how to fix it.
    public let message: String
    public var description: String { "invalid model config: \(key): \(message)" }
}

/// Llama 3's rotary frequency scaling (`rope_type: llama3`): low frequencies divided by `factor`, high ones kept,
/// a smooth blend in between (transformers' `_compute_llama3_parameters`).
public struct Llama3RopeScaling: Codable, Sendable, Equatable {
    public var factor: Double
    public var lowFreqFactor: Double
    public var highFreqFactor: Double
    public var originalMaxPositionEmbeddings: Int

    public init(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int) {
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
    }

    enum CodingKeys: String, CodingKey {
        case factor, lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    /// The rotary inverse frequencies of `theta` for head width `headDim`, scaled (float32 as transformers).
    public func inverseFrequencies(headDim: Int, theta: Double) -> [Float] {
        let lowWavelength = Float(originalMaxPositionEmbeddings) / Float(lowFreqFactor)
        let highWavelength = Float(originalMaxPositionEmbeddings) / Float(highFreqFactor)
        return RotaryTable.inverseFrequencies(headDim: headDim, theta: theta).map { f in
            let wavelength = 2 * Float.pi / f
            if wavelength > lowWavelength { return f / Float(factor) }
            if wavelength < highWavelength { return f }
            let smooth = (Float(originalMaxPositionEmbeddings) / wavelength - Float(lowFreqFactor)) / Float(highFreqFactor - lowFreqFactor)
            return (1 - smooth) * f / Float(factor) + smooth * f
        }
    }
}

/// The architecture of a decoder-only transformer of the Llama / Qwen2 / Qwen3 family, teacher or student.
///
/// Encodes to and decodes from Hugging Face `config.json` keys so a checkpoint's config can be handed
/// to transformers as it is (`model_type` is `llama`, `qwen2` when `qkv_bias` is set, `qwen3` with `qk_norm`).
/// Both spellings of the rotary settings are read: `rope_theta` + `rope_scaling` (transformers 4) and
/// `rope_parameters` (transformers 5).
public struct TransformerConfig: Codable, Sendable, Equatable {
    /// Tokens in the vocabulary.
    public var vocabSize: Int
    /// Model width d.
    public var hiddenSize: Int
    /// SwiGLU inner width.
    public var intermediateSize: Int
    /// Number of decoder layers.
    public var numHiddenLayers: Int
    /// Query heads.
    public var numAttentionHeads: Int
    /// Key/value heads (grouped-query attention); must divide the query heads.
    public var numKeyValueHeads: Int
    /// RMSNorm epsilon.
    public var rmsNormEps: Float
    /// Rotary embedding base.
    public var ropeTheta: Double
    /// Longest sequence (rotary table size, KV cache size).
    public var maxPositionEmbeddings: Int
    /// Whether the output head reuses the token embedding matrix.
    public var tieWordEmbeddings: Bool
    /// Qwen2-style bias on the q, k and v projections.
    public var qkvBias: Bool
    /// Dropout on the attention and MLP outputs before each residual add, during training.
    public var hiddenDropout: Float
    /// Qwen3's RMSNorm over each query and key head (`q_norm`, `k_norm`, weight of width `headDim`) before rotary.
    public var qkNorm: Bool
    /// An explicit head width (Qwen3, Llama 3.2 write `head_dim`); nil means hidden_size / heads.
    public var explicitHeadDim: Int?
    /// Llama 3 rotary frequency scaling, when the model uses it.
    public var ropeScaling: Llama3RopeScaling?

    /// A config with the defaults used throughout (eps 1e-6, theta 10000, untied, no bias, no dropout).
    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int? = nil, rmsNormEps: Float = 1e-6,
                ropeTheta: Double = 10_000, maxPositionEmbeddings: Int = 128, tieWordEmbeddings: Bool = false,
                qkvBias: Bool = false, hiddenDropout: Float = 0, qkNorm: Bool = false, headDim: Int? = nil,
                ropeScaling: Llama3RopeScaling? = nil) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.qkvBias = qkvBias
        self.hiddenDropout = hiddenDropout
        self.qkNorm = qkNorm
        self.explicitHeadDim = headDim
        self.ropeScaling = ropeScaling
    }

    /// Width of one attention head.
    public var headDim: Int { explicitHeadDim ?? hiddenSize / numAttentionHeads }

    /// Hugging Face `model_type`: qwen3 with q/k norms, qwen2 with QKV bias, else llama.
    public var modelType: String { qkNorm ? "qwen3" : qkvBias ? "qwen2" : "llama" }

    /// The rotary inverse frequencies this config's model uses.
    public var ropeInverseFrequencies: [Float] {
        ropeScaling?.inverseFrequencies(headDim: headDim, theta: ropeTheta)
            ?? RotaryTable.inverseFrequencies(headDim: headDim, theta: ropeTheta)
    }

    /// Checks every combination; throws the first problem with the key and a fix.
    public func validate() throws {
        func fail(_ key: String, _ message: String) -> ConfigurationError { ConfigurationError(key: key, message: message) }
        for (key, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                             ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                             ("num_key_value_heads", numKeyValueHeads), ("max_position_embeddings", maxPositionEmbeddings)]
        where value <= 0 {
            throw fail(key, "must be a positive integer, got \(value)")
        }
        if let hd = explicitHeadDim, hd <= 0 { throw fail("head_dim", "must be a positive integer, got \(hd)") }
        guard explicitHeadDim != nil || hiddenSize % numAttentionHeads == 0 else {
            throw fail("num_attention_heads", "hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads; choose heads that divide it")
        }
        guard headDim % 2 == 0 else {
            throw fail(explicitHeadDim == nil ? "num_attention_heads" : "head_dim", "head dim \(headDim) must be even for rotary embeddings")
        }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw fail("num_key_value_heads", "\(numKeyValueHeads) kv heads must divide \(numAttentionHeads) attention heads")
        }
        guard rmsNormEps > 0 && rmsNormEps.isFinite else { throw fail("rms_norm_eps", "must be a small positive number, got \(rmsNormEps)") }
        guard ropeTheta > 1 && ropeTheta.isFinite else { throw fail("rope_theta", "must be > 1, got \(ropeTheta)") }
        guard hiddenDropout >= 0 && hiddenDropout < 1 else { throw fail("hidden_dropout", "must be in [0, 1), got \(hiddenDropout)") }
        guard !(qkNorm && qkvBias) else { throw fail("qkv_bias", "Qwen3 (q/k norms) has no q/k/v bias; set it to false") }
        if let r = ropeScaling {
            guard r.factor >= 1 && r.factor.isFinite else { throw fail("rope_scaling.factor", "must be >= 1, got \(r.factor)") }
            guard r.lowFreqFactor > 0 && r.highFreqFactor > r.lowFreqFactor else {
                throw fail("rope_scaling.high_freq_factor", "must exceed low_freq_factor (\(r.lowFreqFactor)) > 0, got \(r.highFreqFactor)")
            }
            guard r.originalMaxPositionEmbeddings > 0 else {
                throw fail("rope_scaling.original_max_position_embeddings", "must be a positive integer, got \(r.originalMaxPositionEmbeddings)")
            }
        }
    }

    // MARK: Hugging Face config.json keys

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case qkvBias = "qkv_bias", hiddenDropout = "hidden_dropout"
        case modelType = "model_type", architectures, hiddenAct = "hidden_act"
        case headDim = "head_dim", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
    }

    /// Informational keys whose value would change the architecture: accepted only at the value that
    /// describes the model built here.
    private enum ArchitectureKeys: String, CodingKey {
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", useSlidingWindow = "use_sliding_window"
        case layerTypes = "layer_types"
    }

    /// Keys transformers writes that carry no architecture information here; accepted and ignored.
    static let informationalKeys: Set<String> = [
        "torch_dtype", "dtype", "transformers_version", "bos_token_id", "eos_token_id", "pad_token_id",
        "initializer_range", "use_cache", "attention_dropout", "attention_bias", "mlp_bias", "pretraining_tp",
        "use_sliding_window", "sliding_window", "max_window_layers", "layer_types",
    ]

    /// The Hugging Face model types this code builds.
    public static let supportedModelTypes = ["llama", "qwen2", "qwen3"]

    /// `rope_scaling` / `rope_parameters`: the rotary type and its numbers, in either transformers spelling.
    private struct RopeParameters: Decodable {
        var ropeType: String?
        var type: String?
        var ropeTheta: Double?
        var factor: Double?
        var lowFreqFactor: Double?
        var highFreqFactor: Double?
        var originalMaxPositionEmbeddings: Int?
        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", type, ropeTheta = "rope_theta", factor, lowFreqFactor = "low_freq_factor"
            case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }

        /// The Llama 3 scaling these parameters describe, nil for plain rotary; anything else is an error.
        func scaling(key: String) throws -> Llama3RopeScaling? {
            switch ropeType ?? type ?? "default" {
            case "default":
                return nil
            case "llama3":
                func need<T>(_ v: T?, _ name: String) throws -> T {
                    guard let v else { throw ConfigurationError(key: "\(key).\(name)", message: "missing; llama3 rotary scaling needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings") }
                    return v
                }
                return Llama3RopeScaling(factor: try need(factor, "factor"), lowFreqFactor: try need(lowFreqFactor, "low_freq_factor"),
                                         highFreqFactor: try need(highFreqFactor, "high_freq_factor"),
                                         originalMaxPositionEmbeddings: try need(originalMaxPositionEmbeddings, "original_max_position_embeddings"))
            case let other:
                throw ConfigurationError(key: "\(key).rope_type", message: "rotary type \"\(other)\" is not supported (supported: default, llama3)")
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // The model type first: a config of another family is named as such, not by its first unknown key.
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        if let modelType, !Self.supportedModelTypes.contains(modelType) {
            throw ConfigurationError(key: "model_type", message: "must be one of \(Self.supportedModelTypes.joined(separator: ", ")) (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM), got \"\(modelType)\"; mixture-of-experts and other architectures are not supported")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue)).union(Self.informationalKeys)
        let any = try decoder.container(keyedBy: ConfigKey.self)
        if let unknown = StrictContainer.unknownKeys(any.allKeys.map(\.stringValue), known: Array(known)).first {
            throw ConfigurationError(key: unknown, message: "unknown key; remove it (known keys: \(CodingKeys.allCases.map(\.rawValue).prefix(12).joined(separator: ", ")))")
        }
        let arch = try decoder.container(keyedBy: ArchitectureKeys.self)
        for key in [ArchitectureKeys.attentionBias, .mlpBias] where (try arch.decodeIfPresent(Bool.self, forKey: key)) == true {
            throw ConfigurationError(key: key.rawValue, message: "biases on o_proj / MLP projections are not supported; set it to false (use qkv_bias for Qwen2-style q/k/v biases)")
        }
        if (try arch.decodeIfPresent(Bool.self, forKey: .useSlidingWindow)) == true {
            throw ConfigurationError(key: "use_sliding_window", message: "sliding-window attention is not supported; set it to false (full attention)")
        }
        if let types = try arch.decodeIfPresent([String].self, forKey: .layerTypes), let other = types.first(where: { $0 != "full_attention" }) {
            throw ConfigurationError(key: "layer_types", message: "layer type \"\(other)\" is not supported; every layer must be \"full_attention\"")
        }
        if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct), act != "silu" {
            throw ConfigurationError(key: "hidden_act", message: "only \"silu\" (SwiGLU) is supported, got \"\(act)\"")
        }
        func req<T: Decodable>(_ k: CodingKeys, _ t: T.Type) throws -> T {
            guard let v = try c.decodeIfPresent(T.self, forKey: k) else {
                throw ConfigurationError(key: k.rawValue, message: "missing; add it (a Hugging Face config.json key)")
            }
            return v
        }
        // transformers 5 writes rope_parameters (theta inside); 4 writes rope_theta and rope_scaling.
        var theta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        var scaling: Llama3RopeScaling? = nil
        if let p = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters) {
            theta = p.ropeTheta ?? theta
            scaling = try p.scaling(key: "rope_parameters")
        }
        if let p = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling) {
            scaling = try p.scaling(key: "rope_scaling")
        }
        self.init(vocabSize: try req(.vocabSize, Int.self), hiddenSize: try req(.hiddenSize, Int.self),
                  intermediateSize: try req(.intermediateSize, Int.self), numHiddenLayers: try req(.numHiddenLayers, Int.self),
                  numAttentionHeads: try req(.numAttentionHeads, Int.self),
                  numKeyValueHeads: try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads),
                  rmsNormEps: try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6,
                  ropeTheta: theta ?? 10_000,
                  maxPositionEmbeddings: try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 128,
                  tieWordEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false,
                  qkvBias: try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? (modelType == "qwen2"),
                  hiddenDropout: try c.decodeIfPresent(Float.self, forKey: .hiddenDropout) ?? 0,
                  qkNorm: modelType == "qwen3", headDim: nil, ropeScaling: scaling)
        // head_dim equal to hidden_size / heads is the implicit width; only a different one is kept as explicit.
        if let hd = try c.decodeIfPresent(Int.self, forKey: .headDim), hd != headDim || hiddenSize % numAttentionHeads != 0 {
            explicitHeadDim = hd
        }
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelType, forKey: .modelType)
        try c.encode([qkNorm ? "Qwen3ForCausalLM" : qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], forKey: .architectures)
        try c.encode("silu", forKey: .hiddenAct)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(qkvBias, forKey: .qkvBias)
        try c.encode(hiddenDropout, forKey: .hiddenDropout)
        if let hd = explicitHeadDim { try c.encode(hd, forKey: .headDim) }
        if let r = ropeScaling {
            var rc = c.nestedContainer(keyedBy: RopeParameters.CodingKeys.self, forKey: .ropeScaling)
            try rc.encode("llama3", forKey: .ropeType)
            try rc.encode(r.factor, forKey: .factor)
            try rc.encode(r.lowFreqFactor, forKey: .lowFreqFactor)
            try rc.encode(r.highFreqFactor, forKey: .highFreqFactor)
            try rc.encode(r.originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        }
    }

    /// The config as Hugging Face `config.json` text (sorted keys).
    public func jsonString() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        // encoding plain numbers, strings and bools cannot fail
        return String(decoding: (try? enc.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Decodes and validates a config from `config.json` text.
    public static func fromJSON(_ text: String) throws -> TransformerConfig {
        do {
            return try JSONDecoder().decode(TransformerConfig.self, from: Data(text.utf8))
        } catch let e as ConfigurationError {
            throw e
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.dataCorrupted(ctx), let DecodingError.valueNotFound(_, ctx) {
            guard !ctx.codingPath.isEmpty else {
                throw ConfigurationError(key: "(document)", message: "not a JSON object of config.json keys: \(ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription)")
            }
            throw ConfigurationError(key: ctx.codingPath.map(\.stringValue).joined(separator: "."),
                                     message: "\(ctx.debugDescription); fix the value's type")
        }
    }

    /// A student config: this teacher shrunk by `spec` (vocabulary, norms, rotary base, positions kept).
    public func shrunk(by spec: ShrinkSpec) throws -> TransformerConfig {
        var s = self
        s.numHiddenLayers = spec.layers
        s.hiddenSize = spec.hiddenSize
        s.numAttentionHeads = spec.heads
        s.numKeyValueHeads = spec.kvHeads ?? spec.heads
        s.intermediateSize = spec.intermediateSize
        s.explicitHeadDim = nil
        try s.validate()
        return s
    }
}

/// How a student differs from its teacher: depth, width, heads and MLP width.
public struct ShrinkSpec: Codable, Sendable, Equatable {
    public var layers: Int
    public var hiddenSize: Int
    public var heads: Int
    public var kvHeads: Int?
    public var intermediateSize: Int

    public init(layers: Int, hiddenSize: Int, heads: Int, kvHeads: Int? = nil, intermediateSize: Int) {
        self.layers = layers
        self.hiddenSize = hiddenSize
        self.heads = heads
        self.kvHeads = kvHeads
        self.intermediateSize = intermediateSize
    }
}
