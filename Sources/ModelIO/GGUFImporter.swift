import Foundation
import Model
import Tokenizers

/// A llama.cpp GGUF file (v2, v3) of architecture `llama`, `qwen2` or `qwen3`: the config from its metadata,
/// the weights dequantized to float32 under Hugging Face names, and the tokenizer from `tokenizer.ggml.*`.
public enum GGUFImporter {
    /// The `general.architecture` values this code builds.
    public static let supportedArchitectures = ["llama", "qwen2", "qwen3"]

    /// Loads the model in the GGUF file at `path`.
    /// - Throws: `ModelFileError` naming the file and the key or tensor; `TokenizerFileError` for bad tokenizer metadata.
    public static func load(path: String) throws -> ImportedModel {
        let file = try GGUFFile(path: path)
        let config = try config(of: file)
        let model = try Transformer(config: config)
        let hfToGGUF = tensorNames(config)
        try ModelImporter.refuseUnused(file.tensors.map(\.name), used: Set(hfToGGUF.values), file: path, modelType: config.modelType,
                                       source: "metadata") { name in
            name == "rope_freqs.weight"
                ? "Llama 3.1+ rotary frequency factors are not supported from GGUF yet; import the model's Hugging Face folder instead" : nil
        }
        let known = Dictionary(file.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        try ModelImporter.fill(model, file: path, shape: { name in hfToGGUF[name].flatMap { known[$0]?.shape } },
                               read: { name, destination, count in
            let ggufName = hfToGGUF[name]!  // fill asks only for names whose shape was found through this map
            // llama.cpp's converter interleaves the two rotary halves of each q/k head for llama models.
            if config.modelType == "llama", let heads = permutedHeads(name, config) {
                let raw = try file.floats(ggufName)
                unpermuteRotaryRows(raw, into: destination, heads: heads, rowWidth: config.hiddenSize)
            } else {
                try file.read(ggufName, into: destination, count: count)
            }
        })
        let tokenizer = try self.tokenizer(of: file)
        if let tokenizer, tokenizer.vocabularySize > config.vocabSize {
            throw ModelFileError.badKey(file: path, key: "tokenizer.ggml.tokens",
                                        reason: "\(tokenizer.vocabularySize) tokens but the model's vocabulary is \(config.vocabSize)")
        }
        let types = Set(file.tensors.map(\.type.name)).sorted().joined(separator: ", ")
        return ImportedModel(model: model, tokenizer: tokenizer, chatTemplate: try file.optionalString("tokenizer.chat_template"),
                             source: path, summary: "GGUF v\(file.version), \(config.modelType), \(file.tensors.count) tensors (\(types))")
    }

    /// The transformer config the metadata describes.
    public static func config(of file: GGUFFile) throws -> TransformerConfig {
        let arch = try file.string("general.architecture")
        guard supportedArchitectures.contains(arch) else {
            throw ModelFileError.unsupported(file: file.path, what: "general.architecture \"\(arch)\"",
                                             supported: supportedArchitectures.joined(separator: ", "))
        }
        if let experts = try file.optionalInt("\(arch).expert_count"), experts > 0 {
            throw ModelFileError.unsupported(file: file.path, what: "a mixture of \(experts) experts (\(arch).expert_count)", supported: "dense models")
        }
        if let scaling = try file.optionalString("\(arch).rope.scaling.type"), scaling != "none" {
            throw ModelFileError.unsupported(file: file.path, what: "\(arch).rope.scaling.type \"\(scaling)\"", supported: "none")
        }
        if try file.optionalInt("\(arch).attention.sliding_window") != nil {
            throw ModelFileError.unsupported(file: file.path, what: "sliding-window attention (\(arch).attention.sliding_window)", supported: "full attention")
        }
        let hidden = try file.int("\(arch).embedding_length"), heads = try file.int("\(arch).attention.head_count")
        let embedding = try file.tensor("token_embd.weight")
        let vocab = try file.optionalInt("\(arch).vocab_size") ?? embedding.shape.first ?? 0
        var c = TransformerConfig(
            vocabSize: vocab, hiddenSize: hidden, intermediateSize: try file.int("\(arch).feed_forward_length"),
            numHiddenLayers: try file.int("\(arch).block_count"), numAttentionHeads: heads,
            numKeyValueHeads: try file.optionalInt("\(arch).attention.head_count_kv") ?? heads,
            rmsNormEps: Float(try file.float("\(arch).attention.layer_norm_rms_epsilon")),
            ropeTheta: try file.optionalFloat("\(arch).rope.freq_base") ?? 10_000,
            maxPositionEmbeddings: try file.int("\(arch).context_length"),
            tieWordEmbeddings: !file.tensors.contains { $0.name == "output.weight" },
            qkvBias: arch == "qwen2", qkNorm: arch == "qwen3")
        if let keyLength = try file.optionalInt("\(arch).attention.key_length"), heads > 0,
           keyLength != hidden / heads || hidden % heads != 0 {
            c.explicitHeadDim = keyLength
        }
        do { try c.validate() } catch let e as ConfigurationError {
            throw ModelFileError.badKey(file: file.path, key: "\(arch) metadata (\(e.key))", reason: e.message)
        }
        return c
    }

    /// Hugging Face parameter name -> GGUF tensor name, for every parameter of `c`'s model.
    static func tensorNames(_ c: TransformerConfig) -> [String: String] {
        var m = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"]
        if !c.tieWordEmbeddings { m["lm_head.weight"] = "output.weight" }
        let perLayer = [
            "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
            "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
            "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
            "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
            "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
        ]
        let wanted = Set(Transformer.parameterSpecs(c).map(\.name))
        for i in 0..<c.numHiddenLayers {
            for (hf, gguf) in perLayer where wanted.contains("model.layers.\(i).\(hf)") {
                m["model.layers.\(i).\(hf)"] = "blk.\(i).\(gguf)"
            }
        }
        return m
    }

    /// The head count whose rows llama.cpp permuted in `name` (q: heads, k: kv heads), nil for other tensors.
    static func permutedHeads(_ name: String, _ c: TransformerConfig) -> Int? {
        if name.hasSuffix("self_attn.q_proj.weight") { return c.numAttentionHeads }
        if name.hasSuffix("self_attn.k_proj.weight") { return c.numKeyValueHeads }
        return nil
    }

    /// Undoes convert_hf_to_gguf.py's `permute`: within each head of D rows, GGUF row 2i + j holds
    /// Hugging Face row j * D/2 + i (j = 0, 1 selects the rotary half).
    static func unpermuteRotaryRows(_ source: [Float], into destination: UnsafeMutablePointer<Float>, heads: Int, rowWidth: Int) {
        let rows = source.count / rowWidth, d = rows / heads, half = d / 2
        source.withUnsafeBufferPointer { s in
            for h in 0..<heads {
                for i in 0..<half {
                    for j in 0..<2 {
                        let from = s.baseAddress! + (h * d + 2 * i + j) * rowWidth
                        (destination + (h * d + j * half + i) * rowWidth).update(from: from, count: rowWidth)
                    }
                }
            }
        }
    }

    /// The byte-level BPE tokenizer of `tokenizer.ggml.*`, nil when the file carries no tokenizer.
    public static func tokenizer(of file: GGUFFile) throws -> BPETokenizer? {
        guard let model = try file.optionalString("tokenizer.ggml.model") else { return nil }
        func id(_ key: String) throws -> Int32? { try file.optionalInt(key).map { Int32(truncatingIfNeeded: $0) } }
        let types = file.metadata["tokenizer.ggml.token_type"] == nil ? nil : try file.ints("tokenizer.ggml.token_type").map { Int32(truncatingIfNeeded: $0) }
        let spec = GGUFTokenizerSpec(
            file: file.path, model: model, pre: try file.optionalString("tokenizer.ggml.pre"),
            tokens: try file.strings("tokenizer.ggml.tokens"),
            merges: file.metadata["tokenizer.ggml.merges"] == nil ? [] : try file.strings("tokenizer.ggml.merges"),
            tokenTypes: types, bosID: try id("tokenizer.ggml.bos_token_id"), eosID: try id("tokenizer.ggml.eos_token_id"),
            padID: try id("tokenizer.ggml.padding_token_id"),
            addBOS: try file.optionalBool("tokenizer.ggml.add_bos_token") ?? false,
            addEOS: try file.optionalBool("tokenizer.ggml.add_eos_token") ?? false,
            chatTemplate: try file.optionalString("tokenizer.chat_template"))
        return try BPETokenizer(gguf: spec)
    }
}
