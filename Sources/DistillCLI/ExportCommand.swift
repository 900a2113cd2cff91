import ArgumentParser
import Checkpoint
import Foundation
import Model
import ModelIO
import Tokenizers

/// `distill export CHECKPOINT --format hf --out DIR`: a model out of a checkpoint, for transformers.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model as a Hugging Face folder (config.json, model.safetensors, tokenizer files).",
        discussion: """
            Only the model goes out (projections, value heads and optimizer state stay in the checkpoint). The folder \
            loads in transformers with AutoModelForCausalLM and AutoTokenizer; the character tokenizer of the built-in \
            models is written as a tokenizer.json that the tokenizers library reads with the same ids. GGUF export \
            (--format gguf) is not built yet.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case hf, gguf }
    enum DType: String, ExpressibleByArgument, CaseIterable { case f32, bf16, f16 }

    @Argument(help: "The checkpoint file (.h5).")
    var checkpoint: String

    @Option(help: "Which model role to export.")
    var role = "student"

    @Option(help: "hf (a Hugging Face folder).")
    var format: Format

    @Option(help: "The folder to write.")
    var out: String

    @Option(help: "Weight type in model.safetensors: f32, bf16 or f16.")
    var dtype: DType = .f32

    func validate() throws {
        if format == .gguf {
            throw ValidationError("--format gguf: GGUF export is not built yet; use --format hf (llama.cpp's convert_hf_to_gguf.py converts that folder)")
        }
    }

    func run() throws {
        try reportingErrors {
            let reader = try CheckpointReader(path: checkpoint)
            let model = try reader.loadTransformer(role: role)
            guard model.quantizedLinears.isEmpty else {
                throw ValidationError("\(checkpoint): the \(role) is int8 (distill quantize), which transformers cannot load as it is; "
                                      + "export the FP32 checkpoint it was quantized from")
            }
            let codec = try reader.codec(vocabularySize: model.config.vocabSize, role: role)
            try HuggingFaceExporter.export(model: model, codec: codec, chatTemplate: try reader.chatTemplate(), to: out,
                                           dtype: SafetensorsWriter.DType(rawValue: dtype.rawValue)!)  // the same three names
            print("wrote \(out): \(model.config.modelType), \(model.parameterCount) parameters in \(dtype.rawValue), prompt template \(codec.template)")
        }
    }
}
