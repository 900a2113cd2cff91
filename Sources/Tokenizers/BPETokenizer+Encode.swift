extension BPETokenizer {
    /// The token ids of `text`.
    /// - Parameter addSpecialTokens: add the template's tokens (BOS, EOS) as HF's `add_special_tokens` does.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        run(text, addSpecialTokens: addSpecialTokens, wantSpans: false).ids
    }

    /// The token ids of `text` and, for each, the UTF-8 byte range of `text` it stands for (HF's offsets, in
    /// bytes): a token holding part of a character spans the whole character; template tokens (BOS, EOS) get
    /// the empty range at 0.
    public func encodeWithSpans(_ text: String, addSpecialTokens: Bool = true) -> (ids: [Int32], spans: [Range<Int>]) {
        let r = run(text, addSpecialTokens: addSpecialTokens, wantSpans: true)
        return (r.ids, zip(r.starts, r.ends).map { $0..<$1 })
    }

    private func run(_ text: String, addSpecialTokens: Bool, wantSpans: Bool) -> (ids: [Int32], starts: [Int], ends: [Int]) {
        var text = text
        var state = EncodeState(wantSpans: wantSpans)
        let c = components
        text.withUTF8 { buf in
            state.ids.reserveCapacity(buf.count / 3 + 8)
            // Added tokens that are matched in the raw text come out first.
            var segments: [Segment] = []
            if c.rawMatcher.isEmpty {
                segments.append(Segment(start: 0, end: buf.count, token: -1))
            } else {
                c.rawMatcher.split(buf, 0, buf.count, into: &segments)
            }
            for segment in segments {
                if segment.token >= 0 {
                    state.appendAdded(c.rawMatcher.tokens[segment.token].id, buf, segment.start, segment.end,
                                      span: (segment.start, segment.end))
                } else {
                    encodePlain(buf, segment.start, segment.end, state: &state)
                }
            }
            if wantSpans && c.trimOffsets { state.trimSpaces(buf, keepFirstPrefixSpace: c.trimKeepsPrefixSpace) }
        }
        guard addSpecialTokens, !c.prefixIDs.isEmpty || !c.suffixIDs.isEmpty else { return (state.ids, state.starts, state.ends) }
        let ids = c.prefixIDs + state.ids + c.suffixIDs
        if !wantSpans { return (ids, [], []) }
        let extra = [Int](repeating: 0, count: c.prefixIDs.count)
        let tail = [Int](repeating: 0, count: c.suffixIDs.count)
        return (ids, extra + state.starts + tail, extra + state.ends + tail)
    }

    /// Step 1 (normalizer) for text outside the raw added tokens, then the rest.
    private func encodePlain(_ buf: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, state: inout EncodeState) {
        if components.nfc, let normalized = NFCNormalizer.normalize(buf, start, end) {
            normalized.bytes.withUnsafeBufferPointer { nb in
                normalized.originStart.withUnsafeBufferPointer { os in
                    normalized.originEnd.withUnsafeBufferPointer { oe in
                        let origin = Origin(original: buf, starts: os, ends: oe)
                        encodeNormalized(nb, 0, nb.count, origin: origin, state: &state)
                    }
                }
            }
        } else {
            encodeNormalized(buf, start, end, origin: Origin(original: buf, starts: nil, ends: nil), state: &state)
        }
    }

    /// Normalized added tokens, then step 2 (pre-tokenizer) and step 3 (model) on each piece.
    private func encodeNormalized(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, origin: Origin,
                                  state: inout EncodeState) {
        let c = components
        var segments: [Segment] = []
        if c.normalizedMatcher.isEmpty {
            segments.append(Segment(start: start, end: end, token: -1))
        } else {
            c.normalizedMatcher.split(p, start, end, into: &segments)
        }
        for segment in segments {
            if segment.token >= 0 {
                let span = state.wantSpans ? origin.span(segment.start, segment.end - 1) : (0, 0)
                state.appendAdded(c.normalizedMatcher.tokens[segment.token].id, p, segment.start, segment.end, span: span)
                continue
            }
            state.pieces.removeAll(keepingCapacity: true)
            c.preTokenizer.pieces(p, segment.start, segment.end, into: &state.pieces, scratch: &state.preScratch)
            for piece in state.pieces { encodePiece(p, piece, origin: origin, state: &state) }
        }
    }

    /// Step 3: the BPE model on one pre-token, and each token's span.
    @inline(__always)
    private func encodePiece(_ p: UnsafeBufferPointer<UInt8>, _ piece: Piece, origin: Origin, state: inout EncodeState) {
        let before = state.ids.count
        let model = components.model
        if piece.prefixSpace {
            state.prefixed.removeAll(keepingCapacity: true)
            state.prefixed.append(0x20)
            state.prefixed.append(contentsOf: UnsafeBufferPointer(rebasing: p[piece.start..<piece.end]))
            state.prefixed.withUnsafeBufferPointer { key in
                model.tokenize(key.baseAddress!, key.count, into: &state.ids, scratch: &state.bpeScratch)
            }
        } else {
            model.tokenize(p.baseAddress! + piece.start, piece.end - piece.start, into: &state.ids, scratch: &state.bpeScratch)
        }
        guard state.wantSpans else { return }
        // Token k covers piece bytes [a, b); with a prefix space, byte 0 is the space, which stands for the
        // piece's first character.
        var a = 0
        let shift = piece.prefixSpace ? 1 : 0
        for k in before..<state.ids.count {
            let id = Int(state.ids[k])
            let length = Int(components.decodeStarts[id + 1] - components.decodeStarts[id])
            let b = a + length
            let first = piece.start + max(a - shift, 0)
            let last = piece.start + max(b - 1 - shift, 0)
            let span = origin.span(first, last)
            state.starts.append(span.0)
            state.ends.append(span.1)
            if components.trimOffsets {
                let bytes = components.decodeBytes[Int(components.decodeStarts[id])..<Int(components.decodeStarts[id + 1])]
                state.leadingSpaces.append(bytes.prefix { $0 == 0x20 }.count)
                state.trailingSpaces.append(bytes.reversed().prefix { $0 == 0x20 }.count)
            }
            a = b
        }
    }
}

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
