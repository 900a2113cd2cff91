import BigInt

/// An exact rational number `numerator / denominator`, always in lowest terms with a positive denominator.
///
/// Arithmetic is over arbitrary-precision integers, so no claim in a trace can overflow or round: `0.1 + 0.2`
/// is exactly `3/10`, and `10^30 * 10^30` is exact. Because the representation is canonical, `==` and hashing
/// compare values (`2/4 == 1/2`).
public struct Rational: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The numerator, carrying the sign.
    public let numerator: BigInt
    /// The denominator, always positive and coprime with the numerator.
    public let denominator: BigInt

    /// The value `numerator / denominator`, reduced to lowest terms.
    /// - Precondition: `denominator != 0` (division by zero is reported by `divided(by:)`, not built).
    public init(_ numerator: BigInt, _ denominator: BigInt = 1) {
        precondition(!denominator.isZero, "Rational: denominator must not be zero (numerator \(numerator))")
        // Zero is stored as 0/1 with a plus sign so that equal values are equal structs (== and hashing).
        if numerator.isZero {
            self.numerator = BigInt(0)
            self.denominator = BigInt(1)
            return
        }
        if denominator == 1 {
            self.numerator = numerator
            self.denominator = denominator
            return
        }
        let g = numerator.greatestCommonDivisor(with: denominator)
        var n = numerator / g, d = denominator / g
        if d.sign == .minus { n.negate(); d.negate() }
        self.numerator = n
        self.denominator = d
    }

    /// The integer `value` as a rational.
    public init(_ value: Int) {
        self.init(BigInt(value))
    }

    /// Parses a plain decimal literal: digits with an optional fraction part and sign
    /// (`"12"`, `"-0.25"`, `".5"`, `"3."`). Returns nil for anything else (no exponents, no commas).
    public init?(decimal text: String) {
        var body = Substring(text)
        var negative = false
        if let first = body.first, first == "-" || first == "+" {
            negative = first == "-"
            body = body.dropFirst()
        }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count > 1 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty),
              whole.allSatisfy({ $0.isASCII && $0.isNumber }), fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let text = String(whole) + String(fraction)
        // Up to 18 digits fit Int64: parse there, which is much cheaper than BigInt's string parser.
        if text.utf8.count <= 18, fraction.count <= 18, let small = Int(text) {
            var scale = 1
            for _ in 0..<fraction.count { scale *= 10 }
            self.init(BigInt(negative ? -small : small), BigInt(scale))
            return
        }
        guard let digits = BigInt(text) else { return nil }
        self.init(negative ? -digits : digits, BigInt(10).power(fraction.count))
    }

    /// Zero.
    public static let zero = Rational(0)
    /// One.
    public static let one = Rational(1)

    /// True when the denominator is 1.
    public var isInteger: Bool { denominator == 1 }

    /// True when the value is zero.
    public var isZero: Bool { numerator.isZero }

    /// The largest integer not greater than the value (floor division of numerator by denominator).
    public var floor: BigInt {
        let (q, r) = numerator.quotientAndRemainder(dividingBy: denominator)
        // Truncation rounds toward zero; floor must round down for negative non-integers.
        return (r.sign == .minus && !r.isZero) ? q - 1 : q
    }

    /// The exact sum.
    public static func + (a: Rational, b: Rational) -> Rational {
        if a.denominator == b.denominator { return Rational(a.numerator + b.numerator, a.denominator) }
        return Rational(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)
    }

    /// The exact difference.
    public static func - (a: Rational, b: Rational) -> Rational {
        a + (-b)
    }

    /// The negation.
    public static prefix func - (a: Rational) -> Rational {
        Rational(uncheckedNumerator: -a.numerator, denominator: a.denominator)
    }

    /// The exact product.
    public static func * (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.numerator, a.denominator * b.denominator)
    }

    /// `self / divisor`, or nil when the divisor is zero.
    public func divided(by divisor: Rational) -> Rational? {
        guard !divisor.isZero else { return nil }
        return Rational(numerator * divisor.denominator, denominator * divisor.numerator)
    }

    /// `self mod modulus` = `self - modulus * floor(self / modulus)`: the remainder takes the sign of the
    /// modulus (so `-7 mod 3 = 2`, as in mathematics and Python). Nil when the modulus is zero.
    public func modulo(_ modulus: Rational) -> Rational? {
        guard let ratio = divided(by: modulus) else { return nil }
        return self - modulus * Rational(ratio.floor)
    }

    /// `self ^ exponent` for an integer exponent (negative exponents give the reciprocal power).
    /// Nil for `0 ^ negative`.
    public func power(_ exponent: Int) -> Rational? {
        if exponent >= 0 {
            return Rational(uncheckedNumerator: numerator.power(exponent), denominator: denominator.power(exponent))
        }
        guard !isZero else { return nil }
        return Rational(denominator.power(-exponent), numerator.power(-exponent))
    }

    /// Orders by value (cross-multiplied, so exact).
    public static func < (a: Rational, b: Rational) -> Bool {
        a.numerator * b.denominator < b.numerator * a.denominator
    }

    /// `"p"` for integers, otherwise `"p/q"` (exact, never rounded).
    public var description: String {
        isInteger ? numerator.description : "\(numerator)/\(denominator)"
    }

    /// The exact decimal expansion when it terminates (denominator of the form 2^a * 5^b), else nil:
    /// `3/8` gives `"0.375"`, `1/3` gives nil.
    public var decimalString: String? {
        if isInteger { return numerator.description }
        var d = denominator, twos = 0, fives = 0
        while d % 2 == 0 { d /= 2; twos += 1 }
        while d % 5 == 0 { d /= 5; fives += 1 }
        guard d == 1 else { return nil }
        let places = max(twos, fives)
        let scaled = numerator.magnitude * BigUInt(10).power(places) / denominator.magnitude
        var digits = String(scaled)
        if digits.count <= places { digits = String(repeating: "0", count: places - digits.count + 1) + digits }
        let split = digits.index(digits.endIndex, offsetBy: -places)
        return (numerator.sign == .minus ? "-" : "") + digits[..<split] + "." + digits[split...]
    }

    /// How a person would write the value: an integer, a terminating decimal (`0.2`), else a fraction (`10/3`).
    public var displayString: String {
        decimalString ?? description
    }

    /// Builds a value already known to be in lowest terms with a positive denominator (skips the gcd).
    private init(uncheckedNumerator: BigInt, denominator: BigInt) {
        self.numerator = uncheckedNumerator.isZero ? BigInt(0) : uncheckedNumerator
        self.denominator = uncheckedNumerator.isZero ? BigInt(1) : denominator
    }
}
