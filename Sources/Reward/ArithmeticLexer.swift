/// One lexical unit of a step's text, as the claim finder and the expression parser see it.
struct ArithmeticToken: Equatable {
    /// What the token is.
    enum Kind: Equatable {
        case number(Rational)
        /// Digits with a leading zero (`0900`, `0130`): a 24-hour time or a code, not a quantity (`0900-0130 = 0730`
        /// is a clock subtraction, 9:00 minus 1:30). It ends an arithmetic run like a word.
        case zeroPadded(String)
        /// A literal too long to evaluate quickly (see `ArithmeticExpression.maximumLiteralDigits`), with its digit count.
        case oversizedNumber(digits: Int)
        case plus, minus, times, divide, floorDivide, power, modulo, percent
        case leftParen, rightParen, equals
        /// A run of letters (prose, a variable, a unit).
        case word(String)
        /// Any other character: punctuation that ends an arithmetic run (`,` `:` `;` `.` `<` ...).
        case other(Character)
    }

    var kind: Kind
    /// Character offsets in the text that was lexed.
    var range: Range<Int>
    /// True when whitespace separates this token from the previous one.
    var spaceBefore: Bool
    /// True when a currency sign (`$`, `€`, `£`) stands right before this token (`$2.50`): the value is money in
    /// whole units, which matters when the other side of a claim is in `cents`.
    var currencyBefore = false

    /// Numbers, operators, parentheses and `=`: the tokens an arithmetic run is made of.
    var isArithmetic: Bool {
        switch kind {
        case .word, .other, .zeroPadded: return false
        default: return true
        }
    }

    /// True for an operator token (`+ - * / ^ mod %`).
    var isOperator: Bool {
        switch kind {
        case .plus, .minus, .times, .divide, .floorDivide, .power, .modulo, .percent: return true
        default: return false
        }
    }

    /// True for a token that can end an operand (`3`, `)`, `50%`): a following operand would be juxtaposed.
    var endsOperand: Bool {
        switch kind {
        case .number, .oversizedNumber, .rightParen, .percent: return true
        default: return false
        }
    }

    /// True for a token that can start an operand (`3`, `(`).
    var startsOperand: Bool {
        switch kind {
        case .number, .oversizedNumber, .leftParen: return true
        default: return false
        }
    }
}

/// Splits text into `ArithmeticToken`s: numbers (with thousands commas and decimals), operators in ASCII and
/// common Unicode forms, parentheses, `=`, words and other characters.
enum ArithmeticLexer {
    /// Tokens of `chars[range]`; token ranges are offsets into `chars`.
    static func tokens(_ chars: [Character], in range: Range<Int>) -> [ArithmeticToken] {
        var out: [ArithmeticToken] = []
        var i = range.lowerBound
        let end = range.upperBound
        var space = false, currency = false
        func emit(_ kind: ArithmeticToken.Kind, _ from: Int, _ to: Int) {
            out.append(ArithmeticToken(kind: kind, range: from..<to, spaceBefore: space, currencyBefore: currency))
            space = false
            currency = false
        }
        while i < end {
            let c = chars[i]
            if c.isWhitespace { space = true; i += 1; continue }
            // Currency signs sit between `=` and the value in word problems (`= $50`); they carry no arithmetic.
            if c == "$" || c == "€" || c == "£" { currency = true; i += 1; continue }
            if c == "0", i + 1 < end, isDigit(chars[i + 1]) {
                var j = i
                while j < end, isDigit(chars[j]) { j += 1 }
                // A three-digit group after a spaced number is thousands (`18 000`), not a time.
                let thousandsGroup: Bool = {
                    guard j - i == 3, space, let last = out.last, case .number = last.kind else { return false }
                    return true
                }()
                if !thousandsGroup, !(j + 1 < end && chars[j] == "." && isDigit(chars[j + 1])) {
                    emit(.zeroPadded(String(chars[i..<j])), i, j)
                    i = j
                    continue
                }
            }
            if let fraction = vulgarFractions[c] {
                emit(.number(fraction), i, i + 1)
                i += 1
                continue
            }
            if isDigit(c) || (c == "." && i + 1 < end && isDigit(chars[i + 1])) {
                let (value, digits, next) = number(chars, from: i, end: end)
                emit(value.map { .number($0) } ?? .oversizedNumber(digits: digits), i, next)
                i = next
                continue
            }
            if c.isLetter {
                var j = i
                while j < end, chars[j].isLetter { j += 1 }
                let word = String(chars[i..<j])
                emit(word == "mod" ? .modulo : .word(word), i, j)
                i = j
                continue
            }
            switch c {
            case "+": emit(.plus, i, i + 1)
            case "-", "−", "–": emit(.minus, i, i + 1)
            case "*":
                if i + 1 < end, chars[i + 1] == "*" { emit(.power, i, i + 2); i += 2; continue }
                emit(.times, i, i + 1)
            case "×", "·", "⋅": emit(.times, i, i + 1)
            case "/":
                // `//` is Python's floor division: GSM8K's calculator annotations were Python (`<<560//10=56>>`).
                if i + 1 < end, chars[i + 1] == "/" { emit(.floorDivide, i, i + 2); i += 2; continue }
                emit(.divide, i, i + 1)
            case "÷", "⁄": emit(.divide, i, i + 1)
            case "^": emit(.power, i, i + 1)
            case "%": emit(.percent, i, i + 1)
            case "(": emit(.leftParen, i, i + 1)
            case ")": emit(.rightParen, i, i + 1)
            case "=": emit(.equals, i, i + 1)
            default: emit(.other(c), i, i + 1)
            }
            i += 1
        }
        mergeWrittenNumbers(&out, chars)
        markRemainders(&out)
        markWordTimes(&out)
        return out
    }

