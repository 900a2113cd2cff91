/// What the training pipeline needs of a tokenizer, whichever kind it is (the built-in character tokenizer or a
/// real model's byte-level BPE): text to ids, each id's text back, and the ids that frame a sequence.
public protocol TextTokenizer: Sendable {
    /// Number of ids (the model's vocabulary must be at least this large).
    var vocabularySize: Int { get }
    /// The id put before every prompt, nil when the tokenizer adds none (SmolLM2 and Qwen add none; Llama 3 adds
    /// `<|begin_of_text|>`; the character tokenizer `<bos>`).
    var beginningOfSequenceID: Int32? { get }
    /// The tokenizer's end-of-sequence id, if it has one.
    var endOfSequenceID: Int32? { get }
    /// The ids of `text` as written: nothing added, special-token strings in it (`<|im_end|>`) matched.
    /// - Throws: when the text cannot be encoded (the character tokenizer's `TokenizerError`).
    func ids(of text: String) throws -> [Int32]
    /// The id of a token given by its text (`<|im_end|>`, `<eos>`), nil when the vocabulary lacks it.
    func id(ofToken token: String) -> Int32?
    /// The text of token `id` as the vocabulary writes it (`<eos>`, `Ġthe`), nil for an id it does not have.
    func token(of id: Int32) -> String?
    /// The text each id adds when `ids` are decoded in order: a character split over several ids appears with the
    /// id that completes it, and special ids (BOS, EOS, padding) add nothing. Joined, the pieces are the decoded text.
    func textPieces(_ ids: [Int32]) -> [String]
}

extension Tokenizer: TextTokenizer {
    public var beginningOfSequenceID: Int32? { Self.bos }
    public var endOfSequenceID: Int32? { Self.eos }
    public func ids(of text: String) throws -> [Int32] { try encode(text, addBOS: false, addEOS: false) }
    public func id(ofToken token: String) -> Int32? { symbols.firstIndex(of: token).map { Int32($0) } }
    public func token(of id: Int32) -> String? { id >= 0 && Int(id) < symbols.count ? symbols[Int(id)] : nil }
    public func textPieces(_ ids: [Int32]) -> [String] { ids.map { decode([$0], stopAtEOS: false) } }
}
