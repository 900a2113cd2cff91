/// Decodes ids one at a time (for printing a generation as it happens): each call returns the text that is
/// now complete, holding back the bytes of a character whose remaining bytes are still to come (a byte-level
/// token may end inside an emoji). The concatenation of everything returned, `finish()` included, equals
/// `tokenizer.decode(allIDs)`.
public struct StreamingDecoder {
    private let tokenizer: BPETokenizer
    private let skipSpecialTokens: Bool
    /// Bytes not yet returned: at most the start of one character.
    private var pending: [UInt8] = []

    /// A decoder for `tokenizer`'s ids.
    /// - Parameter skipSpecialTokens: leave out special added tokens, as `decode(_:skipSpecialTokens:)` does.
    public init(tokenizer: BPETokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the text completed by it (empty while a character is still partial).
    public mutating func append(_ id: Int32) -> String {
        tokenizer.appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &pending)
        let complete = StreamingDecoder.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Returns the bytes still held back, decoded lossily (U+FFFD for an unfinished character), and empties
    /// the decoder.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of `bytes` without a trailing, still-incomplete but so-far-valid UTF-8 sequence. Invalid
    /// bytes are not held back: they decode to U+FFFD whatever follows.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // A character is at most 4 bytes: look at the last 3 for the start of an unfinished one.
        var k = n - 1
        while k >= 0, k >= n - 3 {
            let b = bytes[k]
            if b & 0xC0 == 0x80 { k -= 1; continue }  // continuation byte: keep looking for the lead
            let needed: Int
            switch b {
            case 0xC2...0xDF: needed = 2
            case 0xE0...0xEF: needed = 3
            case 0xF0...0xF4: needed = 4
            default: return n  // ASCII or an invalid lead: nothing to wait for
            }
            guard n - k < needed else { return n }  // the last character is whole
            // Hold back only if the bytes so far can still become a valid character.
            return isValidPrefix(bytes[k..<n]) ? k : n
        }
        return n
    }

    /// Whether `bytes` (a lead byte and fewer continuation bytes than it needs) starts a valid character,
    /// following the well-formed ranges of the Unicode Standard, Table 3-7.
    private static func isValidPrefix(_ bytes: ArraySlice<UInt8>) -> Bool {
        let lead = bytes[bytes.startIndex]
        guard bytes.count > 1 else { return true }
        let second = bytes[bytes.startIndex + 1]
        let secondOK: Bool
        switch lead {
        case 0xE0: secondOK = (0xA0...0xBF).contains(second)
        case 0xED: secondOK = (0x80...0x9F).contains(second)
        case 0xF0: secondOK = (0x90...0xBF).contains(second)
        case 0xF4: secondOK = (0x80...0x8F).contains(second)
        default: secondOK = (0x80...0xBF).contains(second)
        }
        return secondOK && bytes.dropFirst(2).allSatisfy { $0 & 0xC0 == 0x80 }
    }
}
