/// A token matched whole in the text before the model sees it (tokenizer.json `added_tokens`, GGUF control
/// and user-defined tokens).
struct AddedToken {
    var id: Int32
    /// The text as written in the file.
    var content: String
    /// Skipped by `decode(skipSpecialTokens: true)`.
    var special: Bool
    /// Takes the whitespace before it into its match.
    var lstrip: Bool
    /// Takes the whitespace after it into its match.
    var rstrip: Bool
    /// Matches only where neither neighbour is a word character.
    var singleWord: Bool
    /// Matched in the normalized text (else in the raw text, before normalization).
    var normalized: Bool
}

/// A run of text: either an added token's match or plain text for the normalizer and model.
struct Segment {
    var start: Int
    var end: Int
    /// The added token matched here, or -1 for plain text.
    var token: Int
}

/// HF's `AddedVocabulary::find_matches`: leftmost-longest matching of added tokens' contents, with the
/// `single_word`, `lstrip` and `rstrip` rules. A match that fails `single_word` is skipped whole (the search
/// goes on after it), as the library's Aho-Corasick iteration does.
struct AddedTokenMatcher {
    /// The tokens this matcher looks for.
    let tokens: [AddedToken]
    /// Each token's pattern bytes (the content, NFC'd for normalized tokens when the tokenizer normalizes).
    private let patterns: [[UInt8]]
    /// Token indices by first byte, longest pattern first.
    private let byFirstByte: [[Int]]

    init(tokens: [AddedToken], patterns: [[UInt8]]) {
        self.tokens = tokens
        self.patterns = patterns
        var table = [[Int]](repeating: [], count: 256)
        for (i, pattern) in patterns.enumerated() where !pattern.isEmpty { table[Int(pattern[0])].append(i) }
        for b in 0..<256 { table[b].sort { patterns[$0].count > patterns[$1].count || (patterns[$0].count == patterns[$1].count && $0 < $1) } }
        byFirstByte = table
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// Splits `p[start..<end]` into segments (appended to `out`).
    func split(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [Segment]) {
        var plainStart = start
        var i = start
        while i < end {
            let candidates = byFirstByte[Int(p[i])]
            guard !candidates.isEmpty, let index = candidates.first(where: { matches(patterns[$0], p, i, end) }) else {
                i += 1
                continue
            }
            let token = tokens[index]
            var matchStart = i
            var matchEnd = i + patterns[index].count
            i = matchEnd
            if token.singleWord {
                let wordBefore = matchStart > start && AddedTokenMatcher.endsWithWord(p, start, matchStart)
                let wordAfter = matchEnd < end && AddedTokenMatcher.startsWithWord(p, matchEnd, end)
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                matchStart = max(AddedTokenMatcher.trailingWhitespaceStart(p, start, matchStart), plainStart)
            }
            if token.rstrip {
                matchEnd = AddedTokenMatcher.leadingWhitespaceEnd(p, matchEnd, end)
            }
            if plainStart < matchStart { out.append(Segment(start: plainStart, end: matchStart, token: -1)) }
            out.append(Segment(start: matchStart, end: matchEnd, token: index))
            plainStart = matchEnd
        }
        if plainStart < end { out.append(Segment(start: plainStart, end: end, token: -1)) }
    }

    @inline(__always)
    private func matches(_ pattern: [UInt8], _ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Bool {
        guard i + pattern.count <= end else { return false }
        for k in 1..<pattern.count where p[i + k] != pattern[k] { return false }
        return true
    }

    /// The start of the last scalar of `p[start..<i]`.
    private static func lastScalarStart(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ i: Int) -> Int {
        var k = i - 1
        while k > start, UTF8Scalars.isContinuation(p[k]) { k -= 1 }
        return k
    }

    private static func endsWithWord(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ i: Int) -> Bool {
        ScalarClass.isWordCharacter(UTF8Scalars.decode(p, lastScalarStart(p, start, i)).value)
    }

    private static func startsWithWord(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Bool {
        ScalarClass.isWordCharacter(UTF8Scalars.decode(p, i).value)
    }

    /// Where the whitespace at the end of `p[start..<i]` begins (`\s*$`).
    private static func trailingWhitespaceStart(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ i: Int) -> Int {
        var k = i
        while k > start {
            let s = lastScalarStart(p, start, k)
            guard ScalarClass.of(UTF8Scalars.decode(p, s).value) == ScalarClass.space else { break }
            k = s
        }
        return k
    }

    /// Where the whitespace at the start of `p[i..<end]` ends (`^\s*`).
    private static func leadingWhitespaceEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        ScalarRuns.whitespaceRun(p, i, end).end
    }
}