    /// `%` means two things: between two operands it is the remainder (`7%3`, `5 % 2`, `17 % (2+3)`, as in the
    /// Python of GSM8K's calculator annotations); after an operand with no operand following it is percent (`50%`,
    /// `20% * 50`, `25% of 80`). The lexer emits percent; this turns those between operands into `mod`.
    private static func markRemainders(_ tokens: inout [ArithmeticToken]) {
        guard tokens.count >= 3 else { return }
        for k in 1..<(tokens.count - 1) where tokens[k].kind == .percent {
            if tokens[k - 1].endsOperand, tokens[k + 1].startsOperand { tokens[k].kind = .modulo }
        }
    }

    /// Word problems write numbers in forms the digit scanner cannot see alone: a tight fraction after a spaced
    /// division (`60 / 3/4`, meaning 60 divided by three quarters), thousands separated by spaces (`80 000`,
    /// every group exactly three digits) and mixed numbers: a whole number, a space and a tight proper fraction
    /// (`1 1/2`), the same with `and` (`5 and 2/3`, `16 and (2/3)`, `$3 and $1/3`), or a whole number and a
    /// vulgar fraction (`1¾`, `2 ½`, `1 and ½`). Each becomes one number token.
    private static func mergeWrittenNumbers(_ tokens: inout [ArithmeticToken], _ chars: [Character]) {
        /// The integer value of a plain digit token (no decimal point, no separators, not already merged).
        func integer(_ k: Int) -> Rational? {
            guard k >= 0, k < tokens.count, case .number(let v) = tokens[k].kind,
                  chars[tokens[k].range].allSatisfy(isDigit) else { return nil }
            return v
        }
        func kind(_ k: Int) -> ArithmeticToken.Kind? { k >= 0 && k < tokens.count ? tokens[k].kind : nil }
        func tight(_ k: Int) -> Bool { k < tokens.count && !tokens[k].spaceBefore }
        /// A vulgar fraction character (`¾`) at `k`.
        func vulgar(_ k: Int) -> Rational? {
            guard k >= 0, k < tokens.count, tokens[k].range.count == 1, case .number(let v) = tokens[k].kind,
                  vulgarFractions[chars[tokens[k].range.lowerBound]] != nil else { return nil }
            return v
        }
        /// A proper fraction starting at `k` written `n/d` (tight) or `(n/d)`: its value and token count.
        func properFraction(_ k: Int) -> (Rational, Int)? {
            if let v = vulgar(k) { return (v, 1) }
            if kind(k) == .leftParen, let (v, n) = properFraction(k + 1), n == 3, kind(k + 4) == .rightParen, tight(k + 4) {
                return (v, 5)
            }
            guard let numerator = integer(k), kind(k + 1) == .divide, tight(k + 1), tight(k + 2),
                  let denominator = integer(k + 2), numerator < denominator,
                  !([.divide, .power].contains(kind(k + 3)) && tight(k + 3)) else { return nil }
            return (numerator.divided(by: denominator) ?? .zero, 3)
        }

        var k = 0
        while k < tokens.count {
            guard let whole = integer(k) else { k += 1; continue }
            var merged: (value: Rational, count: Int)?
            if kind(k - 1) == .divide, tokens[k].spaceBefore, kind(k + 1) == .divide, tight(k + 1), tight(k + 2),
               let denominator = integer(k + 2), !denominator.isZero,
               !([.divide, .power].contains(kind(k + 3)) && tight(k + 3)) {
                // `60 / 3/4`
                merged = (whole.divided(by: denominator) ?? .zero, 3)
            } else if tokens[k].range.count <= 3, integer(k + 1) != nil, !tight(k + 1), tokens[k + 1].range.count == 3 {
                // `80 000`, `1 250 000`
                var value = whole, count = 1
                while let group = integer(k + count), !tight(k + count), tokens[k + count].range.count == 3 {
                    value = value * Rational(1000) + group
                    count += 1
                }
                merged = (value, count)
            } else if kind(k - 1) != .divide, let numerator = integer(k + 1), !tight(k + 1), kind(k + 2) == .divide,
                      tight(k + 2), tight(k + 3), let denominator = integer(k + 3), numerator < denominator,
                      kind(k + 4) != .divide {
                // `1 1/2`
                merged = (whole + (numerator.divided(by: denominator) ?? .zero), 4)
            } else if kind(k - 1) != .divide, let fraction = vulgar(k + 1) {
                // `1¾`, `2 ½`
                merged = (whole + fraction, 2)
            } else if kind(k - 1) != .divide, kind(k + 1) == .word("and"), let (fraction, n) = properFraction(k + 2),
                      kind(k + 2 + n) != .word("of") {
                // `5 and 2/3`, `16 and (2/3)`, `1 and ½`; not `2 and 1/2 of 4`, where the fraction takes a part
                merged = (whole + fraction, 2 + n)
            }
            if let (value, count) = merged {
                let range = tokens[k].range.lowerBound..<tokens[k + count - 1].range.upperBound
                tokens.replaceSubrange(k..<(k + count), with: [ArithmeticToken(kind: .number(value), range: range,
                                                                               spaceBefore: tokens[k].spaceBefore,
                                                                               currencyBefore: tokens[k].currencyBefore)])
            }
            k += 1
        }
    }

