/// The verification of every step of a trace.
public struct TraceVerification: Sendable {
    /// One entry per step, in order.
    public let steps: [StepVerification]

    /// Index of the first step with a claim that does not hold, or nil when every claim holds.
    public var firstInvalidStep: Int? {
        steps.first { $0.status == .invalid }?.index
    }

    /// Number of claims found in all steps.
    public var claimCount: Int { steps.reduce(0) { $0 + $1.claims.count } }

    /// Number of claims that hold.
    public var validClaimCount: Int { steps.reduce(0) { $0 + $1.validClaimCount } }

    /// Number of claims beyond a verification limit: not checked, so neither valid nor invalid.
    public var uncheckedClaimCount: Int { steps.reduce(0) { $0 + $1.uncheckedClaimCount } }

    /// Number of claims that were checked and do not hold (invalid or undefined).
    public var invalidClaimCount: Int { claimCount - validClaimCount - uncheckedClaimCount }

    /// True when no claim fails (a trace without claims is valid: it asserts nothing false).
    public var isValid: Bool { firstInvalidStep == nil }
}
