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
