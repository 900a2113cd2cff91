/// Turns ids into text one at a time as they are sampled, for printing a generation while it happens: each call
/// returns only complete characters (a byte-level id may end inside an emoji; its bytes wait for the rest), special
/// tokens print nothing, and `finish()` returns what is still held back. Everything returned, joined, is the text.
public struct TextStream {
    private let tokenizer: any TextTokenizer
    private var bytes: StreamingDecoder?

    public init(tokenizer: any TextTokenizer) {
        self.tokenizer = tokenizer
        bytes = (tokenizer as? BPETokenizer).map { StreamingDecoder(tokenizer: $0, skipSpecialTokens: true) }
    }

    /// The text `id` completes.
    public mutating func append(_ id: Int32) -> String {
        if bytes != nil { return bytes!.append(id) }
        return tokenizer.textPieces([id]).first ?? ""
    }

    /// Whatever is still held back (an unfinished character, decoded lossily).
    public mutating func finish() -> String {
        if bytes != nil { return bytes!.finish() }
        return ""
    }
}
