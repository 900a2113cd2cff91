import FileErrors
import Foundation
import Model
import Tokenizers

/// Writes a model as a Hugging Face folder that transformers' `AutoModelForCausalLM` and `AutoTokenizer` load:
/// `config.json`, `model.safetensors`, `tokenizer.json`, `tokenizer_config.json` (with a chat template) and
/// `generation_config.json` (the ids that end a completion). Only the model goes out: projections, value heads
/// and optimizer state stay in the checkpoint.
public enum HuggingFaceExporter {
    /// Writes `model` with `codec`'s tokenizer and prompt layout into `folder` (made when missing; the five files
    /// are replaced). `chatTemplate` is the imported model's own; without one a template for `codec.template` is
    /// written.
    /// - Throws: `ModelFileError.unreadable` naming the path when something cannot be written.
    public static func export(model: Transformer, codec: TraceCodec, chatTemplate: String?, to folder: String,
                              dtype: SafetensorsWriter.DType = .f32) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ModelFileError.unreadable(file: folder, reason: "cannot write: " + WriteFailure(path: folder, cause: .isFile).reason)
        }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw ModelFileError.unreadable(file: folder, reason: "cannot create the folder: "
                                            + WriteFailure.diagnose(path: folder, target: .folder, error: error).reason)
        }
        let tokenizer = codec.tokenizer
        let bos = tokenizer.beginningOfSequenceID, eos = codec.endID
        let pad = (tokenizer as? Tokenizer).map { _ in Tokenizer.pad } ?? (tokenizer as? BPETokenizer)?.padID ?? eos

        var config = try jsonObject(model.config.jsonString())
        config["torch_dtype"] = ["f32": "float32", "bf16": "bfloat16", "f16": "float16"][dtype.rawValue]
        config["bos_token_id"] = bos.map { Int($0) } ?? NSNull()
        config["eos_token_id"] = Int(eos)
        config["pad_token_id"] = Int(pad)
        try writeJSON(config, to: folder + "/config.json")

        let p = model.parameters
        let tensors = p.views.map { v in
            SafetensorsWriter.Tensor(name: v.name, shape: v.shape, values: UnsafeBufferPointer(start: p.values.base + v.offset, count: v.count))
        }
        try SafetensorsWriter.write(tensors, dtype: dtype, to: folder + "/model.safetensors")

        let tokenizerJSON: String
        if let bpe = tokenizer as? BPETokenizer { tokenizerJSON = bpe.tokenizerJSON() } else if let chars = tokenizer as? Tokenizer {
            tokenizerJSON = try characterTokenizerJSON(chars)
        } else {
            throw ModelFileError.unsupported(file: folder, what: "exporting a \(type(of: tokenizer)) tokenizer", supported: "byte-level BPE, the character tokenizer")
        }
        do { try tokenizerJSON.write(toFile: folder + "/tokenizer.json", atomically: true, encoding: .utf8) } catch {
            throw ModelFileError.unreadable(file: folder + "/tokenizer.json",
                                            reason: "cannot write: " + WriteFailure.diagnose(path: folder + "/tokenizer.json", target: .file, error: error).reason)
        }
        func text(_ id: Int32?) -> Any { id.flatMap(tokenizer.token(of:)) ?? NSNull() }
        try writeJSON(["tokenizer_class": "PreTrainedTokenizerFast", "bos_token": text(bos), "eos_token": text(eos), "pad_token": text(pad),
                       "chat_template": chatTemplate ?? jinja(codec.template), "model_max_length": model.config.maxPositionEmbeddings,
                       "clean_up_tokenization_spaces": false, "add_bos_token": bos != nil],
                      to: folder + "/tokenizer_config.json")
        try writeJSON(["bos_token_id": bos.map { Int($0) } ?? NSNull(), "eos_token_id": codec.stopIDs.sorted().map { Int($0) },
                       "pad_token_id": Int(pad)], to: folder + "/generation_config.json")
    }

    /// The character tokenizer as a `tokenizers` description: every symbol one token (a WordLevel model over a
    /// split into single characters), `<bos>` put first by the post-processor, tokens joined without spaces when
    /// decoded; ids as in the checkpoint.
    public static func characterTokenizerJSON(_ t: Tokenizer) throws -> String {
        let specials = Set([Tokenizer.pad, Tokenizer.bos, Tokenizer.eos].map(Int.init))
        let object: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(),
            "added_tokens": specials.sorted().map { id in
                ["id": id, "content": t.symbols[id], "single_word": false, "lstrip": false, "rstrip": false,
                 "normalized": false, "special": true] as [String: Any]
            },
            "normalizer": NSNull(),
            "pre_tokenizer": ["type": "Split", "pattern": ["Regex": "[\\s\\S]"], "behavior": "Isolated", "invert": false],
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": "<bos>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                "pair": [["SpecialToken": ["id": "<bos>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                         ["Sequence": ["id": "B", "type_id": 1]]],
                "special_tokens": ["<bos>": ["id": "<bos>", "ids": [Int(Tokenizer.bos)], "tokens": ["<bos>"]]],
            ] as [String: Any],
            "decoder": ["type": "Fuse"],
            "model": ["type": "WordLevel", "unk_token": t.symbols[Int(Tokenizer.pad)],
                      "vocab": Dictionary(uniqueKeysWithValues: t.symbols.enumerated().map { ($1, $0) })] as [String: Any],
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// A Jinja chat template that lays out a conversation as `template` does (the last user message as the question).
    static func jinja(_ template: PromptTemplate) -> String {
        // Jinja's loop scope keeps a plain `set` inside the loop: a namespace carries the last user message out
        let question = "{% set ns = namespace(q='') %}{% for m in messages %}{% if m['role'] == 'user' %}{% set ns.q = m['content'] %}{% endif %}{% endfor %}"
        switch template {
        // newlines as Jinja string literals: Jinja drops a template's trailing newline
        case .plain: return question + "{{ bos_token }}{{ ns.q }}{{ '\\n' }}"
        case .chatml: return "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        case .llama3: return "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] + '<|eot_id|>' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
        case .deepseek: return "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
            + "{% else %}<｜Assistant｜>{{ m['content'] }}<｜end▁of▁sentence｜>{% endif %}{% endfor %}{% if add_generation_prompt %}<｜Assistant｜>{% endif %}"
        case .custom(let text):
            return question + "{{ bos_token }}" + text.replacingOccurrences(of: "{question}", with: "{{ ns.q }}")
                .replacingOccurrences(of: "\n", with: "{{ '\\n' }}")
        }
    }

    private static func jsonObject(_ text: String) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    private static func writeJSON(_ object: [String: Any], to path: String) throws {
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw ModelFileError.unreadable(file: path, reason: "cannot write: " + WriteFailure.diagnose(path: path, target: .file, error: error).reason)
        }
    }
}
