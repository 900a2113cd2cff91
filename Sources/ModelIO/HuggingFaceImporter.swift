import FileErrors
import Foundation
import Model
import Tokenizers

/// A Hugging Face model folder: `config.json`, `model.safetensors` or `model.safetensors.index.json` over
/// shards (F32, F16 or BF16, read into float32), and `tokenizer.json` / `tokenizer_config.json` when present.
public enum HuggingFaceImporter {
    /// The architectures (`config.json` `architectures`) this code builds.
    public static let supportedArchitectures = ["LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"]

    /// Loads the model in `folder`.
    /// - Throws: `ModelFileError` naming the file and key or tensor; `TokenizerFileError` for a bad tokenizer.json.
    public static func load(folder: String) throws -> ImportedModel {
        let config = try readConfig(folder: folder)
        let weights = try SafetensorsModel(folder: folder)
        let model = try Transformer(config: config)
        // old checkpoints carry rotary tables, and tied ones sometimes the head: both are derived, not read
        let derived: (String) -> Bool = { name in
            name.hasSuffix("rotary_emb.inv_freq") || (config.tieWordEmbeddings && name == "lm_head.weight")
        }
        try ModelImporter.refuseUnused(weights.tensorNames.filter { !derived($0) }, used: Set(model.parameters.names), file: folder,
                                       modelType: config.modelType, source: "config.json")
        let names = Set(weights.tensorNames)
        try ModelImporter.fill(model, file: folder, shape: { names.contains($0) ? try weights.info($0).shape : nil },
                               read: { try weights.read($0, into: $1, count: $2) })
        let tokenizerPath = folder + "/tokenizer.json"
        let tokenizer: (any TextTokenizer)? = FileManager.default.fileExists(atPath: tokenizerPath) ? try readTokenizer(tokenizerPath) : nil
        return ImportedModel(model: model, tokenizer: tokenizer, chatTemplate: try chatTemplate(folder: folder),
                             source: folder, summary: "Hugging Face folder (\(config.modelType), \(weights.tensorNames.count) tensors)")
    }

    /// A byte-level BPE tokenizer.json, or the character tokenizer `distill export` writes (a WordLevel model over
    /// single characters, `HuggingFaceExporter.characterTokenizerJSON`).
    static func readTokenizer(_ path: String) throws -> any TextTokenizer {
        if let data = FileManager.default.contents(atPath: path),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let model = object["model"] as? [String: Any], model["type"] as? String == "WordLevel" {
            guard let vocab = model["vocab"] as? [String: Int], Set(vocab.values) == Set(0..<vocab.count) else {
                throw TokenizerFileError(file: path, key: "model.vocab", message: "a WordLevel vocabulary must map tokens to the ids 0..<count")
            }
            let symbols = vocab.sorted { $0.value < $1.value }.map(\.key)
            do { return try JSONDecoder().decode(Tokenizer.self, from: JSONEncoder().encode(["symbols": symbols])) } catch {
                throw TokenizerFileError(file: path, key: "model", message: "WordLevel is read only as the character tokenizer distill exports (<pad>, <bos>, <eos>, then single characters): \(error)")
            }
        }
        return try BPETokenizer.load(path: path)
    }

    /// `config.json` decoded and checked, with its `architectures` entry checked too.
    public static func readConfig(folder: String) throws -> TransformerConfig {
        let path = folder + "/config.json"
        let data: Data
        do { data = try ReadFailure.contents(of: path) } catch let e as ReadFailure {
            let missing = !FileManager.default.fileExists(atPath: path)
            throw ModelFileError.unreadable(file: path, reason: missing
                ? "no such file; a Hugging Face model folder holds config.json beside its safetensors (give the folder transformers' save_pretrained wrote)"
                : e.reason)
        }
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let architectures = object["architectures"] as? [String],
           let other = architectures.first(where: { !supportedArchitectures.contains($0) }) {
            throw ModelFileError.unsupported(file: path, what: "architecture \(other)", supported: supportedArchitectures.joined(separator: ", "))
        }
        do {
            return try TransformerConfig.fromJSON(String(decoding: data, as: UTF8.self))
        } catch let e as ConfigurationError {
            throw ModelFileError.badKey(file: path, key: e.key, reason: e.message)
        }
    }

    /// The `chat_template` of `tokenizer_config.json` (a string, or the "default" of a list of named ones).
    static func chatTemplate(folder: String) throws -> String? {
        let path = folder + "/tokenizer_config.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do { data = try ReadFailure.contents(of: path) } catch let e as ReadFailure {
            throw ModelFileError.unreadable(file: path, reason: e.reason)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFileError.malformed(file: path, offset: 0, reason: "not a JSON object")
        }
        if let text = object["chat_template"] as? String { return text }
        if let named = object["chat_template"] as? [[String: Any]] {
            return named.first(where: { $0["name"] as? String == "default" })?["template"] as? String
        }
        return nil
    }
}
