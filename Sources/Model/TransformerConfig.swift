import Foundation

/// A bad model configuration: which key, what value, and what to change.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The configuration key at fault (Hugging Face `config.json` spelling).
    public let key: String
    /// What is wrong and how to fix it.
    public let message: String
    public var description: String { "invalid model config: \(key): \(message)" }
}

/// The architecture of a decoder-only transformer of the Llama / Qwen2 family, teacher or student.
///
/// Encodes to and decodes from Hugging Face `config.json` keys so a checkpoint's config can be handed
/// to transformers as it is (`model_type` is `llama`, or `qwen2` when `qkv_bias` is set).
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

    /// A config with the defaults used throughout (eps 1e-6, theta 10000, untied, no bias, no dropout).
    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int? = nil, rmsNormEps: Float = 1e-6,
                ropeTheta: Double = 10_000, maxPositionEmbeddings: Int = 128, tieWordEmbeddings: Bool = false,
                qkvBias: Bool = false, hiddenDropout: Float = 0) {
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
    }

    /// Width of one attention head.
    public var headDim: Int { hiddenSize / numAttentionHeads }

    /// Checks every combination; throws the first problem with the key and a fix.
    public func validate() throws {
        func fail(_ key: String, _ message: String) -> ConfigurationError { ConfigurationError(key: key, message: message) }
        for (key, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                             ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                             ("num_key_value_heads", numKeyValueHeads), ("max_position_embeddings", maxPositionEmbeddings)]
        where value <= 0 {
            throw fail(key, "must be a positive integer, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("num_attention_heads", "hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads; choose heads that divide it")
        }
        guard headDim % 2 == 0 else {
            throw fail("num_attention_heads", "head dim \(headDim) (hidden_size / heads) must be even for rotary embeddings")
        }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw fail("num_key_value_heads", "\(numKeyValueHeads) kv heads must divide \(numAttentionHeads) attention heads")
        }
        guard rmsNormEps > 0 && rmsNormEps.isFinite else { throw fail("rms_norm_eps", "must be a small positive number, got \(rmsNormEps)") }
        guard ropeTheta > 1 && ropeTheta.isFinite else { throw fail("rope_theta", "must be > 1, got \(ropeTheta)") }
        guard hiddenDropout >= 0 && hiddenDropout < 1 else { throw fail("hidden_dropout", "must be in [0, 1), got \(hiddenDropout)") }
    }

    // MARK: Hugging Face config.json keys

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case qkvBias = "qkv_bias", hiddenDropout = "hidden_dropout"
        case modelType = "model_type", architectures, hiddenAct = "hidden_act"
    }

    /// Informational keys whose value would change the architecture: accepted only at the value that
    /// describes the model built here.
    private enum ArchitectureKeys: String, CodingKey {
        case ropeScaling = "rope_scaling", attentionBias = "attention_bias", mlpBias = "mlp_bias", headDim = "head_dim"
    }

    /// Keys transformers writes that carry no architecture information here; accepted and ignored.
    static let informationalKeys: Set<String> = [
        "torch_dtype", "dtype", "transformers_version", "bos_token_id", "eos_token_id", "pad_token_id",
        "initializer_range", "use_cache", "attention_dropout", "attention_bias", "mlp_bias", "pretraining_tp",
        "rope_scaling", "rope_parameters", "head_dim", "use_sliding_window", "sliding_window", "max_window_layers",
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let known = Set(CodingKeys.allCases.map(\.rawValue)).union(Self.informationalKeys)
        let any = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = any.allKeys.map(\.stringValue).filter({ !known.contains($0) }).sorted().first {
            throw ConfigurationError(key: unknown, message: "unknown key; remove it (known keys: \(CodingKeys.allCases.map(\.rawValue).prefix(12).joined(separator: ", ")))")
        }
        let arch = try decoder.container(keyedBy: ArchitectureKeys.self)
        if arch.contains(.ropeScaling), !(try arch.decodeNil(forKey: .ropeScaling)) {
            throw ConfigurationError(key: "rope_scaling", message: "RoPE scaling is not supported; remove it or set it to null")
        }
        for key in [ArchitectureKeys.attentionBias, .mlpBias] where (try arch.decodeIfPresent(Bool.self, forKey: key)) == true {
            throw ConfigurationError(key: key.rawValue, message: "biases on o_proj / MLP projections are not supported; set it to false (use qkv_bias for Qwen2-style q/k/v biases)")
        }
        if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct), act != "silu" {
            throw ConfigurationError(key: "hidden_act", message: "only \"silu\" (SwiGLU) is supported, got \"\(act)\"")
        }
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        if let modelType, modelType != "llama" && modelType != "qwen2" {
            throw ConfigurationError(key: "model_type", message: "must be \"llama\" or \"qwen2\", got \"\(modelType)\"")
        }
        func req<T: Decodable>(_ k: CodingKeys, _ t: T.Type) throws -> T {
            guard let v = try c.decodeIfPresent(T.self, forKey: k) else {
                throw ConfigurationError(key: k.rawValue, message: "missing; add it (a Hugging Face config.json key)")
            }
            return v
        }
        self.init(vocabSize: try req(.vocabSize, Int.self), hiddenSize: try req(.hiddenSize, Int.self),
                  intermediateSize: try req(.intermediateSize, Int.self), numHiddenLayers: try req(.numHiddenLayers, Int.self),
                  numAttentionHeads: try req(.numAttentionHeads, Int.self),
                  numKeyValueHeads: try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads),
                  rmsNormEps: try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6,
                  ropeTheta: try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? 10_000,
                  maxPositionEmbeddings: try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 128,
                  tieWordEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false,
                  qkvBias: try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? (modelType == "qwen2"),
                  hiddenDropout: try c.decodeIfPresent(Float.self, forKey: .hiddenDropout) ?? 0)
        if let hd = try arch.decodeIfPresent(Int.self, forKey: .headDim), hd != headDim {
            throw ConfigurationError(key: "head_dim", message: "\(hd) differs from hidden_size / num_attention_heads = \(headDim); only that head size is supported")
        }
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(qkvBias ? "qwen2" : "llama", forKey: .modelType)
        try c.encode([qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], forKey: .architectures)
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

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
