/// A parsed arithmetic expression over exact rationals: integers, decimals, `+ - * / ^ mod %`, parentheses.
///
/// Precedence, loosest first: `+ -`; `* / // mod` and juxtaposition (`2(3+4)`, `1/2 (68)`); unary `-`;
/// `^` (right-associative, so `-2^2 = -4` and `2^3^2 = 512`); postfix `%` (divide by 100). `mod` is the
/// mathematical remainder, taking the modulus's sign; `//` is floor division (as in Python, which GSM8K's
/// calculator annotations were written in).
///
/// `%` is read by context. Between two operands it is the remainder, like `mod` and Python's `%`:
/// `7%3 = 1`, `5 % 2 = 1`, `17 % (2+3) = 2`. After an operand with no operand right after it, it is percent:
/// `50% = 1/2`, `20% * 50 = 10`, `20% - 5% = 3/20`, `25% of 80`.
public struct ArithmeticExpression: Sendable, CustomStringConvertible {
    /// The expression tree.
    indirect enum Node: Sendable {
        case number(Rational)
        /// A literal longer than `maximumLiteralDigits` (its digit count): evaluating it reports `tooLarge`.
        case oversized(digits: Int)
        case negate(Node)
        case percent(Node)
        case binary(Operator, Node, Node)
    }

    /// A binary operator.
    enum Operator: Sendable {
        case add, subtract, multiply, divide, floorDivide, power, modulo
    }

    /// The largest exponent evaluated, the largest result (in bits) a power may produce, and the longest
    /// number literal: beyond them a claim is reported as too large instead of stalling the verifier on
    /// `9^9^9` (exact powers and their remainders cost quadratic time in the number of digits). The verifier
    /// reports a claim beyond one of them as unchecked (`ClaimVerdict.unchecked`), never as invalid.
    public static let maximumExponent = 100_000
    public static let maximumPowerBits = 1 << 16
    public static let maximumLiteralDigits = 2_000
    /// Deeper nesting is not an expression anyone writes; the limit keeps recursion off the stack's edge.
    static let maximumNesting = 200

    let root: Node
    /// The source text of the expression.
    public let description: String
    /// The expression read with a spaced proper fraction as one divisor (`14 / 1 / 4` as 14 divided by a quarter),
    /// when it contains one; nil otherwise. See `fractionDivisorTokens`.
    let fractionDivisorRoot: Node?

    /// Parses `text` as one complete expression.
    /// - Throws: `ArithmeticError.syntax` when it is not one (unbalanced parentheses, a dangling operator, words).
    public init(_ text: String) throws {
        let chars = Array(text)
        let tokens = ArithmeticLexer.tokens(chars, in: 0..<chars.count)
        guard let node = Parser.parse(tokens[...]) else {
            throw ArithmeticError.syntax(text: text)
        }
        root = node
        description = text
        fractionDivisorRoot = Self.fractionDivisorTokens(tokens[...]).flatMap { Parser.parse($0[...]) }
    }

    /// Builds from tokens already known to form one expression (the claim finder's segments).
    init?(tokens: ArraySlice<ArithmeticToken>, text: String) {
        guard let node = Parser.parse(tokens) else { return nil }
        root = node
        description = text
        fractionDivisorRoot = Self.fractionDivisorTokens(tokens).flatMap { Parser.parse($0[...]) }
    }

    /// `x / n / m` with `n < m` plain integers, every `/` spaced (`14 / 1 / 4 = 56`): prose writes "14 divided by
    /// one quarter" that way as often as "14, halved, then quartered". Returns the tokens with `n / m` merged into
    /// one number (the first such pattern), or nil when there is none. The tight form `60 / 3/4` is merged by the
    /// lexer already.
    static func fractionDivisorTokens(_ tokens: ArraySlice<ArithmeticToken>) -> [ArithmeticToken]? {
        let t = Array(tokens)
        func integer(_ k: Int) -> Rational? {
            guard k < t.count, case .number(let v) = t[k].kind, v.isInteger, v > .zero else { return nil }
            return v
        }
        guard t.count >= 5 else { return nil }
        for k in 1..<(t.count - 3) where t[k].kind == .divide && t[k - 1].endsOperand {
            guard let n = integer(k + 1), t[k + 2].kind == .divide, let m = integer(k + 3), n < m,
                  t[k + 1].spaceBefore, t[k + 2].spaceBefore, t[k + 3].spaceBefore,
                  !(k + 4 < t.count && [.divide, .power, .percent].contains(t[k + 4].kind)) else { continue }
            var merged = t
            let range = t[k + 1].range.lowerBound..<t[k + 3].range.upperBound
            merged.replaceSubrange((k + 1)...(k + 3), with: [ArithmeticToken(kind: .number(n.divided(by: m) ?? .zero),
                                                                             range: range, spaceBefore: true)])
            return merged
        }
        return nil
    }

