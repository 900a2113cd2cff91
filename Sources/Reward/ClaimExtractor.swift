/// Finds the arithmetic claims in one step of a reasoning trace.
///
/// Two kinds are read:
/// - GSM8K calculator annotations `<<expr=value>>`. When a step has any, they are its claims and the prose
///   around them is not read: GSM8K writes each computation twice (`48/2 = <<48/2=24>>24`), and the
///   annotation is the machine-checkable copy.
/// - Inline equations in the text: maximal runs of numbers, operators, parentheses and `=`, split at `=` into
///   a chain. Words end a run, so `3 hours = 180 minutes` claims nothing. A chain of bare numbers only
///   (`Step 1 = 5`, `half of 48 = 24` read as `48 = 24`) is a restatement, not a computation, and is skipped;
///   a bare number right after a word is that word's object (`10% of 150 = 75 + 15` claims `75 + 15 = ...` only).
///   Sides that touch a one-letter variable (`3x + 5 = 20`, `x - 5 = 10`, `15 = 3x`) are symbolic and
///   skipped; the numeric links of the same chain still count (`3x = 20 - 5 = 15` claims `20 - 5 = 15`).
public struct ClaimExtractor: Sendable {
    /// Which kinds of claim to read.
    public var kinds: Set<ArithmeticClaim.Kind>

    /// An extractor reading the given kinds (both by default).
    public init(kinds: Set<ArithmeticClaim.Kind> = [.calculator, .inline]) {
        self.kinds = kinds
    }

    /// The claims of `step`, in text order.
    public func claims(in step: String) -> [ArithmeticClaim] {
        let chars = Array(step)
        let annotations = Self.annotations(chars)
        if !annotations.isEmpty {
            guard kinds.contains(.calculator) else { return [] }
            return annotations.flatMap { Self.annotationClaims(chars, content: $0) }
        }
        guard kinds.contains(.inline) else { return [] }
        return Self.inlineClaims(chars)
    }

    // MARK: - Calculator annotations

    /// Content ranges (between `<<` and `>>`) of every annotation in the text.
    static func annotations(_ chars: [Character]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i + 1 < chars.count {
            guard chars[i] == "<", chars[i + 1] == "<" else { i += 1; continue }
            var j = i + 2
            while j + 1 < chars.count, !(chars[j] == ">" && chars[j + 1] == ">") { j += 1 }
            guard j + 1 < chars.count else { break }
            out.append((i + 2)..<j)
            i = j + 2
        }
        return out
    }

    /// The claims of one annotation: every side must parse; a side that does not is kept (and later reported
    /// as undefined) because an annotation always asserts something.
    static func annotationClaims(_ chars: [Character], content: Range<Int>) -> [ArithmeticClaim] {
        let tokens = ArithmeticLexer.tokens(chars, in: content)
        let segments = split(tokens[...])
        guard segments.count >= 2 else {
            // `<<48/2>>` asserts a value without stating it: report it as a claim whose right side is missing.
            let text = String(chars[content])
            return [ArithmeticClaim(kind: .calculator, lhs: text, rhs: "", span: content,
                                    left: ArithmeticExpression(tokens: tokens[...], text: text), right: nil)]
        }
        var claims: [ArithmeticClaim] = []
        for k in 0..<(segments.count - 1) {
            let a = segments[k], b = segments[k + 1]
            let aText = text(chars, a), bText = text(chars, b)
            let lo = a.first?.range.lowerBound ?? content.lowerBound
            let hi = b.last?.range.upperBound ?? content.upperBound
            claims.append(ArithmeticClaim(kind: .calculator, lhs: aText, rhs: bText, span: lo..<max(lo, hi),
                                          left: ArithmeticExpression(tokens: a, text: aText),
                                          right: ArithmeticExpression(tokens: b, text: bText)))
        }
        return claims
    }

    // MARK: - Inline equations

