// The hand-written matchers for the GPT-2, Llama 3 and Qwen2 split regexes (see SplitPattern).

// MARK: - GPT-2

/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, alternative by alternative.
enum GPT2Matcher {
    static func matches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [(Int, Int)]) {
        var i = start
        while i < end {
            let (c, len) = UTF8Scalars.decode(p, i)
            // 's|'t|'re|'ve|'m|'ll|'d
            if c == 0x27, let n = ScalarRuns.contraction(p, i + 1, end, caseInsensitive: false) {
                out.append((i, i + 1 + n)); i += 1 + n; continue
            }
            var cls = ScalarClass.of(c)
            var j = i + len
            // " ?X+" for X in letters, numbers, others: a literal space joins the run that follows it.
            if c == 0x20, j < end {
                let (c2, len2) = UTF8Scalars.decode(p, j)
                let cls2 = ScalarClass.of(c2)
                if cls2 != ScalarClass.space { cls = cls2; j += len2 }
            }
            if cls != ScalarClass.space {
                j = ScalarRuns.run(of: cls, p, j, end)
                out.append((i, j)); i = j; continue
            }
            // \s+(?!\S) | \s+
            let (runEnd, lastStart) = ScalarRuns.whitespaceRun(p, i, end)
            let stop = runEnd == end || lastStart == i ? runEnd : lastStart
            out.append((i, stop)); i = stop
        }
    }
}

// MARK: - Llama 3 / Qwen2

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
enum Llama3Matcher {
    static func matches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, maxDigits: Int,
                        into out: inout [(Int, Int)]) {
        var i = start
        while i < end {
            let (c, len) = UTF8Scalars.decode(p, i)
            if c == 0x27, let n = ScalarRuns.contraction(p, i + 1, end, caseInsensitive: true) {
                out.append((i, i + 1 + n)); i += 1 + n; continue
            }
            let cls = ScalarClass.of(c)
            let isNewline = c == 0x0A || c == 0x0D
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if cls == ScalarClass.letter {
                let j = ScalarRuns.run(of: ScalarClass.letter, p, i + len, end)
                out.append((i, j)); i = j; continue
            }
            if cls != ScalarClass.number, !isNewline, i + len < end,
               ScalarClass.of(UTF8Scalars.decode(p, i + len).value) == ScalarClass.letter {
                let j = ScalarRuns.run(of: ScalarClass.letter, p, i + len, end)
                out.append((i, j)); i = j; continue
            }
            // \p{N}{1,maxDigits}
            if cls == ScalarClass.number {
                var j = i + len, count = 1
                while count < maxDigits, j < end {
                    let (c2, len2) = UTF8Scalars.decode(p, j)
                    guard ScalarClass.of(c2) == ScalarClass.number else { break }
                    j += len2; count += 1
                }
                out.append((i, j)); i = j; continue
            }
            // " ?[^\s\p{L}\p{N}]+[\r\n]*"
            var othersStart = -1
            if cls == ScalarClass.other {
                othersStart = i
            } else if c == 0x20, i + 1 < end, ScalarClass.of(UTF8Scalars.decode(p, i + 1).value) == ScalarClass.other {
                othersStart = i + 1
            }
            if othersStart >= 0 {
                var j = ScalarRuns.run(of: ScalarClass.other, p, othersStart, end)
                while j < end, p[j] == 0x0A || p[j] == 0x0D { j += 1 }
                out.append((i, j)); i = j; continue
            }
            // Whitespace: \s*[\r\n]+ ends after the run's last newline; else \s+(?!\S) | \s+.
            let (runEnd, lastStart) = ScalarRuns.whitespaceRun(p, i, end)
            var lastNewline = -1
            var k = runEnd - 1
            while k >= i {
                if p[k] == 0x0A || p[k] == 0x0D { lastNewline = k; break }
                k -= 1
            }
            let stop: Int
            if lastNewline >= 0 {
                stop = lastNewline + 1
            } else {
                stop = runEnd == end || lastStart == i ? runEnd : lastStart
            }
            out.append((i, stop)); i = stop
        }
    }
}

/// Runs of one scalar class and the contraction suffixes, shared by the matchers.
enum ScalarRuns {
    /// The end of the run of scalars of class `cls` starting at `i`.
    @inline(__always)
    static func run(of cls: UInt8, _ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end {
            let b = p[j]
            if b < 0x80 {
                if ScalarClass.of(UInt32(b)) != cls { break }
                j += 1
            } else {
                let (c, len) = UTF8Scalars.decode(p, j)
                if ScalarClass.of(c) != cls { break }
                j += len
            }
        }
        return j
    }

    /// The end of the whitespace run starting at `i`, and where its last scalar starts.
    @inline(__always)
    static func whitespaceRun(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> (end: Int, lastStart: Int) {
        var j = i, last = i
        while j < end {
            let (c, len) = UTF8Scalars.decode(p, j)
            if ScalarClass.of(c) != ScalarClass.space { break }
            last = j
            j += len
        }
        return (j, last)
    }

    /// The byte length of `s|t|re|ve|m|ll|d` at `i` (after an apostrophe), or nil. Case-insensitive matching
    /// follows Unicode case folding, under which `ſ` (U+017F) is an `s`.
    @inline(__always)
    static func contraction(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int? {
        guard i < end else { return nil }
        func lower(_ b: UInt8) -> UInt8 { caseInsensitive && b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
        let a = lower(p[i])
        switch a {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return i + 1 < end && lower(p[i + 1]) == UInt8(ascii: "e") ? 2 : nil
        case UInt8(ascii: "l"):
            return i + 1 < end && lower(p[i + 1]) == UInt8(ascii: "l") ? 2 : nil
        case 0xC5 where caseInsensitive:
            return i + 1 < end && p[i + 1] == 0xBF ? 2 : nil  // ſ
        default: return nil
        }
    }
}
