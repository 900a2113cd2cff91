/// Checks every arithmetic claim of a trace's steps with exact rational arithmetic.
///
/// ```swift
/// let result = StepVerifier().verify(steps: ["48 / 2 = 24", "48 + 24 = 73"])
/// result.firstInvalidStep            // 1
/// result.steps[1].firstInvalidClaim  // verdict .invalid(expected: 72, actual: 73)
/// ```
public struct StepVerifier: Sendable {
    /// Finds the claims in each step.
    public var extractor: ClaimExtractor

    /// A verifier reading the given claim kinds (calculator annotations and inline equations by default).
    public init(extractor: ClaimExtractor = ClaimExtractor()) {
        self.extractor = extractor
    }

    /// Verifies one step.
    /// - Parameters:
    ///   - step: The step's text.
    ///   - index: Its position in the trace, carried into the result.
    public func verify(step: String, index: Int = 0) -> StepVerification {
        StepVerification(index: index, text: step, claims: extractor.claims(in: step).map(Self.judge))
    }

    /// Verifies every step of a trace, in order.
    public func verify(steps: [String]) -> TraceVerification {
        TraceVerification(steps: steps.enumerated().map { verify(step: $0.element, index: $0.offset) })
    }

    /// Evaluates both sides of a claim exactly and compares them. A side beyond a limit against abuse (see
    /// `ArithmeticLimit`) makes the claim unchecked, not invalid.
    public static func judge(_ claim: ArithmeticClaim) -> ClaimVerification {
        guard let left = claim.left else {
            return ClaimVerification(claim: claim, verdict: .undefined(.syntax(text: claim.lhs)))
        }
        guard let right = claim.right else {
            return ClaimVerification(claim: claim, verdict: .undefined(.syntax(text: claim.rhs)))
        }
        do {
            let a = try left.valueWithinLimits(), b = try right.valueWithinLimits()
            // Sides that are equal as written hold whatever prose follows (`20 / 4 = 5 hours ... the remainder of 15
            // hours`, `$0.75 * 100 = 75 cents`); the readings below only rescue claims that differ as written.
            if a == b { return ClaimVerification(claim: claim, verdict: .valid) }
            if let r = claim.remainder {
                // `13 / 6 = 2 ... remainder of 1`: a whole quotient and a remainder in [0, |divisor|).
                return ClaimVerification(claim: claim, verdict: Self.quotientAndRemainder(left, quotient: b, remainder: r) ?? .valid)
            }
            if claim.rightInCents {
                let cents = a * Rational(100)
                return ClaimVerification(claim: claim, verdict: cents == b ? .valid : .invalid(expected: cents, actual: b))
            }
            if a == b { return ClaimVerification(claim: claim, verdict: .valid) }
            if claim.kind == .inline, Self.holdsUnderAnotherReading(claim, left, right, a, b) {
                return ClaimVerification(claim: claim, verdict: .valid)
            }
            return ClaimVerification(claim: claim, verdict: .invalid(expected: a, actual: b))
        } catch let exceeded as ArithmeticExpression.LimitExceeded {
            return ClaimVerification(claim: claim, verdict: .unchecked(exceeded.limit))
        } catch let error as ArithmeticError {
            return ClaimVerification(claim: claim, verdict: .undefined(error))
        } catch {
            // value() throws only ArithmeticError; keep the verdict typed if that ever changes.
            return ClaimVerification(claim: claim, verdict: .undefined(.syntax(text: claim.description)))
        }
    }

    /// The readings of prose notation an inline claim is also checked under (the README's reading rules):
    /// - `%` as a unit label: `(75/100)*100 = 75%`;
    /// - a spaced proper fraction as one divisor: `14 / 1 / 4 = 56` (14 divided by a quarter);
    /// - a running computation: `$3/2 = $1.50+$3.00 = $4.50` says 3/2 is 1.50, then goes on from there;
    /// - a decimal the text marks as approximate (an ellipsis, or a word of rounding after it) for a value that has
    ///   no finite decimal: `31 / 3 = 10.33...`, `9 / 27 * 100% = 33.333%, which rounds to 33%` hold when the written
    ///   value is the exact one cut or rounded to the written places (`31 / 3 = 10.34...` does not), never for a
    ///   value that terminates (`7 / 4 = 1.7...` stays wrong: 1.75 can be written exactly). Unmarked, `10 / 3 = 3.33`
    ///   is wrong: arithmetic is exact.
    private static func holdsUnderAnotherReading(_ claim: ArithmeticClaim, _ left: ArithmeticExpression,
                                                 _ right: ArithmeticExpression, _ a: Rational, _ b: Rational) -> Bool {
        if left.usesPercent || right.usesPercent,
           let u = try? left.valueWithPercentAsUnit(), let v = try? right.valueWithPercentAsUnit(), u == v {
            return true
        }
        let fractionLeft = (try? left.valueReadingFractionDivisor()) ?? nil
        let fractionRight = (try? right.valueReadingFractionDivisor()) ?? nil
        if (fractionLeft ?? a) == (fractionRight ?? b), fractionLeft != nil || fractionRight != nil { return true }
        if claim.rightContinues, let lead = right.leadingOperand, lead == a { return true }
        if claim.rightIsApproximate, a.decimalString == nil, let places = right.decimalPlaces,
           let scale = Rational(10).power(places) {
            // Cut (toward zero) or rounded half away from zero to the written places.
            let scaled = a * scale, written = b * scale
            let size = scaled < .zero ? -scaled : scaled
            let sign = scaled < .zero ? Rational(-1) : Rational(1)
            let cut = sign * Rational(size.floor), rounded = sign * Rational((size + Rational(1, 2)).floor)
            if written == cut || written == rounded { return true }
        }
        return false
    }

    /// Nil when `left` is a division whose whole quotient is `quotient` with remainder `remainder`, else the verdict:
    /// `2 remainder 1` of a division by 6 stands for 2 + 1/6, compared with the division's exact value.
    private static func quotientAndRemainder(_ left: ArithmeticExpression, quotient: Rational, remainder: Rational) -> ClaimVerdict? {
        guard case .binary(.divide, _, let y) = left.root, let exact = try? left.value(),
              let divisor = try? ArithmeticExpression.value(of: y), !divisor.isZero,
              let stated = remainder.divided(by: divisor).map({ quotient + $0 }) else {
            return .undefined(.syntax(text: left.description))
        }
        let size = divisor < .zero ? -divisor : divisor
        if quotient.isInteger, remainder >= .zero, remainder < size, stated == exact { return nil }
        return .invalid(expected: exact, actual: stated)
    }
}
