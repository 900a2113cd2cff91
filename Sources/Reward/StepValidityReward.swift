/// Step validity: the fraction of the trace's checked arithmetic claims that verify exactly, minus
/// `firstInvalidPenalty` when any claim fails. Claims beyond a verification limit (unchecked) count neither way.
///
/// Per line: each step with claims earns (its valid claims) / (all claims), and the first invalid step also
/// carries the penalty, so the credit lands where the reasoning first goes wrong (as process reward models
/// label the first error step; Lightman et al. 2023). A trace with no claims earns `noClaimScore`.
public struct StepValidityReward: RewardFunction {
    /// Component name: `step_validity`.
    public let name = "step_validity"
    /// Subtracted once when any claim fails.
    public var firstInvalidPenalty: Double
    /// The reward for a trace that makes no arithmetic claim (0 by default, so saying nothing checkable earns nothing).
    public var noClaimScore: Double
    /// The verifier used on each step.
    public var verifier: StepVerifier

    /// A step-validity reward with the given penalty and no-claim score.
    public init(firstInvalidPenalty: Double = 0.5, noClaimScore: Double = 0, verifier: StepVerifier = StepVerifier()) {
        self.firstInvalidPenalty = firstInvalidPenalty
        self.noClaimScore = noClaimScore
        self.verifier = verifier
    }

    /// Judges one trace (see the type's summary for the rule and the per-line placement).
    public func evaluate(_ input: RewardInput) -> RewardResult {
        let steps = input.trace.steps
        let verification = verifier.verify(steps: steps.map(\.text))
        let claims = verification.claimCount - verification.uncheckedClaimCount
        guard claims > 0 else { return result(noClaimScore, onLastLineOf: input.trace) }
        let first = verification.firstInvalidStep
        var stepRewards: [StepReward] = []
        for (line, v) in zip(steps, verification.steps) where v.claims.count > v.uncheckedClaimCount {
            var r = Double(v.validClaimCount) / Double(claims)
            if v.index == first { r -= firstInvalidPenalty }
            stepRewards.append(StepReward(span: line.span, reward: r))
        }
        let total = Double(verification.validClaimCount) / Double(claims) - (first == nil ? 0 : firstInvalidPenalty)
        return RewardResult(total: total, components: [RewardComponent(name: name, value: total)], stepRewards: stepRewards)
    }
}