    /// Word problems write multiplication as a spaced `x` between operands (`0.2 x 50`). Only that exact shape
    /// is read as a product: `3x`, `x = 5` and `x - 5` keep `x` as a variable.
    private static func markWordTimes(_ tokens: inout [ArithmeticToken]) {
        guard tokens.count >= 3 else { return }
        for k in 1..<(tokens.count - 1) where tokens[k].kind == .word("x") {
            if tokens[k].spaceBefore, tokens[k + 1].spaceBefore,
               tokens[k - 1].endsOperand, tokens[k + 1].startsOperand {
                tokens[k].kind = .times
            }
        }
    }

    /// A number starting at `start`: digits with optional thousands groups (`1,000`, only when each group is
    /// exactly three digits) and an optional fraction (`2.50`, `.5`). Returns the value, its digit count and the
    /// end offset. The value is nil when the literal has more than `ArithmeticExpression.maximumLiteralDigits` digits.
    private static func number(_ chars: [Character], from start: Int, end: Int) -> (Rational?, Int, Int) {
        var i = start
        var digits = ""
        while i < end, isDigit(chars[i]) { digits.append(chars[i]); i += 1 }
        if !digits.isEmpty && digits.count <= 3 {
            while i + 3 < end, chars[i] == ",", isDigit(chars[i + 1]), isDigit(chars[i + 2]), isDigit(chars[i + 3]),
                  i + 4 == end || !isDigit(chars[i + 4]) {
                digits += String(chars[(i + 1)...(i + 3)])
                i += 4
            }
        }
        if i + 1 < end, chars[i] == ".", isDigit(chars[i + 1]) {
            digits.append(".")
            i += 1
            while i < end, isDigit(chars[i]) { digits.append(chars[i]); i += 1 }
        }
        let digitCount = digits.utf8.count - (digits.contains(".") ? 1 : 0)
        guard digitCount <= ArithmeticExpression.maximumLiteralDigits else { return (nil, digitCount, i) }
        // The loops above only admit ASCII digits and one dot, so the literal always parses.
        return (Rational(decimal: digits) ?? .zero, digitCount, i)
    }

    /// Unicode's vulgar fractions (`¾`, `½`, `⅓`, ...), which word problems type as one character (`¼ * 24 = 6`).
    static let vulgarFractions: [Character: Rational] = [
        "¼": Rational(1, 4), "½": Rational(1, 2), "¾": Rational(3, 4), "⅐": Rational(1, 7), "⅑": Rational(1, 9),
        "⅒": Rational(1, 10), "⅓": Rational(1, 3), "⅔": Rational(2, 3), "⅕": Rational(1, 5), "⅖": Rational(2, 5),
        "⅗": Rational(3, 5), "⅘": Rational(4, 5), "⅙": Rational(1, 6), "⅚": Rational(5, 6), "⅛": Rational(1, 8),
        "⅜": Rational(3, 8), "⅝": Rational(5, 8), "⅞": Rational(7, 8),
    ]

    /// ASCII digits only: other Unicode numerals are prose, not arithmetic.
    static func isDigit(_ c: Character) -> Bool {
        guard let a = c.asciiValue else { return false }
        return a >= 48 && a <= 57
    }
}
