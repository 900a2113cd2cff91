/// llama.cpp's `tokenizer.ggml.pre` names, as HF pre-tokenizers (llama-vocab.cpp's regexes per
/// `LLAMA_VOCAB_PRE_TYPE_*`, written the way the families' own tokenizer.json files write them). No normalizer
/// is added: llama.cpp applies none (Qwen2's own tokenizer.json adds NFC, which changes only text not already
/// in NFC).
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
