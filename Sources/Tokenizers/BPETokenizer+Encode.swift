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
