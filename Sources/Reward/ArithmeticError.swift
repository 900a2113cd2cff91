/// Why an arithmetic expression could not be parsed or evaluated exactly.
public enum ArithmeticError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is not one complete expression.
    case syntax(text: String)
    /// A division or `mod` by zero, or zero raised to a negative power.
    case divisionByZero
    /// A power with a fractional exponent, whose value is generally irrational.
    case nonIntegerExponent(Rational)
    /// A value too large to compute quickly: a power with an exponent above 100,000 or a result above 2^16 bits,
    /// or a literal of more than 2,000 digits. (The step verifier names which one, as `ArithmeticLimit`, and
    /// reports the claim as unchecked.)
    case tooLarge

    /// A sentence saying what is wrong with the expression.
    public var description: String {
        switch self {
        case .syntax(let text):
            return "\(String(reflecting: text)) is not an arithmetic expression: use numbers, + - * / ^ mod %, and balanced parentheses"
        case .divisionByZero:
            return "division by zero"
        case .nonIntegerExponent(let e):
            return "exponent \(e) is not an integer, so the power has no exact rational value"
        case .tooLarge:
            return "the value is too large to evaluate exactly (powers up to 2^16 bits, exponents up to 100000, literals up to 2000 digits)"
        }
    }
}