    static func inlineClaims(_ chars: [Character]) -> [ArithmeticClaim] {
        let tokens = ArithmeticLexer.tokens(chars, in: 0..<chars.count)
        var claims: [ArithmeticClaim] = []
        var k = 0
        while k < tokens.count {
            guard tokens[k].isArithmetic else { k += 1; continue }
            let start = k
            k += 1
            // Two operands separated only by space (`2019 5 + 3`) are not one expression: end the run there. A
            // parenthesis that goes on with an operator (`1/2 (68) + 10`) is a product, written as on paper.
            while k < tokens.count, tokens[k].isArithmetic,
                  !(tokens[k].spaceBefore && tokens[k - 1].endsOperand && tokens[k].startsOperand)
                    || implicitProduct(tokens, at: k) {
                k += 1
            }
            claims += runClaims(chars, tokens, run: start..<k)
        }
        return claims
    }

    /// True when `tokens[k]` is a spaced `(` after an operand whose group is one number and is followed by a binary
    /// operator: `1/2 (68) + 10` multiplies. A group followed by `=` or prose stays apart (`12 (6 + 6) = 12` claims
    /// `6 + 6 = 12`), since prose puts a computation in parentheses after a number as often as a factor.
    private static func implicitProduct(_ tokens: [ArithmeticToken], at k: Int) -> Bool {
        guard k > 0, k < tokens.count, tokens[k].kind == .leftParen, tokens[k].spaceBefore, tokens[k - 1].endsOperand
        else { return false }
        var depth = 0, j = k
        while j < tokens.count, tokens[j].isArithmetic, tokens[j].kind != .equals {
            if tokens[j].kind == .leftParen { depth += 1 }
            if tokens[j].kind == .rightParen {
                depth -= 1
                if depth == 0 { break }
            }
            j += 1
        }
        // one number in the group (`(68)`): a group that computes (`24 (12 x 2) - 4 = 20`) is a breakdown, not a factor
        guard j == k + 2, j + 1 < tokens.count, depth == 0, tokens[j].kind == .rightParen else { return false }
        switch tokens[j + 1].kind {
        case .plus, .minus, .times, .divide, .floorDivide, .power, .modulo: return true
        default: return false
        }
    }

