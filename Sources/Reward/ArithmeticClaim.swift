/// One arithmetic claim `lhs = rhs` found in a step, with where it sits in the step's text.
///
/// A chain `a = b = c` gives two claims, `a = b` and `b = c`: each equality is judged on its own, so a slip in
/// the middle of a chain is reported once, where it happens.
public struct ArithmeticClaim: Sendable, CustomStringConvertible {
    /// Where a claim came from.
    public enum Kind: String, Sendable {
        /// A GSM8K calculator annotation `<<expr=value>>`.
        case calculator
        /// An equation written in the step's text (`48 / 2 = 24`).
        case inline
    }

    /// Calculator annotation or inline equation.
    public let kind: Kind
    /// The left side's source text.
    public let lhs: String
    /// The right side's source text.
    public let rhs: String
    /// Character offsets of `lhs ... rhs` within the step.
    public let span: Range<Int>
    /// The parsed sides; nil when a calculator annotation's side does not parse (inline sides always parse).
    let left: ArithmeticExpression?
    let right: ArithmeticExpression?
    /// True when the right side is in cents and the left in whole currency units (`$1 / 2 = 50 cents`): the right
    /// side's value is divided by 100 before comparing.
    var rightInCents = false
    /// The remainder the text states after a division's quotient (`13 / 6 = 2 full cycles with a remainder of 1`):
    /// the claim is then `13 = 2 * 6 + 1` with `0 <= 1 < 6`.
    var remainder: Rational?
    /// True when another `=` follows the right side in the same chain, so the right side may continue a running
    /// computation from the left side's value (`$3/2 = $1.50+$3.00 = $4.50`: 3/2 is 1.50, then 1.50 + 3.00 is 4.50).
    var rightContinues = false
    /// True when the text marks the right side as approximate (`31 / 3 = 10.33...`, `33.333%, which rounds to
    /// 33%`): a decimal then holds when it is the exact value cut or rounded to its places. Without such a mark
    /// arithmetic is exact and `10 / 3 = 3.33` is wrong.
    var rightIsApproximate = false

    /// `lhs = rhs`.
    public var description: String { "\(lhs) = \(rhs)" }
}
