/// Where normalized bytes came from: the original text itself (no normalization: a byte stands for the
/// character holding it), or per-byte original ranges from the normalizer.
struct Origin {
    let original: UnsafeBufferPointer<UInt8>
    let starts: UnsafeBufferPointer<Int>?
    let ends: UnsafeBufferPointer<Int>?

    /// The original byte range of normalized bytes `first...last`.
    @inline(__always)
    func span(_ first: Int, _ last: Int) -> (Int, Int) {
        if let starts, let ends { return (starts[first], ends[last]) }
        var s = first
        while s > 0, UTF8Scalars.isContinuation(original[s]) { s -= 1 }
        var e = last + 1
        while e < original.count, UTF8Scalars.isContinuation(original[e]) { e += 1 }
        return (s, e)
    }
}

/// One encode call's output and scratch buffers.
struct EncodeState {
    let wantSpans: Bool
    var ids: [Int32] = []
    var starts: [Int] = []
    var ends: [Int] = []
    /// Per token, for the ByteLevel post-processor's `trim_offsets`: spaces (or whitespace) at each end.
    var leadingSpaces: [Int] = []
    var trailingSpaces: [Int] = []
    var pieces: [Piece] = []
    var prefixed: [UInt8] = []
    var preScratch = PreTokenizerScratch()
    var bpeScratch = BPEScratch()

    init(wantSpans: Bool) { self.wantSpans = wantSpans }

    /// An added token matched at `p[start..<end]` (its text, stripped whitespace included, is what trimming
    /// looks at, as in HF) with original span `span`.
    mutating func appendAdded(_ id: Int32, _ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, span: (Int, Int)) {
        ids.append(id)
        guard wantSpans else { return }
        starts.append(span.0)
        ends.append(span.1)
        // Whitespace or `Ġ` (U+0120, C4 A0) characters at each end of the matched text.
        var scalars: [UInt32] = []
        var i = start
        while i < end { let (c, n) = UTF8Scalars.decode(p, i); scalars.append(c); i += n }
        func isSpace(_ c: UInt32) -> Bool { c == 0x120 || ScalarClass.of(c) == ScalarClass.space }
        leadingSpaces.append(scalars.prefix(while: isSpace).count)
        trailingSpaces.append(scalars.reversed().prefix(while: isSpace).count)
    }

    /// HF's ByteLevel `process_offsets`: moves each span's start past its token's leading spaces and its end
    /// before the trailing ones, counting characters of the original text; the first token keeps one leading
    /// space when ByteLevel added it (`add_prefix_space`).
    mutating func trimSpaces(_ text: UnsafeBufferPointer<UInt8>, keepFirstPrefixSpace: Bool) {
        for k in 0..<ids.count {
            var leading = leadingSpaces[k]
            let trailing = trailingSpaces[k]
            guard leading > 0 || trailing > 0 else { continue }
            if leading > 0 {
                if (k == 0 || starts[k] == 0) && keepFirstPrefixSpace && leading == 1 { leading = 0 }
                var s = starts[k]
                for _ in 0..<leading where s < ends[k] {
                    s += UTF8Scalars.length(leadingByte: text[s])
                }
                starts[k] = min(s, ends[k])
            }
            if trailing > 0 {
                var e = ends[k], stepped = 0
                while stepped < trailing, e > 0 {
                    e -= 1
                    while e > 0, UTF8Scalars.isContinuation(text[e]) { e -= 1 }
                    stepped += 1
                }
                if stepped == trailing { ends[k] = max(e, starts[k]) }
            }
        }
    }
}
