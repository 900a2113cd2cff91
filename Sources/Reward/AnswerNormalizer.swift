/// Puts final answers into a canonical form so that equal answers compare equal.
///
/// The LaTeX rules follow the MATH benchmark's reference normaliser (Hendrycks et al. 2021, `_strip_string`):
/// `\dfrac`/`\tfrac` become `\frac`, `\left`/`\right` go, spaces go, `\frac12` becomes `\frac{1}{2}`, and so on.
/// Numeric answers are also compared by exact value, so `1,000`, `1000` and `1000.0` agree, as do `0.5`,
/// `1/2` and `\frac{1}{2}`.
public enum AnswerNormalizer {
    /// The canonical text of an answer (see the type's summary for the rules, applied in order):
    /// trim; drop `\!` `\,` `\;` `\:` and escaped spaces; `\dfrac`/`\tfrac` to `\frac`; drop `\left`/`\right`
    /// before a delimiter; drop degree marks, `\$`, `$`, `\%`; `\text{X}`/`\textbf{X}`/`\mbox{X}` to `X`; drop
    /// whitespace; drop trailing periods; a short `v=` prefix (`x=5` to `5`); `\sqrt3` to `\sqrt{3}`;
    /// `\frac12` to `\frac{1}{2}`; a leading `.5` to `0.5`.
    public static func normalize(_ answer: String) -> String {
        var s = answer.trimmingWhitespace().text
        for thin in ["\\!", "\\,", "\\;", "\\:", "\\ "] { s = s.replacingAll(thin, with: "") }
        s = s.replacingAll("\\dfrac", with: "\\frac").replacingAll("\\tfrac", with: "\\frac")
        s = removeSizedDelimiters(s)
        for mark in ["^{\\circ}", "^\\circ", "\\$", "$", "\\%"] { s = s.replacingAll(mark, with: "") }
        for command in ["\\textbf", "\\text", "\\mbox", "\\mathrm"] { s = unwrap(command, in: s) }
        s = String(s.filter { !$0.isWhitespace })
        while s.hasSuffix(".") { s.removeLast() }
        // `x=5`, `k=3`: the variable name is not part of the answer (Hendrycks: at most two characters before `=`).
        let sides = s.split(separator: "=", omittingEmptySubsequences: false)
        if sides.count == 2, sides[0].count <= 2, !sides[1].isEmpty { s = String(sides[1]) }
        s = bracedArguments(of: "\\sqrt", count: 1, in: s)
        s = bracedArguments(of: "\\frac", count: 2, in: s)
        if s.hasPrefix(".") { s = "0" + s }
        if s.hasPrefix("-.") { s = "-0" + s.dropFirst() }
        return s
    }

    /// The exact value of an answer that is a number: an integer or decimal (thousands commas allowed), a
    /// fraction `a/b`, `\frac{a}{b}`, with an optional sign. Nil for anything else (expressions, tuples, words).
    public static func numericValue(_ answer: String) -> Rational? {
        var s = normalize(answer)
        if s.hasPrefix("\\frac{") || s.hasPrefix("-\\frac{") {
            // \frac{a}{b} with plain numbers only; anything richer is not a single number.
            let negative = s.hasPrefix("-")
            let body = s.dropFirst(negative ? 7 : 6)
            let parts = body.split(separator: "}", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1].hasPrefix("{"), parts[2].isEmpty else { return nil }
            s = (negative ? "-" : "") + "(" + parts[0] + ")/(" + parts[1].dropFirst() + ")"
        }
        guard !s.isEmpty, s.allSatisfy({ ArithmeticLexer.isDigit($0) || "+-./(),".contains($0) }) else { return nil }
        // A comma is only a thousands separator (`1,000`); `1,2` is a list, not a number.
        if s.contains(",") {
            let groups = s.split(separator: ",", omittingEmptySubsequences: false)
            guard groups.dropFirst().allSatisfy({ $0.count == 3 || ($0.count > 3 && $0.dropFirst(3).first == ".") }),
                  let lead = groups.first, (1...3).contains(lead.filter(ArithmeticLexer.isDigit).count) else { return nil }
            s = s.replacingAll(",", with: "")
        }
        return try? ArithmeticExpression.evaluate(s)
    }

    /// True when two answers agree: equal canonical text, equal exact value, or (for plain words) equal
    /// ignoring case (`Odd` and `odd`).
    public static func equivalent(_ a: String, _ b: String) -> Bool {
        let x = normalize(a), y = normalize(b)
        if x == y { return true }
        if let u = numericValue(a), let v = numericValue(b) { return u == v }
        if !x.contains("\\") && !y.contains("\\") { return x.lowercased() == y.lowercased() }
        return false
    }

    /// Removes `\left` and `\right` when a delimiter follows (`\left(`, `\right\}`, `\left.`), but not inside a
    /// longer command such as `\leftarrow` or `\rightarrow`.
    static func removeSizedDelimiters(_ s: String) -> String {
        let chars = Array(s)
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            var matched = false
            for command in ["\\left", "\\right"] {
                let c = Array(command)
                if i + c.count <= chars.count, Array(chars[i..<(i + c.count)]) == c,
                   i + c.count == chars.count || !chars[i + c.count].isLetter {
                    i += c.count
                    matched = true
                    break
                }
            }
            if !matched { out.append(chars[i]); i += 1 }
        }
        return String(out)
    }

    /// Replaces `\command{X}` by `X` (nested braces inside X are kept).
    static func unwrap(_ command: String, in s: String) -> String {
        let chars = Array(s), c = Array(command)
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            if i + c.count < chars.count, Array(chars[i..<(i + c.count)]) == c, chars[i + c.count] == "{",
               let close = matchingBrace(chars, open: i + c.count) {
                out += chars[(i + c.count + 1)..<close]
                i = close + 1
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return String(out)
    }

    /// Adds the braces LaTeX lets writers omit around one-character arguments: `\frac12` to `\frac{1}{2}`,
    /// `\frac1{b}` to `\frac{1}{b}`, `\sqrt3` to `\sqrt{3}`.
    static func bracedArguments(of command: String, count: Int, in s: String) -> String {
        let chars = Array(s), c = Array(command)
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            guard i + c.count <= chars.count, Array(chars[i..<(i + c.count)]) == c,
                  i + c.count == chars.count || !chars[i + c.count].isLetter else {
                out.append(chars[i])
                i += 1
                continue
            }
            out += c
            i += c.count
            for _ in 0..<count where i < chars.count {
                if chars[i] == "{", let close = matchingBrace(chars, open: i) {
                    out += chars[i...close]
                    i = close + 1
                } else if chars[i] == "\\" {
                    // A command argument (`\frac\pi2`): leave the rest as written.
                    break
                } else {
                    out += ["{", chars[i], "}"]
                    i += 1
                }
            }
        }
        return String(out)
    }

    /// Index of the `}` matching the `{` at `open`, or nil when unbalanced.
    static func matchingBrace(_ chars: [Character], open: Int) -> Int? {
        var depth = 0
        for k in open..<chars.count {
            if chars[k] == "{" { depth += 1 }
            if chars[k] == "}" { depth -= 1; if depth == 0 { return k } }
        }
        return nil
    }
}

extension String {
    /// Every occurrence of `target` replaced by `replacement`.
    func replacingAll(_ target: String, with replacement: String) -> String {
        replacing(target, with: replacement)
    }
}
