/// The verdict on one claim.
public enum ClaimVerdict: Sendable, Equatable {
    /// Both sides have the same exact value.
    case valid
    /// The sides differ: `expected` is the left side's value (what the right side should have been),
    /// `actual` the right side's.
    case invalid(expected: Rational, actual: Rational)
    /// A side has no exact value or does not parse (division by zero, `2^0.5`, a malformed annotation).
    case undefined(ArithmeticError)
    /// A side is beyond a limit that keeps verification fast (a 2,500-digit number, `2^99999999`): the claim was not
    /// checked, so it counts as neither valid nor invalid.
    case unchecked(ArithmeticLimit)
}

/// One claim and its verdict.
public struct ClaimVerification: Sendable {
    /// The claim as found in the step.
    public let claim: ArithmeticClaim
    /// Whether it holds.
    public let verdict: ClaimVerdict

    /// True when the claim holds exactly.
    public var isValid: Bool { verdict == .valid }

    /// True when the claim was not checked because a side is beyond a verification limit.
    public var isUnchecked: Bool {
        if case .unchecked = verdict { return true }
        return false
    }

    /// True when the claim was checked and fails (a wrong value, or no exact value).
    public var isInvalid: Bool { !isValid && !isUnchecked }

    /// The value the right side should have had, for an invalid claim.
    public var expected: Rational? {
        if case .invalid(let e, _) = verdict { return e }
        return nil
    }

    /// One line for people: `48/2 = 25 is wrong: 48/2 is 24, not 25`.
    public var explanation: String {
        switch verdict {
        case .valid:
            return "\(claim) holds"
        case .invalid(let expected, let actual):
            return "\(claim) is wrong: \(claim.lhs) is \(expected.displayString), not \(actual.displayString)"
        case .undefined(let error):
            return "\(claim) has no exact value: \(error)"
        case .unchecked(let limit):
            return "\(claim) is unchecked: \(limit)"
        }
    }
}

/// What a step's claims add up to.
public enum StepStatus: String, Sendable, Codable {
    /// Every claim in the step holds (and there is at least one).
    case valid
    /// At least one claim fails or has no value.
    case invalid
    /// The step makes no arithmetic claim (prose, a conclusion, a restatement).
    case noClaim = "no_claim"
    /// Every claim in the step is beyond a verification limit, so none was checked.
    case unchecked
}

/// The verification of one step.
public struct StepVerification: Sendable {
    /// The step's position in the trace (0-based).
    public let index: Int
    /// The step's text.
    public let text: String
    /// Every claim found in the step, in text order.
    public let claims: [ClaimVerification]

    /// Valid (every checked claim holds), invalid (one fails), no claim, or unchecked (every claim is beyond a
    /// verification limit). Unchecked claims beside checked ones do not change the status.
    public var status: StepStatus {
        if claims.isEmpty { return .noClaim }
        if claims.contains(where: \.isInvalid) { return .invalid }
        return claims.allSatisfy(\.isUnchecked) ? .unchecked : .valid
    }

    /// The first claim that was checked and does not hold, if any.
    public var firstInvalidClaim: ClaimVerification? {
        claims.first { $0.isInvalid }
    }

    /// Number of claims that hold.
    public var validClaimCount: Int { claims.filter(\.isValid).count }

    /// Number of claims beyond a verification limit (neither valid nor invalid).
    public var uncheckedClaimCount: Int { claims.filter(\.isUnchecked).count }
}
