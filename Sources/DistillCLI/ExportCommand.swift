import ArgumentParser
import Checkpoint
import Foundation
import Model
import ModelIO
import Tokenizers

/// `distill export CHECKPOINT --format hf --out DIR` or `--format gguf --out FILE.gguf`: a model out of a checkpoint,
/// for transformers or llama.cpp.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model as a Hugging Face folder or a llama.cpp GGUF file.",
        discussion: """
            Only the model goes out (projections, value heads and optimizer state stay in the checkpoint). The folder \
            loads in transformers with AutoModelForCausalLM and AutoTokenizer; the character tokenizer of the built-in \
            models is written as a tokenizer.json that the tokenizers library reads with the same ids. \
            --format gguf writes one GGUF v3 file as llama.cpp's convert_hf_to_gguf.py would (architecture llama, qwen2 \
            or qwen3, tokenizer.ggml.* with the chat template, llama.cpp's tensor names and q/k row order), its 2-D \
            weights in --type f32, f16, q8_0 or q4_0 (norms and biases stay f32); the character tokenizer goes in as a \
            byte-level vocabulary without merges, one token per character, with the same ids.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case hf, gguf }
    enum DType: String, ExpressibleByArgument, CaseIterable { case f32, bf16, f16 }
    enum GGUFType: String, ExpressibleByArgument, CaseIterable { case f32, f16, q8_0, q4_0 }

    @Argument(help: "The checkpoint file (.h5).")
    var checkpoint: String

    @Option(help: "Which model role to export.")
    var role = "student"

    @Option(help: "hf (a Hugging Face folder) or gguf (a llama.cpp GGUF file).")
    var format: Format

    @Option(help: "The folder (hf) or .gguf file (gguf) to write.")
    var out: String

    @Option(help: "hf only: weight type in model.safetensors: f32, bf16 or f16 (default f32).")
    var dtype: DType?

    @Option(help: "gguf only: type of the 2-D weights: f32, f16, q8_0 or q4_0 (default f32).")
    var type: GGUFType?

    func validate() throws {
        if format == .gguf, let dtype {
            throw ValidationError("--dtype \(dtype.rawValue) is for --format hf; a GGUF file takes --type f32|f16|q8_0|q4_0")
        }
        if format == .hf, let type {
            throw ValidationError("--type \(type.rawValue) is for --format gguf; a Hugging Face folder takes --dtype f32|bf16|f16")
        }
        // the GGUF file replaces whatever is at --out: never the checkpoint it is read from
        let source = URL(fileURLWithPath: checkpoint).standardizedFileURL.resolvingSymlinksInPath().path
        let target = URL(fileURLWithPath: out).standardizedFileURL.resolvingSymlinksInPath().path
        if source == target {
            throw ValidationError("--out \(out) is the checkpoint being exported; choose another path (it would be overwritten)")
        }
    }

    func run() throws {
        try reportingErrors {
            let reader = try CheckpointReader(path: checkpoint)
            let (model, codec) = try reader.loadModel(role: role)
            guard model.quantizedLinears.isEmpty else {
                throw ValidationError("\(checkpoint): the \(role) is int8 (distill quantize) and has no float weights to export; "
                                      + "export the FP32 checkpoint it was quantized from (--format gguf --type q8_0 is llama.cpp's 8-bit form)")
            }
            switch format {
            case .hf:
                let dtype = self.dtype ?? .f32
                try HuggingFaceExporter.export(model: model, codec: codec, chatTemplate: try reader.chatTemplate(), to: out,
                                               dtype: SafetensorsWriter.DType(rawValue: dtype.rawValue)!)  // the same three names
                print("wrote \(out): \(model.config.modelType), \(model.parameterCount) parameters in \(dtype.rawValue), prompt template \(codec.template)")
            case .gguf:
                let type = GGUFExporter.FileType(rawValue: (self.type ?? .f32).rawValue)!  // the same four names
                let name = URL(fileURLWithPath: checkpoint).deletingPathExtension().lastPathComponent + " " + role
                let summary = try GGUFExporter.export(model: model, codec: codec, chatTemplate: try reader.chatTemplate(), name: name,
                                                      to: out, type: type)
                print("wrote \(out): GGUF v3, \(model.config.modelType), \(model.parameterCount) parameters in \(type.rawValue), "
                      + "\(summary.tensors.count) tensors, \(summary.byteCount) bytes, prompt template \(codec.template)")
                for note in summary.notes { print("  note: \(note)") }
            }
        }
    }
}
