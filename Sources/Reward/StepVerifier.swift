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
            if a == b { return ClaimVerification(claim: claim, verdict: .valid) }
            // `%` is ambiguous in prose: `(75/100)*100 = 75%` uses it as a unit label. Accept either reading.
            if claim.kind == .inline, left.usesPercent || right.usesPercent,
               let u = try? left.valueWithPercentAsUnit(), let v = try? right.valueWithPercentAsUnit(), u == v {
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
}
