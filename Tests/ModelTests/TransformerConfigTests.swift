import Foundation
import Model
import Tensor
import Testing

// TransformerConfig's JSON is Hugging Face config.json: real HF files decode (informational keys
// accepted), unknown keys and invalid combinations are ConfigurationErrors naming the key, encoding
// uses HF keys and model_type llama / qwen2, and encode -> decode is the identity.

@Suite("Transformer config")
struct TransformerConfigTests {
    /// The key named by the ConfigurationError `body` throws (nil when it throws nothing; an issue for another error).
    static func errorKey(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do {
            try body()  // no error: nil, which the caller's comparison reports
        } catch let e as ConfigurationError {
            #expect(!e.message.isEmpty, sourceLocation: sourceLocation)
            #expect(e.description.contains(e.key), sourceLocation: sourceLocation)
            return e.key
        } catch {
            Issue.record("expected a ConfigurationError, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    static let llamaConfig = """
    {
      "architectures": ["LlamaForCausalLM"],
      "attention_bias": false,
      "attention_dropout": 0.0,
      "bos_token_id": 1,
      "eos_token_id": 2,
      "head_dim": 32,
      "hidden_act": "silu",
      "hidden_size": 256,
      "initializer_range": 0.02,
      "intermediate_size": 688,
      "max_position_embeddings": 2048,
      "mlp_bias": false,
      "model_type": "llama",
      "num_attention_heads": 8,
      "num_hidden_layers": 4,
      "num_key_value_heads": 2,
      "pretraining_tp": 1,
      "rms_norm_eps": 1e-05,
      "rope_scaling": null,
      "rope_theta": 500000.0,
      "tie_word_embeddings": true,
      "torch_dtype": "float32",
      "transformers_version": "4.46.0",
      "use_cache": true,
      "vocab_size": 64
    }
    """

    @Test("a real-looking HF Llama config.json decodes with the right values")
    func decodeLlama() throws {
        let c = try TransformerConfig.fromJSON(Self.llamaConfig)
        #expect(c.vocabSize == 64 && c.hiddenSize == 256 && c.intermediateSize == 688)
        #expect(c.numHiddenLayers == 4 && c.numAttentionHeads == 8 && c.numKeyValueHeads == 2 && c.headDim == 32)
        #expect(c.rmsNormEps == 1e-5 && c.ropeTheta == 500_000 && c.maxPositionEmbeddings == 2048)
        #expect(c.tieWordEmbeddings && !c.qkvBias && c.hiddenDropout == 0)
    }

    @Test("a Qwen2 config.json (no qkv_bias key) has QKV bias; defaults fill optional keys")
    func decodeQwen2() throws {
        let c = try TransformerConfig.fromJSON("""
        {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu", "vocab_size": 64,
         "hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 21,
         "tie_word_embeddings": false, "torch_dtype": "bfloat16", "rope_theta": 1000000.0, "rms_norm_eps": 1e-06}
        """)
        #expect(c.qkvBias && c.numKeyValueHeads == 2 && c.ropeTheta == 1_000_000)
        let minimal = try TransformerConfig.fromJSON("""
        {"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}
        """)
        #expect(minimal == TransformerConfig(vocabSize: 10, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1, numAttentionHeads: 2))
        #expect(minimal.numKeyValueHeads == 2 && minimal.rmsNormEps == 1e-6 && minimal.ropeTheta == 10_000)
        #expect(!minimal.tieWordEmbeddings && !minimal.qkvBias && minimal.maxPositionEmbeddings == 128)
    }

    @Test("an unknown key is a ConfigurationError naming it")
    func unknownKey() {
        let text = Self.llamaConfig.replacingOccurrences(of: "\"use_cache\": true,", with: "\"use_cache\": true, \"num_layers\": 4,")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(text) } == "num_layers")
        let typo = Self.llamaConfig.replacingOccurrences(of: "\"rope_theta\"", with: "\"rope_thetta\"")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(typo) } == "rope_thetta")
    }

    static func json(hidden: Int = 16, heads: Int = 4, kvHeads: Int = 2, extra: String = "") -> String {
        """
        {"vocab_size": 10, "hidden_size": \(hidden), "intermediate_size": 32, "num_hidden_layers": 1,
         "num_attention_heads": \(heads), "num_key_value_heads": \(kvHeads)\(extra)}
        """
    }

    @Test("invalid combinations are ConfigurationErrors naming the key")
    func invalidCombinations() {
        // heads do not divide the hidden size
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(hidden: 18, heads: 4)) } == "num_attention_heads")
        // kv heads do not divide the heads
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(heads: 4, kvHeads: 3)) } == "num_key_value_heads")
        // odd head dim (12 / 4 = 3): rotary embeddings need an even one
        let odd = Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(hidden: 12, heads: 4)) }
        #expect(odd == "num_attention_heads" || odd == "hidden_size", "odd head dim named \(String(describing: odd))")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(extra: ", \"hidden_act\": \"gelu\"")) } == "hidden_act")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(extra: ", \"model_type\": \"mistral\"")) } == "model_type")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(extra: ", \"rms_norm_eps\": -1")) } == "rms_norm_eps")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(extra: ", \"hidden_dropout\": 1.0")) } == "hidden_dropout")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(kvHeads: 0)) } == "num_key_value_heads")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(#"{"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_attention_heads": 2}"#) } == "num_hidden_layers")
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(extra: ", \"vocab_size\": \"ten\"").replacingOccurrences(of: "\"vocab_size\": 10, ", with: "")) } == "vocab_size")
        // The same checks guard the initialiser path.
        var rng = RandomGenerator(seed: 1)
        #expect(Self.errorKey {
            _ = try Transformer(config: TransformerConfig(vocabSize: 10, hiddenSize: 12, intermediateSize: 8, numHiddenLayers: 1, numAttentionHeads: 4), rng: &rng)
        } == "num_attention_heads")
    }

    @Test("accepted informational keys whose value would change the architecture are rejected, naming the key",
          arguments: [
            ("rope_scaling.rope_type", #", "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8192}"#),
            ("rope_parameters.rope_type", #", "rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}"#),
            ("attention_bias", #", "attention_bias": true"#),
            ("mlp_bias", #", "mlp_bias": true"#),
            ("use_sliding_window", #", "use_sliding_window": true"#),
            ("layer_types", #", "layer_types": ["full_attention", "sliding_attention"]"#),
          ])
    func architectureChangingKeys(key: String, extra: String) {
        // hidden 16 / 4 heads = head dim 4; each value above describes a model this code does not build
        // (other rotary frequencies, biases on o_proj / the MLP, windowed attention), so accepting
        // it would silently give wrong logits for a Hugging Face checkpoint.
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(extra: extra)) } == key)
    }

    @Test("Llama 3 rotary scaling, in transformers 4 (rope_scaling) and 5 (rope_parameters) spelling, and an explicit head_dim")
    func llama3ScalingAndHeadDim() throws {
        let v4 = try TransformerConfig.fromJSON(Self.json(extra: #", "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#))
        let v5 = try TransformerConfig.fromJSON(Self.json(extra: #", "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#))
        #expect(v4 == v5 && v4.ropeTheta == 500_000)
        #expect(v4.ropeScaling == Llama3RopeScaling(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192))
        #expect(try TransformerConfig.fromJSON(v4.jsonString()) == v4)
        // head dim 4 (16 / 4): frequencies 1 and 500000^(-1/2) = 0.001414; wavelengths 6.28 and 4443 against
        // 8192 / 4 = 2048 (high) and 8192 (low): the first is kept, the second is blended with
        // smooth = (8192 / 4443 - 1) / 3 = 0.2813: f * ((1 - s) / 32 + s) (hand computation).
        let f = v4.ropeInverseFrequencies
        let f1 = 1 / 500_000.0.squareRoot(), s = (8192 / (2 * Double.pi / f1) - 1) / 3
        #expect(f[0] == 1)
        #expect(abs(Double(f[1]) / (f1 * ((1 - s) / 32 + s)) - 1) < 1e-5)
        let wide = try TransformerConfig.fromJSON(Self.json(extra: #", "head_dim": 64"#))
        #expect(wide.headDim == 64 && wide.explicitHeadDim == 64)
        #expect(try TransformerConfig.fromJSON(wide.jsonString()) == wide)
        #expect(Self.errorKey { _ = try TransformerConfig.fromJSON(Self.json(extra: #", "head_dim": 5"#)) } == "head_dim")
    }

    @Test("qwen3: q/k norms and no QKV bias; encodes back as qwen3")
    func qwen3() throws {
        let c = try TransformerConfig.fromJSON(Self.json(extra: #", "model_type": "qwen3", "head_dim": 8, "attention_bias": false"#))
        #expect(c.qkNorm && !c.qkvBias && c.headDim == 8 && c.modelType == "qwen3")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.jsonString().utf8)) as? [String: Any])
        #expect(object["architectures"] as? [String] == ["Qwen3ForCausalLM"])
        #expect(try TransformerConfig.fromJSON(c.jsonString()) == c)
    }

    @Test("informational keys with the values this architecture has are accepted")
    func neutralInformationalKeys() throws {
        let c = try TransformerConfig.fromJSON(Self.json(extra: #", "rope_scaling": null, "attention_bias": false, "mlp_bias": false, "head_dim": 4, "torch_dtype": "float32""#))
        #expect(c.headDim == 4 && !c.qkvBias)
    }

    @Test("encoding uses HF keys; model_type is qwen2 with QKV bias, llama without; encode -> decode is the identity")
    func encodeRoundTrip() throws {
        for qkvBias in [false, true] {
            let c = TransformerConfig(vocabSize: 64, hiddenSize: 128, intermediateSize: 344, numHiddenLayers: 2, numAttentionHeads: 4,
                                      numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 500_000, maxPositionEmbeddings: 256,
                                      tieWordEmbeddings: true, qkvBias: qkvBias, hiddenDropout: 0.1)
            let text = c.jsonString()
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(Set(object.keys) == ["model_type", "architectures", "hidden_act", "vocab_size", "hidden_size", "intermediate_size",
                                         "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "rms_norm_eps", "rope_theta",
                                         "max_position_embeddings", "tie_word_embeddings", "qkv_bias", "hidden_dropout"])
            #expect(object["model_type"] as? String == (qkvBias ? "qwen2" : "llama"))
            #expect(object["architectures"] as? [String] == [qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"])
            #expect(object["hidden_act"] as? String == "silu")
            #expect((object["num_key_value_heads"] as? NSNumber)?.intValue == 2)
            #expect(try TransformerConfig.fromJSON(text) == c)
            let decoded = try JSONDecoder().decode(TransformerConfig.self, from: JSONEncoder().encode(c))
            #expect(decoded == c)
        }
    }
}
