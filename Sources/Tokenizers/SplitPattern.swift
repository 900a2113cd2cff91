import Foundation

/// A pre-tokenizer pattern: where its matches are in a piece of text. The GPT-2, Llama 3 and Qwen2 regexes
/// (recognised by their exact text) have hand-written matchers over Unicode scalars, several times faster
/// than a regex engine; any other regex runs on ICU through NSRegularExpression, and a `String` pattern is
/// a literal. HF runs these regexes on Oniguruma: both engines backtrack the same way for these patterns
/// (`\s+(?!\S)` gives back the last whitespace character so a following word keeps its space) and read
/// `\s`, `\p{L}`, `\p{N}` and `(?i)` (which folds `ſ` to `s`) alike.
enum SplitPattern {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// The Llama 3 regex (`maxDigits` 3) or Qwen2's (`maxDigits` 1, `\p{N}` instead of `\p{N}{1,3}`).
    case llama3(maxDigits: Int)
    /// A literal string.
    case literal([UInt8])
    /// Any other regex.
    case regex(NSRegularExpression)

    static let gpt2Text = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Text = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Text = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The pattern for a `Split` regex: a hand-written matcher when the text is one we know, else ICU.
    static func regex(_ text: String) throws -> SplitPattern {
        switch text {
        case gpt2Text: return .gpt2
        case llama3Text: return .llama3(maxDigits: 3)
        case qwen2Text: return .llama3(maxDigits: 1)
        default: return .regex(try NSRegularExpression(pattern: text))
        }
    }

    /// Appends the matches in `p[start..<end]` (absolute offsets, in order, not overlapping) to `out`.
    func matches(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into out: inout [(Int, Int)]) {
        switch self {
        case .gpt2: GPT2Matcher.matches(p, start, end, into: &out)
        case .llama3(let maxDigits): Llama3Matcher.matches(p, start, end, maxDigits: maxDigits, into: &out)
        case .literal(let needle): SplitPattern.literalMatches(needle, p, start, end, into: &out)
        case .regex(let re): SplitPattern.regexMatches(re, p, start, end, into: &out)
        }
    }

    private static func literalMatches(_ needle: [UInt8], _ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                       into out: inout [(Int, Int)]) {
        guard !needle.isEmpty, end - start >= needle.count else { return }
        var i = start
        while i + needle.count <= end {
            var k = 0
            while k < needle.count, p[i + k] == needle[k] { k += 1 }
            if k == needle.count {
                out.append((i, i + k))
                i += k
            } else {
                i += 1
            }
        }
    }

    private static func regexMatches(_ re: NSRegularExpression, _ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                     into out: inout [(Int, Int)]) {
        guard end > start else { return }
        let text = String(decoding: UnsafeBufferPointer(rebasing: p[start..<end]), as: UTF8.self)
        // UTF-16 offset -> UTF-8 offset, for mapping NSRange back onto our bytes.
        var utf8At = [Int](repeating: 0, count: text.utf16.count + 1)
        var u16 = 0, u8 = 0
        for scalar in text.unicodeScalars {
            let n16 = scalar.utf16.count, n8 = scalar.utf8.count
            for k in 0..<n16 { utf8At[u16 + k] = u8 }
            u16 += n16
            u8 += n8
        }
        utf8At[u16] = u8
        for m in re.matches(in: text, range: NSRange(location: 0, length: u16)) {
            out.append((start + utf8At[m.range.location], start + utf8At[m.range.location + m.range.length]))
        }
    }
}