    /// The claims of one arithmetic run `tokens[run]`.
    private static func runClaims(_ chars: [Character], _ tokens: [ArithmeticToken], run: Range<Int>) -> [ArithmeticClaim] {
        let all = tokens[run]
        guard all.contains(where: { $0.kind == .equals }) else { return [] }
        var segments: [ArraySlice<ArithmeticToken>?] = split(all).map { $0 }
        let last = segments.count - 1

        // First side: prose may open a parenthesis before the claim (`(3 + 4 = 7)`): start after it.
        var firstIsProseObject = false
        if let first = segments[0] {
            let cut = afterLastUnmatchedOpen(first)
            if cut.startIndex == first.startIndex {
                switch proseBefore(tokens, runStart: run.lowerBound) {
                case .continues: segments[0] = nil
                case .objectOfWord: firstIsProseObject = true; segments[0] = balanced(cut) ? cut : nil
                case .none: segments[0] = balanced(cut) ? cut : nil
                }
            } else {
                segments[0] = balanced(cut) ? cut : nil
            }
        }
        // Last side: stop before a parenthesis that closes prose (`(3 + 4 = 7)`).
        if let final = segments[last] {
            let cut = beforeFirstUnmatchedClose(final)
            if cut.endIndex == final.endIndex, variableAfter(tokens, runEnd: run.upperBound) {
                segments[last] = nil
            } else {
                segments[last] = balanced(cut) ? cut : nil
            }
        }
        for m in 1..<last where !(segments[m].map(balanced) ?? false) { segments[m] = nil }

        let expressions: [(ArithmeticExpression, ArraySlice<ArithmeticToken>)?] = segments.map { seg in
            guard let seg, !seg.isEmpty else { return nil }
            let t = text(chars, seg)
            return ArithmeticExpression(tokens: seg, text: t).map { ($0, seg) }
        }
        // `6 = 7` alone is a restatement; inside a computed chain (`2 * 3 = 6 = 7`) it is a claim.
        let computes = expressions.contains { $0.map { !$0.0.isPlainNumber } ?? false }
        var claims: [ArithmeticClaim] = []
        for m in 0..<last {
            guard let (a, aTokens) = expressions[m], let (b, bTokens) = expressions[m + 1] else { continue }
            if a.isPlainNumber && b.isPlainNumber && !computes { continue }
            // `10% of 150 = 75 + 15`, `Remaining 10 = 62,300/10`: a bare number right after a word belongs to
            // the sentence, not to the equation.
            if m == 0 && firstIsProseObject && a.isPlainNumber { continue }
            // `48 = 100% + 20%`: a number set against a sum of percentages says which share it is (48 is 120% of
            // something), not that 48 equals 1.2.
            if (a.isPlainNumber && !a.usesPercent && b.isPercentSum)
                || (b.isPlainNumber && !b.usesPercent && a.isPercentSum) { continue }
            let span = aTokens.first!.range.lowerBound..<bTokens.last!.range.upperBound
            var claim = ArithmeticClaim(kind: .inline, lhs: a.description, rhs: b.description, span: span,
                                        left: a, right: b)
            claim.rightContinues = m + 1 < last && expressions[m + 2] != nil
            if m + 1 == last, segments[last]?.endIndex == run.upperBound {
                let after = unitAfter(tokens, runEnd: run.upperBound)
                if after.cents, !bTokens.contains(where: \.currencyBefore), aTokens.contains(where: \.currencyBefore) {
                    claim = ArithmeticClaim(kind: .inline, lhs: a.description, rhs: b.description + " cents", span: span,
                                            left: a, right: b)
                    claim.rightInCents = true
                }
                if Self.approximationAfter(tokens, runEnd: run.upperBound) { claim.rightIsApproximate = true }
                if let r = after.remainder, case .binary(.divide, _, _) = a.root, b.isPlainNumber {
                    claim = ArithmeticClaim(kind: .inline, lhs: a.description,
                                            rhs: b.description + " remainder " + r.displayString, span: span,
                                            left: a, right: b)
                    claim.remainder = r
                }
            }
            claims.append(claim)
        }
        return claims
    }

    /// True when the text marks the run's last value as approximate: an ellipsis right after it (`10.33...`), or a
    /// word of rounding in the same clause (`33.333%, which rounds down to 33%`, `3.33 approximately`).
    private static func approximationAfter(_ tokens: [ArithmeticToken], runEnd: Int) -> Bool {
        let dots = tokens[runEnd..<min(tokens.count, runEnd + 3)]
        if dots.first?.kind == .other("…") && dots.first?.spaceBefore == false { return true }
        if dots.count == 3, dots.allSatisfy({ $0.kind == .other(".") && !$0.spaceBefore }) { return true }
        var k = runEnd
        while k < min(tokens.count, runEnd + 6) {
            switch tokens[k].kind {
            case .word(let w):
                let word = w.lowercased()
                if word.hasPrefix("round") || word.hasPrefix("approx") { return true }
            case .other(","): break
            default: return false
            }
            k += 1
        }
        return false
    }

    /// What the words right after a run say about its last value: `cents` (`$1 / 2 = 50 cents`), or a remainder
    /// stated in the same clause (`13 / 6 = 2 full cycles with a remainder of 1 hour`, up to eight words on).
    private static func unitAfter(_ tokens: [ArithmeticToken], runEnd: Int) -> (cents: Bool, remainder: Rational?) {
        guard runEnd < tokens.count, case .word(let first) = tokens[runEnd].kind else { return (false, nil) }
        let cents = first.lowercased() == "cents" || first.lowercased() == "cent"
        var k = runEnd, words = 0
        while k < tokens.count, case .word(let w) = tokens[k].kind, words < 8 {
            if w.lowercased() == "remainder" {
                var j = k + 1
                if j < tokens.count, tokens[j].kind == .word("of") { j += 1 }
                if j < tokens.count, case .number(let r) = tokens[j].kind,
                   !(j + 1 < tokens.count && tokens[j + 1].isArithmetic && tokens[j + 1].kind != .rightParen) {
                    return (cents, r)
                }
                return (cents, nil)
            }
            k += 1
            words += 1
        }
        return (cents, nil)
    }

