import Foundation
import Model
import ModelIO
import Tensor
import TestSupport
import Testing

// Tiny llama, qwen2 and qwen3 models as GGUF files written by the `gguf` package in llama.cpp's layout
// (scripts/make_gguf_model_fixtures.py: q/k rows permuted for llama, F16 / BF16 weights, F32 norms and biases), and
// the logits transformers computes for the same weights.

enum GGUFModelFixture {
    static func path(_ name: String) throws -> String { try IOFixtures.path("gguf-models/" + name) }
}

@Suite("GGUF models: metadata -> config, llama.cpp names -> Hugging Face names, logits as transformers'")
struct GGUFImportTests {
    @Test("logits equal transformers' within 1e-4", arguments: ["llama-f16", "qwen2-bf16", "qwen3-f16"])
    func logitsMatchTransformers(name: String) throws {
        let imported = try ModelImporter.load(try GGUFModelFixture.path(name + ".gguf"))
        let reference: HFFixture.Logits = try IOFixtures.json("gguf-models/\(name).logits.json")
        let out = imported.model.forward(tokens: reference.tokens, batch: 1, length: reference.tokens.count)
        allClose(out.logits.toArray(), reference.logits, rtol: 1e-4, atol: 1e-4, name)
    }

    @Test("each architecture's config comes from its metadata")
    func configs() throws {
        let llama = try ModelImporter.load(try GGUFModelFixture.path("llama-f16.gguf"))
        #expect(llama.model.config.modelType == "llama" && llama.model.config.tieWordEmbeddings && llama.tokenizer == nil)
        let qwen2 = try ModelImporter.load(try GGUFModelFixture.path("qwen2-bf16.gguf"))
        #expect(qwen2.model.config.qkvBias && !qwen2.model.config.tieWordEmbeddings)
        let tokenizer = try #require(qwen2.tokenizer as? BPETokenizer)
        #expect(tokenizer.vocabularySize == 64 && tokenizer.eosID == 2 && !tokenizer.addBOS)
        let qwen3 = try ModelImporter.load(try GGUFModelFixture.path("qwen3-f16.gguf")).model.config
        #expect(qwen3.qkNorm && qwen3.headDim == 16 && qwen3.explicitHeadDim == 16)
    }

    @Test("another architecture, experts and Llama 3.1 rotary factors are refused, naming what and where",
          arguments: [("refuse-arch.gguf", "gemma"), ("refuse-moe.gguf", "expert_count"), ("refuse-rope-freqs.gguf", "rope_freqs.weight")])
    func refused(file: String, named: String) throws {
        let path = try GGUFModelFixture.path(file)
        do {
            _ = try ModelImporter.load(path)
            Issue.record("\(file) was imported")
        } catch let e as ModelFileError {
            #expect(e.description.contains(named) && e.description.contains(path), "\(e)")
        }
    }

    @Test("the rotary row interleave is undone: reading llama's q/k as stored gives other logits")
    func permutationMatters() throws {
        // A model that skipped the unpermute would read the GGUF rows in place; its logits must differ.
        let path = try GGUFModelFixture.path("llama-f16.gguf")
        let imported = try ModelImporter.load(path)
        let file = try GGUFFile(path: path)
        let raw = try Transformer(config: imported.model.config)
        raw.parameters.copyValues(from: imported.model.parameters)
        let q = "model.layers.0.self_attn.q_proj.weight"
        let stored = try file.floats("blk.0.attn_q.weight")
        raw.parameters[q].ptr.update(from: stored, count: stored.count)
        let tokens: [Int32] = [1, 5, 9, 2, 7, 3]
        #expect(raw.forward(tokens: tokens, batch: 1, length: 6).logits.toArray()
                != imported.model.forward(tokens: tokens, batch: 1, length: 6).logits.toArray())
        #expect(stored != imported.model.parameters[q].toArray())
    }
}
