/// A reward function and its weight in a `CompositeReward`.
public struct WeightedReward: Sendable {
    /// The reward.
    public let reward: any RewardFunction
    /// Its weight in the sum.
    public let weight: Double

    /// `reward` counted with `weight`.
    public init(_ reward: any RewardFunction, weight: Double) {
        self.reward = reward
        self.weight = weight
    }
}

/// A weighted sum of rewards: total = sum of weight x part total.
///
/// Components list every part's own (unweighted) value under its name, so training logs show each signal;
/// per-line rewards are the weighted sums of the parts' per-line rewards, line by line.
public struct CompositeReward: RewardFunction {
    /// Component name: `composite` (its components are the parts').
    public let name = "composite"
    /// The parts, in the order their components are reported.
    public let parts: [WeightedReward]

    /// A sum of the given weighted parts.
    public init(_ parts: [WeightedReward]) {
        self.parts = parts
    }

    /// The built-in rewards with the weights and settings of `config` (parts with weight 0 are left out).
    public init(config: RewardConfig) {
        let all: [any RewardFunction] = [
            FinalAnswerReward(),
            StepValidityReward(firstInvalidPenalty: config.firstInvalidPenalty, noClaimScore: config.noClaimScore),
            TeacherAgreementReward(),
            FormatReward(answerWeight: config.answerFormatWeight, maxStepCharacters: config.maxStepCharacters),
            LengthPenaltyReward(maxLength: config.maxLength, bufferLength: config.lengthBuffer),
        ]
        self.init(all.compactMap { reward in
            let w = config.weights[reward.name] ?? 0
            return w == 0 ? nil : WeightedReward(reward, weight: w)
        })
    }

    /// Judges one trace (see the type's summary for the rule and the per-line placement).
    public func evaluate(_ input: RewardInput) -> RewardResult {
        var total = 0.0
        var components: [RewardComponent] = []
        var byLine: [Int: (span: Range<Int>, reward: Double)] = [:]
        for part in parts {
            let r = part.reward.evaluate(input)
            total += part.weight * r.total
            components += r.components
            for s in r.stepRewards {
                byLine[s.span.lowerBound, default: (s.span, 0)].reward += part.weight * s.reward
            }
        }
        let steps = byLine.values.sorted { $0.span.lowerBound < $1.span.lowerBound }
            .map { StepReward(span: $0.span, reward: $0.reward) }
        return RewardResult(total: total, components: components, stepRewards: steps)
    }
}
