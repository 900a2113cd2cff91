import ArgumentParser
import Checkpoint
import Foundation
import Model
import ModelIO
import Tokenizers

/// `distill import SOURCE --out FILE.h5`: a Hugging Face folder or a GGUF file becomes a checkpoint.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write a checkpoint from a Hugging Face model folder or a GGUF file (Llama, Qwen2, Qwen3).",
        discussion: """
            A folder needs config.json and model.safetensors (or model.safetensors.index.json with its shards; \
            F32, F16 or BF16); tokenizer.json and tokenizer_config.json's chat_template come along when present. \
            A GGUF file (v2 or v3, tensors F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K) is dequantized to \
            float32, with llama.cpp's q/k row order undone, and its tokenizer.ggml.* tokenizer kept.
            """)

    @Argument(help: "A Hugging Face model folder or a .gguf file.")
    var source: String

    @Option(help: "Where to write the checkpoint (.h5).")
    var out: String

    @Option(help: "The model role to store it under.")
    var role = "teacher"

    func run() throws {
        try reportingErrors {
            let imported = try ModelImporter.load(source)
            let c = imported.model.config
            let bpe = imported.tokenizer as? BPETokenizer
            let contents = CheckpointContents(
                models: [ModelSnapshot(role: role, configJSON: c.jsonString(), store: imported.model.parameters)],
                tokenizer: imported.tokenizer as? Tokenizer, tokenizerJSON: (imported.tokenizer as? BPETokenizer)?.tokenizerJSON(),
                chatTemplate: bpe == nil ? nil : imported.chatTemplate,
                promptTemplate: bpe == nil ? nil : PromptTemplate.family(ofChatTemplate: imported.chatTemplate).description)
            try CheckpointWriter.save(contents, to: out)
            let tokenizer = imported.tokenizer.map { "\($0 is BPETokenizer ? "byte-level BPE" : "characters"), \($0.vocabularySize) tokens" } ?? "none"
            print("""
                wrote \(out): role \(role), \(imported.model.parameterCount) parameters from \(imported.summary)
                  \(c.modelType): \(c.numHiddenLayers) layers, d \(c.hiddenSize), \(c.numAttentionHeads)/\(c.numKeyValueHeads) heads \
                of \(c.headDim), MLP \(c.intermediateSize), vocabulary \(c.vocabSize)\(c.tieWordEmbeddings ? ", tied embeddings" : "")
                  tokenizer: \(tokenizer)\(imported.chatTemplate == nil ? "" : ", with a chat template")
                """)
        }
    }
}
