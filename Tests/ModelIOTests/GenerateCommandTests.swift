import Checkpoint
import Foundation
import Model
import ModelIO
import Tensor
import TestSupport
import Testing
import Tokenizers

// `distill generate` prints what the library's sampler writes for the same prompt, options and seed: for the character
// tokenizer and for an imported BPE chat model (the qwen2-chat fixture), with the closing speed line on stderr.

@Suite("distill generate")
struct GenerateCommandTests {
    private func scratch(_ name: String) -> String { NSTemporaryDirectory() + "generate-\(name)-\(UUID().uuidString.prefix(8))" }

    @Test("a character-tokenizer student: greedy and seeded sampling print the library's completion")
    func characterTokenizer() throws {
        guard let distill = requireDistill() else { return }
        let path = scratch("chars") + ".h5"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = RandomGenerator(seed: 4)
        let config = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2,
                                       numAttentionHeads: 4, maxPositionEmbeddings: 64)
        let model = try Transformer(config: config, rng: &rng)
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(),
                                                                            store: model.parameters)], tokenizer: .math), to: path)
        let codec = TraceCodec.math
        let prompt = try codec.prompt(question: "Compute 12 + 7.")
        for (temperature, seed) in [(Float(0), UInt64(0)), (Float(1), UInt64(9))] {
            var sampler = RandomGenerator(seed: seed)
            let expected = model.generate(prompts: [prompt], options: SamplingOptions(temperature: temperature, maxNewTokens: 20,
                                                                                      stopTokens: codec.stopIDs), rng: &sampler)
            let r = try runDistill(distill, ["generate", "--checkpoint", path, "--prompt", "Compute 12 + 7.", "--temperature", "\(temperature)",
                                             "--max-new-tokens", "20", "--seed", "\(seed)"])
            #expect(r.succeeded, "\(r)")
            #expect(r.stdout == codec.decode(completion: expected.tokens[0]).text + "\n", "temperature \(temperature)")
            #expect(r.stderr.contains("\(expected.tokens[0].count) tokens in") && r.stderr.contains("tokens/s"), "\(r.stderr)")
        }
        let bad = try runDistill(distill, ["generate", "--checkpoint", path, "--prompt", "x", "--template", "nonsense"])
        #expect(!bad.succeeded && bad.stderr.contains("--template"), "\(bad)")
    }

    @Test("an imported BPE chat model: ChatML prompt, stops at <|im_end|>, prints the library's greedy completion")
    func importedChatModel() throws {
        guard let distill = requireDistill() else { return }
        let folder = try HFFixture.folder("qwen2-chat"), path = scratch("chat") + ".h5"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try runDistill(distill, ["import", folder, "--out", path, "--role", "student"]).succeeded)
        let imported = try ModelImporter.load(folder)
        let codec = try TraceCodec(tokenizer: try #require(imported.tokenizer), template: .chatml)
        let question = "Natalia sold 48 clips in April and half as many in May. How many in all?"
        var rng = RandomGenerator(seed: 0)
        let expected = imported.model.generate(prompts: [try codec.prompt(question: question)],
                                               options: .greedy(maxNewTokens: 30, stopTokens: codec.stopIDs), rng: &rng)
        let r = try runDistill(distill, ["generate", "--checkpoint", path, "--prompt", question, "--temperature", "0", "--max-new-tokens", "30"])
        #expect(r.succeeded, "\(r)")
        #expect(r.stdout == codec.decode(completion: expected.tokens[0]).text + "\n")
    }

    @Test("the text stream holds back a character split across byte-level ids and never prints half of it")
    func streamHoldsPartialCharacters() throws {
        let tokenizer = try #require(try ModelImporter.load(try HFFixture.folder("qwen2-chat")).tokenizer as? BPETokenizer)
        let text = "Total: 12 € and 3 🙂 left"  // € and 🙂 are bytes this 400-token vocabulary splits
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        var stream = TextStream(tokenizer: tokenizer)
        var printed = ""
        for id in ids {
            let piece = stream.append(id)
            #expect(!piece.contains("\u{FFFD}"), "a partial character was printed after id \(id)")
            printed += piece
        }
        printed += stream.finish()
        #expect(printed == text)
        #expect(ids.count > text.count - 6, "the multi-byte characters should take several ids each (\(ids.count) ids)")
    }
}
