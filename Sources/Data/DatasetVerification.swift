import Reward

/// The result of verifying every step of every row of a dataset (what `distill verify` prints).
public struct DatasetVerification: Sendable {
    /// A row with at least one claim that does not hold, described by its first one.
    public struct BadRow: Sendable {
        /// The row's id (or `line N`).
        public let id: String
        /// The row's line in the file.
        public let line: Int
        /// The first invalid step (0-based).
        public let step: Int
        /// That step's text.
        public let stepText: String
        /// The first failing claim in that step (`lhs = rhs`).
        public let claim: String
        /// The value the claim's right side should have (nil when the claim has no exact value).
        public let correctValue: String?
        /// The value the right side has.
        public let statedValue: String?
        /// A sentence for people (see `ClaimVerification.explanation`).
        public let explanation: String
        /// How many claims fail in the whole row.
        public let invalidClaims: Int
    }

    /// Rows checked.
    public let rowCount: Int
    /// Steps checked.
    public let stepCount: Int
    /// Steps making at least one claim.
    public let stepsWithClaims: Int
    /// Claims found, by kind.
    public let claimsByKind: [ArithmeticClaim.Kind: Int]
    /// Claims that hold, by kind.
    public let validClaimsByKind: [ArithmeticClaim.Kind: Int]
    /// Claims beyond a verification limit (not checked: neither valid nor invalid), by kind.
    public let uncheckedClaimsByKind: [ArithmeticClaim.Kind: Int]
    /// Rows with an invalid step, in file order.
    public let badRows: [BadRow]

    /// All claims found.
    public var claimCount: Int { claimsByKind.values.reduce(0, +) }
    /// All claims that hold.
    public var validClaimCount: Int { validClaimsByKind.values.reduce(0, +) }
    /// All claims beyond a verification limit.
    public var uncheckedClaimCount: Int { uncheckedClaimsByKind.values.reduce(0, +) }
    /// All checked claims that do not hold (wrong value or no exact value).
    public var invalidClaimCount: Int { claimCount - validClaimCount - uncheckedClaimCount }

    /// Verifies every row of `dataset`.
    public init(dataset: TraceDataset, verifier: StepVerifier = StepVerifier()) {
        var steps = 0, withClaims = 0
        var claims: [ArithmeticClaim.Kind: Int] = [:], valid: [ArithmeticClaim.Kind: Int] = [:], unchecked: [ArithmeticClaim.Kind: Int] = [:]
        var bad: [BadRow] = []
        for (record, line) in zip(dataset.records, dataset.lineNumbers) {
            let v = verifier.verify(steps: record.steps)
            steps += v.steps.count
            for s in v.steps {
                if !s.claims.isEmpty { withClaims += 1 }
                for c in s.claims {
                    claims[c.claim.kind, default: 0] += 1
                    if c.isValid { valid[c.claim.kind, default: 0] += 1 }
                    if c.isUnchecked { unchecked[c.claim.kind, default: 0] += 1 }
                }
            }
            if let k = v.firstInvalidStep, let c = v.steps[k].firstInvalidClaim {
                var stated: String?
                if case .invalid(_, let actual) = c.verdict { stated = actual.displayString }
                bad.append(BadRow(id: record.id ?? "line \(line)", line: line, step: k, stepText: record.steps[k],
                                  claim: c.claim.description, correctValue: c.expected?.displayString, statedValue: stated,
                                  explanation: c.explanation, invalidClaims: v.invalidClaimCount))
            }
        }
        rowCount = dataset.records.count
        stepCount = steps
        stepsWithClaims = withClaims
        claimsByKind = claims
        validClaimsByKind = valid
        uncheckedClaimsByKind = unchecked
        badRows = bad
    }
}
