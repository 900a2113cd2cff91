import Reward
import Testing

// Format: 0.5 for ending with a non-empty answer line + 0.5 x the well-formed share of steps. Hand values.

@Test(arguments: [
    ("1 + 1 = 2\n2 * 2 = 4\nanswer: 4", 1.0),
    ("1 + 1 = 2\n(2 * 2 = 4\nanswer: 4", 0.75),          // unbalanced parenthesis
    ("1 + 1 = 2", 0.5),                                   // no answer line
    ("answer: 4\n1 + 1 = 2", 0.5),                        // answer not last
    ("answer: 3\n2 + 2 = 4\nanswer: 4", 0.75),           // a stray answer line counts as a bad step
    ("answer:", 0.0),                                     // empty answer, no steps
    ("answer: 4", 0.5),                                   // no steps: only the answer half
    (String(repeating: "1", count: 201) + "\nanswer: 1", 0.5),  // a step longer than 200 characters
    (")(\nanswer: 1", 0.5),                               // closing before opening
])
func format(trace: String, expected: Double) {
    let r = FormatReward().evaluate(question: "q", trace: trace, referenceAnswer: "4")
    #expect(abs(r.total - expected) < 1e-12)
}

@Test func formatPerLineRewards() {
    let r = FormatReward(answerWeight: 0.4, maxStepCharacters: 20).evaluate(
        question: "q", trace: "1 + 1 = 2\n2 * 2 = 4\nanswer: 4", referenceAnswer: "4")
    #expect(r.stepRewards.map(\.span) == [0..<9, 10..<19, 20..<29])
    let rewards = r.stepRewards.map(\.reward)
    #expect(abs(rewards[0] - 0.3) < 1e-12 && abs(rewards[1] - 0.3) < 1e-12 && abs(rewards[2] - 0.4) < 1e-12)
    #expect(abs(r.total - 1) < 1e-12)
}
