import Foundation
import Model
import ModelIO
import Tensor
import TestSupport
import Testing

/// The tiny random models of scripts/make_hf_fixtures.py: folders as transformers' save_pretrained writes them,
/// and the logits transformers computes for their token ids.
enum HFFixture {
    static func folder(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/hf") else {
            throw SetupFailure("Fixtures/hf/\(name) is not in the test bundle (run scripts/make_hf_fixtures.py)")
        }
        return url.path
    }

    struct Logits: Decodable { let tokens: [Int32]; let shape: [Int]; let logits: [Double] }

    static func logits(_ name: String) throws -> Logits {
        try JSONDecoder().decode(Logits.self, from: Data(contentsOf: URL(fileURLWithPath: try folder(name) + "/logits.json")))
    }

    /// A copy of a fixture folder in a fresh temporary folder, for tests that damage it.
    static func scratchCopy(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "hf-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: try folder(name), toPath: dir)
        return dir
    }
}

@Suite("Hugging Face folders: config.json + safetensors -> a Transformer with transformers' logits")
struct HuggingFaceImportTests {
    @Test("logits equal transformers' within 1e-4",
          arguments: ["llama3-tied-f32", "qwen2-bf16-sharded", "qwen3-f16"])
    func logitsMatchTransformers(name: String) throws {
        let imported = try ModelImporter.load(try HFFixture.folder(name))
        let reference = try HFFixture.logits(name)
        let out = imported.model.forward(tokens: reference.tokens, batch: 1, length: reference.tokens.count)
        #expect(out.logits.shape == [1] + reference.shape)
        allClose(out.logits.toArray(), reference.logits, rtol: 1e-4, atol: 1e-4, name)
    }

    @Test("the three architectures come out as transformers configured them")
    func configs() throws {
        let llama = try ModelImporter.load(try HFFixture.folder("llama3-tied-f32")).model.config
        #expect(llama.modelType == "llama" && llama.tieWordEmbeddings && llama.ropeScaling?.factor == 8)
        #expect(llama.ropeScaling?.originalMaxPositionEmbeddings == 16)
        let qwen2 = try ModelImporter.load(try HFFixture.folder("qwen2-bf16-sharded")).model.config
        #expect(qwen2.modelType == "qwen2" && qwen2.qkvBias && !qwen2.tieWordEmbeddings && qwen2.ropeTheta == 1_000_000)
        let qwen3 = try ModelImporter.load(try HFFixture.folder("qwen3-f16")).model.config
        #expect(qwen3.modelType == "qwen3" && qwen3.qkNorm && qwen3.headDim == 16 && qwen3.hiddenSize == 32)
    }

    @Test("the KV-cache decoding path gives the full forward's logits (q/k norms, scaled rotary, explicit head width)",
          arguments: ["llama3-tied-f32", "qwen3-f16"])
    func cachedDecodingMatchesForward(name: String) throws {
        let model = try ModelImporter.load(try HFFixture.folder(name)).model
        let reference = try HFFixture.logits(name)
        let n = reference.tokens.count, v = model.config.vocabSize
        let cache = KVCache(config: model.config, batch: 1, capacity: n)
        let prefix = 5
        var logits = model.step(cache: cache, rows: [0], tokens: Array(reference.tokens.prefix(prefix)), count: prefix).toArray()
        for t in prefix..<n {
            logits += model.step(cache: cache, rows: [0], tokens: [reference.tokens[t]], count: 1).toArray()
        }
        #expect(logits.count == n * v)
        allClose(logits, reference.logits, rtol: 1e-4, atol: 1e-4, "\(name) through the KV cache")
    }

    @Test("a tensor the config does not account for is an error naming it")
    func unexpectedTensor() throws {
        // qwen2's QKV biases read under a config that says llama: the biases would be dropped silently.
        let dir = try HFFixture.scratchCopy("qwen2-bf16-sharded")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/config.json"
        let text = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "\"qwen2\"", with: "\"llama\"").replacingOccurrences(of: "Qwen2ForCausalLM", with: "LlamaForCausalLM")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        #expect { _ = try ModelImporter.load(dir) } throws: { error in
            guard case ModelFileError.badKey(let file, let key, _) = error else { return false }
            return file == dir && key.hasSuffix("_proj.bias")
        }
    }

    /// Rewrites the folder's config.json with `change` applied to its keys.
    private func editConfig(_ dir: String, _ change: (inout [String: Any]) -> Void) throws {
        let path = dir + "/config.json"
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
    }

    @Test("another architecture, sliding windows, MoE and other rotary types in config.json are errors naming the key",
          arguments: [
            (#"{"architectures": ["MistralForCausalLM"]}"#, "MistralForCausalLM"),
            (#"{"model_type": "qwen2_moe", "num_experts": 8}"#, "model_type"),
            (#"{"use_sliding_window": true}"#, "use_sliding_window"),
            (#"{"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}}"#, "rope_parameters.rope_type"),
          ])
    func unsupportedConfigs(change: String, named: String) throws {
        let dir = try HFFixture.scratchCopy("qwen3-f16")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let update = try #require(try JSONSerialization.jsonObject(with: Data(change.utf8)) as? [String: Any])
        try editConfig(dir) { object in for (k, v) in update { object[k] = v } }
        do {
            _ = try ModelImporter.load(dir)
            Issue.record("loaded a config with \(change)")
        } catch let e as ModelFileError {
            #expect(e.description.contains(named), "\(e)")
            #expect(e.description.contains("config.json"), "\(e)")
        }
    }

    @Test("a missing tensor and a mis-shaped tensor are errors naming the tensor")
    func missingAndMisshapenTensors() throws {
        let dir = try HFFixture.scratchCopy("qwen3-f16")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // one more layer than the file holds: layer 2's tensors are missing
        try editConfig(dir) { object in
            object["num_hidden_layers"] = 3
            object["layer_types"] = ["full_attention", "full_attention", "full_attention"]
        }
        #expect { _ = try ModelImporter.load(dir) } throws: { error in
            guard case ModelFileError.missingTensor(_, let tensor) = error else { return false }
            return tensor.hasPrefix("model.layers.2.")
        }
        // a wider MLP than the file's tensors
        try editConfig(dir) { object in
            object["num_hidden_layers"] = 2
            object["layer_types"] = ["full_attention", "full_attention"]
            object["intermediate_size"] = 64
        }
        #expect { _ = try ModelImporter.load(dir) } throws: { error in
            guard case ModelFileError.tensorShape(_, let tensor, let expected, let actual) = error else { return false }
            return tensor.contains("mlp.") && expected != actual
        }
    }
}
