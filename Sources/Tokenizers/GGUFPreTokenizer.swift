/// llama.cpp's `tokenizer.ggml.pre` names, as HF pre-tokenizers (llama-vocab.cpp's regexes per
/// `LLAMA_VOCAB_PRE_TYPE_*`, written the way the families' own tokenizer.json files write them). No normalizer
/// is added: llama.cpp applies none (Qwen2's own tokenizer.json adds NFC, which changes only text not already
/// in NFC).
enum GGUFPreTokenizer {
    case gpt2, llama3, qwen2, smollm

    /// The names each case answers to.
    static let names: [(String, GGUFPreTokenizer)] = [
        ("default", .gpt2), ("gpt2", .gpt2), ("gpt-2", .gpt2),
        ("llama3", .llama3), ("llama-bpe", .llama3), ("llama-v3", .llama3),
        ("qwen2", .qwen2), ("deepseek-r1-qwen", .qwen2),
        ("smollm", .smollm),
    ]

    /// The name llama.cpp's llama-vocab.cpp knows for each case, as the GGUF exporter writes it.
    var llamaCppName: String {
        switch self {
        case .gpt2: return "gpt-2"
        case .llama3: return "llama-bpe"
        case .qwen2: return "qwen2"
        case .smollm: return "smollm"
        }
    }

    /// The case whose pre-tokenizer is `json` (a tokenizer.json `pre_tokenizer`), compared member by member in any
    /// order and without ByteLevel's `trim_offsets` (which acts after the model, not in pre-tokenization); nil when
    /// none is.
    init?(matching json: JSONValue) {
        func canonical(_ v: JSONValue) -> JSONValue {
            switch v {
            case .array(let items): return .array(items.map(canonical))
            case .object(let members):
                return .object(members.filter { $0.key != "trim_offsets" }.sorted { $0.key < $1.key }.map { ($0.key, canonical($0.value)) })
            default: return v
            }
        }
        let target = canonical(json)
        guard let match = [GGUFPreTokenizer.gpt2, .llama3, .qwen2, .smollm].first(where: { canonical($0.json) == target }) else { return nil }
        self = match
    }

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