    /// The value of the leftmost operand when the expression is a computation starting with a plain number
    /// (`1.50 + 3.00` gives 1.50, `6 * 4 - 1` gives 6); nil for a single number or any other start.
    var leadingOperand: Rational? {
        guard case .binary = root else { return nil }
        var node = root
        while case .binary(_, let left, _) = node { node = left }
        if case .number(let v) = node { return v }
        return nil
    }

    /// True when the expression adds or subtracts percentages only (`100% + 20%`, `50% - 5%`): a share of some
    /// whole, not a plain number (`100% / 25% = 4` is a plain number and stays a computation).
    var isPercentSum: Bool {
        func sumOfPercents(_ node: Node) -> Bool {
            switch node {
            case .percent: return true
            case .binary(.add, let a, let b), .binary(.subtract, let a, let b): return sumOfPercents(a) && sumOfPercents(b)
            default: return false
            }
        }
        if case .binary = root { return sumOfPercents(root) }
        return false
    }

    /// The decimal places of a side that is one written decimal (`10.33`, `.125`, `33.333%`; a percent counts two
    /// more places, since it is hundredths), else nil: how precise a rounded value claims to be.
    var decimalPlaces: Int? {
        var text = Substring(description)
        var extra = 0
        if text.hasSuffix("%") { text = text.dropLast(); extra = 2 }
        if text.hasPrefix("-") { text = text.dropFirst() }
        guard let dot = text.firstIndex(of: "."),
              text.allSatisfy({ ArithmeticLexer.isDigit($0) || $0 == "." || $0 == "," }) else { return nil }
        let places = text[text.index(after: dot)...]
        guard !places.isEmpty, places.allSatisfy(ArithmeticLexer.isDigit) else { return nil }
        return places.count + extra
    }

    /// The value under the fraction-divisor reading (`14 / 1 / 4` is 56), when the expression has one.
    func valueReadingFractionDivisor() throws -> Rational? {
        guard let alternative = fractionDivisorRoot else { return nil }
        return try Self.evaluate(alternative, percentAsUnit: false)
    }

    /// True when the expression is a single number, possibly signed (`42`, `-3.5`): such a side alone is a
    /// restatement, not a computation.
    public var isPlainNumber: Bool {
        switch root {
        case .number, .oversized: return true
        case .negate(.number), .negate(.oversized): return true
        default: return false
        }
    }

    /// The exact value.
    /// - Throws: `ArithmeticError` for division by zero, a non-integer or oversized exponent.
    public func value() throws -> Rational {
        do { return try Self.evaluate(root, percentAsUnit: false) } catch is LimitExceeded { throw ArithmeticError.tooLarge }
    }

    /// The exact value reading `%` as a unit label rather than "divided by 100": word problems write
    /// `(75/100)*100 = 75%`, meaning 75 (percent).
    public func valueWithPercentAsUnit() throws -> Rational {
        do { return try Self.evaluate(root, percentAsUnit: true) } catch is LimitExceeded { throw ArithmeticError.tooLarge }
    }

    /// The exact value, or which limit the expression is beyond (for the verifier, which reports such a claim as
    /// unchecked rather than wrong).
    /// - Throws: `LimitExceeded` naming the limit; `ArithmeticError` as `value()` does otherwise.
    func valueWithinLimits() throws -> Rational {
        try Self.evaluate(root, percentAsUnit: false)
    }

    /// Thrown inside evaluation when a limit against abuse is exceeded; `value()` reports it as `tooLarge`.
    struct LimitExceeded: Error {
        let limit: ArithmeticLimit
    }

    /// True when the expression uses `%`.
    public var usesPercent: Bool { Self.usesPercent(root) }

    private static func usesPercent(_ node: Node) -> Bool {
        switch node {
        case .number, .oversized: return false
        case .percent: return true
        case .negate(let a): return usesPercent(a)
        case .binary(_, let a, let b): return usesPercent(a) || usesPercent(b)
        }
    }

    /// Parses and evaluates `text` in one call.
    public static func evaluate(_ text: String) throws -> Rational {
        try ArithmeticExpression(text).value()
    }

    /// The value of one node of a parsed expression (the verifier reads a division's two operands).
    static func value(of node: Node) throws -> Rational {
        try evaluate(node, percentAsUnit: false)
    }

