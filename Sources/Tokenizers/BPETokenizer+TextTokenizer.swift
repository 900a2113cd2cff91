extension BPETokenizer: TextTokenizer {
    /// BOS when the tokenizer adds one to every sequence (`add_bos_token`, Llama 3's template processing).
    public var beginningOfSequenceID: Int32? { addBOS ? bosID : nil }
    public var endOfSequenceID: Int32? { eosID }
    /// The text's ids with no BOS or EOS added; special-token strings in it are matched.
    public func ids(of text: String) throws -> [Int32] { encode(text, addSpecialTokens: false) }
    public func id(ofToken token: String) -> Int32? { id(of: token) }
    /// Each id's text through a streaming decoder, so a character split over byte-level ids comes with the last of
    /// them; special tokens (BOS, end of turn) write nothing.
    public func textPieces(_ ids: [Int32]) -> [String] {
        var decoder = StreamingDecoder(tokenizer: self, skipSpecialTokens: true)
        var pieces = ids.map { decoder.append($0) }
        if !pieces.isEmpty { pieces[pieces.count - 1] += decoder.finish() }
        return pieces
    }
}
