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

    /// `lhs = rhs`.
    public var description: String { "\(lhs) = \(rhs)" }
}
