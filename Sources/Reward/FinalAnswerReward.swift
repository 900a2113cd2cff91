/// Final-answer correctness: `correct` when the trace's `answer:` value is equivalent to the reference
/// (exact numeric value or canonical text, see `AnswerNormalizer`), otherwise `incorrect`.
///
/// The reward sits on the answer line; a trace with no answer line earns `incorrect` on its last line.
public struct FinalAnswerReward: RewardFunction {
    /// Component name: `answer`.
    public let name = "answer"
    /// Reward for a correct answer.
    public var correct: Double
    /// Reward for a wrong or missing answer.
    public var incorrect: Double

    /// A correctness reward paying `correct` or `incorrect`.
    public init(correct: Double = 1, incorrect: Double = 0) {
        self.correct = correct
        self.incorrect = incorrect
    }

    /// Judges one trace (see the type's summary for the rule and the per-line placement).
    public func evaluate(_ input: RewardInput) -> RewardResult {
        guard let answer = input.trace.answer, let line = input.trace.answerLine else {
            return result(incorrect, onLastLineOf: input.trace)
        }
        let value = AnswerNormalizer.equivalent(answer, input.referenceAnswer) ? correct : incorrect
        return RewardResult(total: value, components: [RewardComponent(name: name, value: value)],
                            stepRewards: [StepReward(span: line.span, reward: value)])
    }
}
