/// Format: the trace ends with `answer: VALUE` and its steps are well formed.
///
/// Total = `answerWeight` (when the last line is a non-empty `answer:` line) + (1 - `answerWeight`) x (the
/// fraction of steps that are well formed). A step is well formed when it is at most `maxStepCharacters`
/// long, its parentheses balance, and it is not a stray `answer:` line. Per line: each well-formed step earns
/// (1 - `answerWeight`) / steps and the answer line earns `answerWeight`.
public struct FormatReward: RewardFunction {
    /// Component name: `format`.
    public let name = "format"
    /// The share of the reward for ending with the answer line (the rest is for the steps).
    public var answerWeight: Double
    /// The longest step counted as well formed.
    public var maxStepCharacters: Int

    /// A format reward with the given split and step length limit.
    public init(answerWeight: Double = 0.5, maxStepCharacters: Int = 200) {
        self.answerWeight = answerWeight
        self.maxStepCharacters = maxStepCharacters
    }

    /// Judges one trace (see the type's summary for the rule and the per-line placement).
    public func evaluate(_ input: RewardInput) -> RewardResult {
        let trace = input.trace
        var rewards: [StepReward] = []
        var total = 0.0
        if !trace.steps.isEmpty {
            let share = (1 - answerWeight) / Double(trace.steps.count)
            for step in trace.steps where isWellFormed(step.text) {
                rewards.append(StepReward(span: step.span, reward: share))
                total += share
            }
        }
        if trace.endsWithAnswer, let answer = trace.answer, !answer.isEmpty, let line = trace.answerLine {
            rewards.append(StepReward(span: line.span, reward: answerWeight))
            total += answerWeight
        }
        return RewardResult(total: total, components: [RewardComponent(name: name, value: total)], stepRewards: rewards)
    }

    /// True when `step` is short enough, balances its parentheses and is not an `answer:` line.
    public func isWellFormed(_ step: String) -> Bool {
        guard step.count <= maxStepCharacters, ParsedTrace.answerValue(of: step) == nil else { return false }
        var depth = 0
        for ch in step {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1; if depth < 0 { return false } }
        }
        return depth == 0
    }
}
