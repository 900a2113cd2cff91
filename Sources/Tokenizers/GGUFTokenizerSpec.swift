/// A GGUF file's `tokenizer.ggml.*` metadata, as a GGUF reader hands it to `BPETokenizer(gguf:)`.
public struct GGUFTokenizerSpec: Sendable {
    /// The GGUF file, for error messages.
    public var file: String
    /// `tokenizer.ggml.model`: "gpt2" is llama.cpp's name for byte-level BPE, the only kind supported.
    public var model: String
    /// `tokenizer.ggml.pre`: which pre-tokenizer (regex) the vocabulary was trained with; nil means "default".
    public var pre: String?
    /// `tokenizer.ggml.tokens`: token text by id, in the byte-level alphabet (`Ġthe`).
    public var tokens: [String]
    /// `tokenizer.ggml.merges`: "left right" by rank.
    public var merges: [String]
    /// `tokenizer.ggml.token_type` by id: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.bos_token_id`.
    public var bosID: Int32?
    /// `tokenizer.ggml.eos_token_id`.
    public var eosID: Int32?
    /// `tokenizer.ggml.padding_token_id`.
    public var padID: Int32?
    /// `tokenizer.ggml.add_bos_token`.
    public var addBOS: Bool
    /// `tokenizer.ggml.add_eos_token`.
    public var addEOS: Bool
    /// `tokenizer.chat_template` (kept for callers; encoding does not use it).
    public var chatTemplate: String?

    /// Collects the metadata; `BPETokenizer(gguf:)` checks it.
    public init(file: String, model: String, pre: String?, tokens: [String], merges: [String], tokenTypes: [Int32]?,
                bosID: Int32?, eosID: Int32?, padID: Int32?, addBOS: Bool, addEOS: Bool, chatTemplate: String?) {
        self.file = file
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.merges = merges
        self.tokenTypes = tokenTypes
        self.bosID = bosID
        self.eosID = eosID
        self.padID = padID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.chatTemplate = chatTemplate
    }
}

/// llama.cpp's `tokenizer.ggml.pre` names, as HF pre-tokenizers (llama-vocab.cpp's regexes per
/// `LLAMA_VOCAB_PRE_TYPE_*`, written the way the families' own tokenizer.json files write them).
enum GGUFPreTokenizer {
    case gpt2, llama3, qwen2, smollm

    /// The names each case answers to.
    static let names: [(String, GGUFPreTokenizer)] = [
        ("default", .gpt2), ("gpt2", .gpt2),
        ("llama3", .llama3), ("llama-bpe", .llama3), ("llama-v3", .llama3),
        ("qwen2", .qwen2), ("deepseek-r1-qwen", .qwen2),
        ("smollm", .smollm),
    ]

    init?(name: String) {
        guard let match = GGUFPreTokenizer.names.first(where: { $0.0 == name }) else { return nil }
        self = match.1
    }

    /// Llama 3 sets `ignore_merges` (llama.cpp does the same for this pre-type).
    var ignoreMerges: Bool { self == .llama3 }

    /// The tokenizer.json `pre_tokenizer` object.
    var json: JSONValue {
        func byteLevel(useRegex: Bool) -> JSONValue {
            .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                     ("trim_offsets", .bool(true)), ("use_regex", .bool(useRegex))])
        }
        func split(_ pattern: String) -> JSONValue {
            .object([("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern))])),
                     ("behavior", .string("Isolated")), ("invert", .bool(false))])
        }
        func sequence(_ items: [JSONValue]) -> JSONValue {
            .object([("type", .string("Sequence")), ("pretokenizers", .array(items))])
        }
        switch self {
        case .gpt2: return byteLevel(useRegex: true)
        case .llama3: return sequence([split(SplitPattern.llama3Text), byteLevel(useRegex: false)])
        case .qwen2: return sequence([split(SplitPattern.qwen2Text), byteLevel(useRegex: false)])
        // llama.cpp's SMOLLM: `\p{N}` then the GPT-2 regex; SmolLM2's tokenizer.json: Digits + ByteLevel.
        case .smollm:
            return sequence([.object([("type", .string("Digits")), ("individual_digits", .bool(true))]),
                             byteLevel(useRegex: true)])
        }
    }
}
