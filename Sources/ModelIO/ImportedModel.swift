import Foundation
import Model
import Tokenizers

/// A model brought in from outside: the transformer with its weights, the tokenizer it reads, and what the
/// source said about prompting it.
public struct ImportedModel {
    /// The transformer, weights loaded (float32).
    public let model: Transformer
    /// The tokenizer that came with the model, when the source has one: byte-level BPE, or the character tokenizer
    /// of a built-in model exported by `distill export`.
    public let tokenizer: (any TextTokenizer)?
    /// The chat template text (Jinja) the source carries, if any.
    public let chatTemplate: String?
    /// The source's path, for messages.
    public let source: String
    /// What was read: "Hugging Face folder" or "GGUF v3 (Q4_1, Q8_0, F32 tensors)".
    public let summary: String

    public init(model: Transformer, tokenizer: (any TextTokenizer)?, chatTemplate: String?, source: String, summary: String) {
        self.model = model
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.source = source
        self.summary = summary
    }
}

/// Reads a teacher from a Hugging Face folder or a GGUF file.
public enum ModelImporter {
    /// A Hugging Face folder (`config.json` + safetensors) when `source` is a directory, else a GGUF file.
    /// - Throws: `ModelFileError` (or `TokenizerFileError`) naming the file and what is wrong.
    public static func load(_ source: String) throws -> ImportedModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw ModelFileError.unreadable(file: source, reason: "no such file or folder; give a Hugging Face model folder or a .gguf file")
        }
        return isDirectory.boolValue ? try HuggingFaceImporter.load(folder: source) : try GGUFImporter.load(path: source)
    }

    /// Refuses the first of `tensors` that is not in `used`: a tensor the config does not account for (a bias, an
    /// expert, a norm) means another architecture, and computing without it would give wrong logits silently.
    /// - Parameters:
    ///   - source: what described the architecture (`config.json`, `metadata`), for the message.
    ///   - reason: a more specific message for a tensor, when there is one.
    static func refuseUnused(_ tensors: [String], used: Set<String>, file: String, modelType: String, source: String,
                             reason: (String) -> String? = { _ in nil }) throws {
        guard let extra = tensors.first(where: { !used.contains($0) }) else { return }
        throw ModelFileError.badKey(file: file, key: extra, reason: reason(extra)
            ?? "tensor not used by a \(modelType) model with this \(source); the weights belong to another architecture or variant")
    }

    /// Copies each parameter of `model` from `read(name, destination, count)` after checking its shape
    /// against `shape(name)` (nil when the source lacks the tensor).
    static func fill(_ model: Transformer, file: String, shape: (String) throws -> [Int]?,
                     read: (String, UnsafeMutablePointer<Float>, Int) throws -> Void) throws {
        let p = model.parameters
        for view in p.views {
            guard let actual = try shape(view.name) else { throw ModelFileError.missingTensor(file: file, tensor: view.name) }
            guard actual == view.shape else {
                throw ModelFileError.tensorShape(file: file, tensor: view.name, expected: view.shape, actual: actual)
            }
            try read(view.name, p.values.base + view.offset, view.count)
        }
    }
}