    private static func evaluate(_ node: Node, percentAsUnit: Bool) throws -> Rational {
        switch node {
        case .number(let v): return v
        case .oversized(let digits): throw LimitExceeded(limit: .literalDigits(found: digits, limit: maximumLiteralDigits))
        case .negate(let a): return -(try evaluate(a, percentAsUnit: percentAsUnit))
        case .percent(let a):
            let v = try evaluate(a, percentAsUnit: percentAsUnit)
            return percentAsUnit ? v : v * Rational(1, 100)
        case .binary(let op, let a, let b):
            let x = try evaluate(a, percentAsUnit: percentAsUnit), y = try evaluate(b, percentAsUnit: percentAsUnit)
            switch op {
            case .add: return x + y
            case .subtract: return x - y
            case .multiply: return x * y
            case .divide:
                guard let q = x.divided(by: y) else { throw ArithmeticError.divisionByZero }
                return q
            case .floorDivide:
                guard let q = x.divided(by: y) else { throw ArithmeticError.divisionByZero }
                return Rational(q.floor)
            case .modulo:
                guard let r = x.modulo(y) else { throw ArithmeticError.divisionByZero }
                return r
            case .power:
                guard y.isInteger else { throw ArithmeticError.nonIntegerExponent(y) }
                guard let e = Int(exactly: y.numerator), abs(e) <= maximumExponent else {
                    throw LimitExceeded(limit: .exponent(found: y.displayString, limit: maximumExponent))
                }
                let bits = max(x.numerator.magnitude.bitWidth, x.denominator.magnitude.bitWidth)
                let product = bits.multipliedReportingOverflow(by: abs(e))
                guard !product.overflow, product.partialValue <= maximumPowerBits else {
                    throw LimitExceeded(limit: .powerBits(estimated: product.overflow ? Int.max : product.partialValue,
                                                          limit: maximumPowerBits))
                }
                guard let p = x.power(e) else { throw ArithmeticError.divisionByZero }
                return p
            }
        }
    }

    /// Recursive descent over a token slice; nil when the slice is not exactly one expression.
    private struct Parser {
        let tokens: ArraySlice<ArithmeticToken>
        var i: Int
        var depth = 0

        static func parse(_ tokens: ArraySlice<ArithmeticToken>) -> Node? {
            guard !tokens.isEmpty else { return nil }
            var p = Parser(tokens: tokens, i: tokens.startIndex)
            guard let node = p.sum(), p.i == tokens.endIndex else { return nil }
            return node
        }

        var current: ArithmeticToken? { i < tokens.endIndex ? tokens[i] : nil }

        mutating func sum() -> Node? {
            guard var left = product() else { return nil }
            while let t = current {
                let op: Operator
                switch t.kind {
                case .plus: op = .add
                case .minus: op = .subtract
                default: return left
                }
                i += 1
                guard let right = product() else { return nil }
                left = .binary(op, left, right)
            }
            return left
        }

        mutating func product() -> Node? {
            guard var left = unary() else { return nil }
            while let t = current {
                let op: Operator
                switch t.kind {
                case .times: op = .multiply; i += 1
                case .divide: op = .divide; i += 1
                case .floorDivide: op = .floorDivide; i += 1
                case .modulo: op = .modulo; i += 1
                case .leftParen, .number:
                    // Juxtaposition multiplies when written tight (`2(3+4)`, `(a)(b)`) or before a parenthesis
                    // (`1/2 (68)`, which the claim finder only joins when an operator follows the group); a space
                    // between two numbers means they are not one expression.
                    guard !t.spaceBefore || t.kind == .leftParen, i > tokens.startIndex, tokens[i - 1].endsOperand
                    else { return left }
                    if case .number = t.kind, case .number = tokens[i - 1].kind { return left }
                    op = .multiply
                default: return left
                }
                guard let right = unary() else { return nil }
                left = .binary(op, left, right)
            }
            return left
        }

        mutating func unary() -> Node? {
            guard let t = current else { return nil }
            switch t.kind {
            case .minus, .plus:
                // Count signs as nesting too: `- - - ... 1` recurses once per sign.
                i += 1
                depth += 1
                defer { depth -= 1 }
                guard depth <= ArithmeticExpression.maximumNesting, let operand = unary() else { return nil }
                return t.kind == .minus ? .negate(operand) : operand
            default:
                return power()
            }
        }

        mutating func power() -> Node? {
            guard let base = postfix() else { return nil }
            guard let t = current, t.kind == .power else { return base }
            i += 1
            guard let exponent = unary() else { return nil }
            return .binary(.power, base, exponent)
        }

        mutating func postfix() -> Node? {
            guard var node = primary() else { return nil }
            while let t = current, t.kind == .percent {
                i += 1
                node = .percent(node)
            }
            return node
        }

        mutating func primary() -> Node? {
            guard let t = current else { return nil }
            switch t.kind {
            case .number(let v):
                i += 1
                return .number(v)
            case .oversizedNumber(let digits):
                i += 1
                return .oversized(digits: digits)
            case .leftParen:
                i += 1
                depth += 1
                defer { depth -= 1 }
                guard depth <= ArithmeticExpression.maximumNesting, let inner = sum(), let close = current,
                      close.kind == .rightParen else { return nil }
                i += 1
                return inner
            default:
                return nil
            }
        }
    }
}
