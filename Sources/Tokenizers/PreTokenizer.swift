/// One piece of pre-tokenized text: bytes `start..<end` of the normalized buffer, with a space in front when
/// ByteLevel's `add_prefix_space` added one (that space stands for the piece's first character in offsets).
struct Piece {
    var start: Int
    var end: Int
    var prefixSpace: Bool
}

/// How a `Split` pre-tokenizer treats the matches (HF's `SplitDelimiterBehavior`).
enum SplitBehavior: String, CaseIterable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// A pre-tokenizer step that only cuts pieces into smaller pieces.
enum SplitStep {
    /// HF `Split`: the matches of `pattern` (or, with `invert`, the text between them) treated per `behavior`.
    case split(pattern: SplitPattern, behavior: SplitBehavior, invert: Bool)
    /// HF `Digits`: each numeric character alone (`individual`), or runs of them.
    case digits(individual: Bool)
}

/// HF's pre-tokenizer for byte-level BPE: zero or more splitting steps, then ByteLevel (which may add a prefix
/// space to each piece and split it with the GPT-2 regex; its byte-to-character mapping is implicit here,
/// because the model works on raw bytes).
struct PreTokenizer {
    /// The steps before ByteLevel, in order.
    var steps: [SplitStep]
    /// ByteLevel's `add_prefix_space`: a space before every piece that does not start with one.
    var addPrefixSpace: Bool
    /// ByteLevel's `use_regex`: split each piece with the GPT-2 regex.
    var useRegex: Bool

    /// Cuts `p[start..<end]` into pieces, appended to `out`.
    func pieces(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [Piece],
                scratch: inout PreTokenizerScratch) {
        guard end > start else { return }
        var current = scratch.current
        var next = scratch.next
        current.removeAll(keepingCapacity: true)
        current.append((start, end))
        for step in steps {
            next.removeAll(keepingCapacity: true)
            for (s, e) in current { apply(step, p, s, e, into: &next, matches: &scratch.matches) }
            swap(&current, &next)
        }
        for (s, e) in current {
            if addPrefixSpace && p[s] != 0x20 {
                prefixedPieces(p, s, e, into: &out, scratch: &scratch)
            } else if useRegex {
                scratch.matches.removeAll(keepingCapacity: true)
                GPT2Matcher.matches(p, s, e, into: &scratch.matches)
                for (a, b) in scratch.matches { out.append(Piece(start: a, end: b, prefixSpace: false)) }
            } else {
                out.append(Piece(start: s, end: e, prefixSpace: false))
            }
        }
        scratch.current = current
        scratch.next = next
    }

    /// A piece with a space put in front: the regex runs over " " + bytes, and the piece holding the added
    /// space is marked `prefixSpace` instead of pointing at it.
    private func prefixedPieces(_ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, into out: inout [Piece],
                                scratch: inout PreTokenizerScratch) {
        guard useRegex else {
            out.append(Piece(start: s, end: e, prefixSpace: true))
            return
        }
        var buffer = scratch.prefixed
        buffer.removeAll(keepingCapacity: true)
        buffer.append(0x20)
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: p[s..<e]))
        scratch.matches.removeAll(keepingCapacity: true)
        buffer.withUnsafeBufferPointer { GPT2Matcher.matches($0, 0, $0.count, into: &scratch.matches) }
        for (a, b) in scratch.matches {
            out.append(a == 0 ? Piece(start: s, end: s + b - 1, prefixSpace: true)
                              : Piece(start: s + a - 1, end: s + b - 1, prefixSpace: false))
        }
        scratch.prefixed = buffer
    }

    private func apply(_ step: SplitStep, _ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int,
                       into out: inout [(Int, Int)], matches: inout [(Int, Int)]) {
        matches.removeAll(keepingCapacity: true)
        let behavior: SplitBehavior
        var invert = false
        switch step {
        case .split(let pattern, let b, let inv):
            pattern.matches(p, s, e, into: &matches)
            behavior = b
            invert = inv
        case .digits(let individual):
            PreTokenizer.numericCharacters(p, s, e, into: &matches)
            behavior = individual ? .isolated : .contiguous
        }
        PreTokenizer.splitPieces(matches: matches, s, e, behavior: behavior, invert: invert, into: &out)
    }

    /// Each numeric character (Rust's `char::is_numeric`: `\p{N}`) as a match; Digits(individual_digits: false)
    /// joins runs of them through the Contiguous behaviour, as HF does.
    private static func numericCharacters(_ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, into out: inout [(Int, Int)]) {
        var i = s
        while i < e {
            let (c, len) = UTF8Scalars.decode(p, i)
            if ScalarClass.of(c) == ScalarClass.number { out.append((i, i + len)) }
            i += len
        }
    }

    /// HF's `NormalizedString::split`: the matches and the text between them as (range, isMatch), `invert`
    /// flipping which is which, combined per `behavior`; empty pieces dropped.
    static func splitPieces(matches: [(Int, Int)], _ s: Int, _ e: Int, behavior: SplitBehavior, invert: Bool,
                            into out: inout [(Int, Int)]) {
        if behavior == .isolated {  // every match and every gap is a piece: no need to know which is which
            var previous = s
            for (a, b) in matches {
                if previous < a { out.append((previous, a)) }
                if a < b { out.append((a, b)) }
                previous = b
            }
            if previous < e { out.append((previous, e)) }
            return
        }
        var parts: [(start: Int, end: Int, isMatch: Bool)] = []
        parts.reserveCapacity(matches.count * 2 + 1)
        var previous = s
        for (a, b) in matches {
            if previous != a { parts.append((previous, a, invert)) }
            parts.append((a, b, !invert))
            previous = b
        }
        if previous != e { parts.append((previous, e, invert)) }

        var merged: [(start: Int, end: Int)] = []
        merged.reserveCapacity(parts.count)
        switch behavior {
        case .isolated:
            for part in parts { merged.append((part.start, part.end)) }  // (handled above)
        case .removed:
            for part in parts where !part.isMatch { merged.append((part.start, part.end)) }
        case .contiguous:
            var previousMatch = false
            for part in parts {
                if part.isMatch == previousMatch, !merged.isEmpty { merged[merged.count - 1].end = part.end }
                else { merged.append((part.start, part.end)) }
                previousMatch = part.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for part in parts {
                if part.isMatch && !previousMatch, !merged.isEmpty { merged[merged.count - 1].end = part.end }
                else { merged.append((part.start, part.end)) }
                previousMatch = part.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for part in parts.reversed() {
                if part.isMatch && !previousMatch, !merged.isEmpty { merged[merged.count - 1].start = part.start }
                else { merged.append((part.start, part.end)) }
                previousMatch = part.isMatch
            }
            merged.reverse()
        }
        for m in merged where m.end > m.start { out.append((m.start, m.end)) }
    }
}

/// Reusable buffers for `PreTokenizer.pieces`, one per encode call.
struct PreTokenizerScratch {
    var current: [(Int, Int)] = []
    var next: [(Int, Int)] = []
    var matches: [(Int, Int)] = []
    var prefixed: [UInt8] = []
}