    /// How the text before a run bears on the run's first side.
    private enum ProseBefore {
        /// No bearing.
        case none
        /// The first side continues something that is not arithmetic: `3x + 5`, `x - 5`, `10 points + 14`,
        /// `f(3)`, `D3 = ...`, the `00` of `6:00`.
        case continues
        /// A word precedes the run: a bare first number is that word's object (`of 150 = ...`).
        case objectOfWord
    }

    private static func proseBefore(_ tokens: [ArithmeticToken], runStart: Int) -> ProseBefore {
        guard runStart > 0 else { return .none }
        let prev = tokens[runStart - 1], first = tokens[runStart]
        switch prev.kind {
        case .word(let w):
            let tight = !first.spaceBefore
            if first.isOperator {
                // `is -5 + 3 = -2` starts with a negative number; `points + 14` and `x - 5` continue the prose.
                let negativeNumber = first.kind == .minus && runStart + 1 < tokens.count
                    && !tokens[runStart + 1].spaceBefore && { if case .number = tokens[runStart + 1].kind { return true }; return false }()
                return (w.count == 1 || tight || !negativeNumber) ? .continues : .objectOfWord
            }
            if tight { return .continues }
            return .objectOfWord
        case .other:
            // A number glued to punctuation (`6:00`, `16,0000`) is part of a time or a typo, not a claim.
            if !first.spaceBefore, case .number = first.kind { return .continues }
            return .none
        case .zeroPadded:
            // `6:00+48`, `0900-0130`: what follows a clock time continues it.
            return first.spaceBefore ? .objectOfWord : .continues
        default:
            return .none
        }
    }

    /// A one-letter word touching the end of the run (`= 3x`): the last side is symbolic.
    private static func variableAfter(_ tokens: [ArithmeticToken], runEnd: Int) -> Bool {
        guard runEnd < tokens.count, case .word(let w) = tokens[runEnd].kind else { return false }
        return w.count == 1 && !tokens[runEnd].spaceBefore
    }

    // MARK: - Helpers

    /// Splits at `=` tokens (keeping empty sides, so `= 5` has an empty first side).
    static func split(_ tokens: ArraySlice<ArithmeticToken>) -> [ArraySlice<ArithmeticToken>] {
        var out: [ArraySlice<ArithmeticToken>] = []
        var start = tokens.startIndex
        for k in tokens.indices where tokens[k].kind == .equals {
            out.append(tokens[start..<k])
            start = k + 1
        }
        out.append(tokens[start..<tokens.endIndex])
        return out
    }

    private static func afterLastUnmatchedOpen(_ s: ArraySlice<ArithmeticToken>) -> ArraySlice<ArithmeticToken> {
        var depth = 0
        for k in s.indices.reversed() {
            switch s[k].kind {
            case .rightParen: depth += 1
            case .leftParen:
                if depth == 0 { return s[(k + 1)...] }
                depth -= 1
            default: break
            }
        }
        return s
    }

    private static func beforeFirstUnmatchedClose(_ s: ArraySlice<ArithmeticToken>) -> ArraySlice<ArithmeticToken> {
        var depth = 0
        for k in s.indices {
            switch s[k].kind {
            case .leftParen: depth += 1
            case .rightParen:
                if depth == 0 { return s[..<k] }
                depth -= 1
            default: break
            }
        }
        return s
    }

    private static func balanced(_ s: ArraySlice<ArithmeticToken>) -> Bool {
        var depth = 0
        for t in s {
            if t.kind == .leftParen { depth += 1 }
            if t.kind == .rightParen { depth -= 1; if depth < 0 { return false } }
        }
        return depth == 0
    }

    /// The source text covered by `tokens` (trimmed to the tokens themselves).
    private static func text(_ chars: [Character], _ tokens: ArraySlice<ArithmeticToken>) -> String {
        guard let f = tokens.first, let l = tokens.last else { return "" }
        return String(chars[f.range.lowerBound..<l.range.upperBound])
    }
}
