/// A limit that keeps exact verification fast on adversarial input (`9^9^9`, a million-digit literal). A claim
/// beyond one is reported as unchecked, naming the limit, never as invalid: the claim may well be true.
public enum ArithmeticLimit: Sendable, Equatable, CustomStringConvertible {
    /// A number literal with more digits than `limit` (`ArithmeticExpression.maximumLiteralDigits`).
    case literalDigits(found: Int, limit: Int)
    /// A power whose exponent is beyond `limit` in magnitude (`ArithmeticExpression.maximumExponent`).
    case exponent(found: String, limit: Int)
    /// A power whose result would have more than `limit` bits (`ArithmeticExpression.maximumPowerBits`).
    case powerBits(estimated: Int, limit: Int)

    /// What is beyond which limit, in words.
    public var description: String {
        switch self {
        case .literalDigits(let found, let limit):
            return "a number has \(found) digits, over the limit of \(limit) digits per number"
        case .exponent(let found, let limit):
            let shown = found.count > 24 ? "\(found.prefix(12))...(\(found.count) characters)" : found
            return "exponent \(shown) is over the limit of \(limit)"
        case .powerBits(let estimated, let limit):
            let size = estimated == Int.max ? "more bits than fit in a machine word" : "about \(estimated) bits"
            return "the power would have \(size), over the limit of \(limit) bits"
        }
    }
}
