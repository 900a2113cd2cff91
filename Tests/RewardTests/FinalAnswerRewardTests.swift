import Reward
import Testing

// Final-answer correctness, table-driven, values by hand.

@Test(arguments: [
    ("1 + 1 = 2\nanswer: 2", "2", 1.0),
    ("answer: 1,000", "1000", 1.0),
    ("answer: 0.5", "1/2", 1.0),
    ("answer: \\frac{3}{4}", "0.75", 1.0),
    ("answer: Odd", "odd", 1.0),
    ("answer: 3", "2", 0.0),
    ("1 + 1 = 2", "2", 0.0),
    ("answer:", "2", 0.0),
    ("", "2", 0.0),
])
func finalAnswer(trace: String, reference: String, expected: Double) {
    let r = FinalAnswerReward().evaluate(question: "q", trace: trace, referenceAnswer: reference)
    #expect(r.total == expected)
    #expect(r[component: "answer"] == expected)
}

@Test func finalAnswerSitsOnTheAnswerLine() {
    let r = FinalAnswerReward(correct: 2, incorrect: -1).evaluate(question: "q", trace: "1 + 1 = 2\nanswer: 2", referenceAnswer: "2")
    #expect(r.total == 2)
    #expect(r.stepRewards == [StepReward(span: 10..<19, reward: 2)])
    let wrong = FinalAnswerReward(correct: 2, incorrect: -1).evaluate(question: "q", trace: "1 + 1 = 2", referenceAnswer: "2")
    #expect(wrong.total == -1)
    #expect(wrong.stepRewards == [StepReward(span: 0..<9, reward: -1)])
}
