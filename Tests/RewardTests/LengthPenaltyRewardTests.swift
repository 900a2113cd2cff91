import Reward
import Testing

// DAPO soft overlong penalty with maxLength 512, buffer 128 (penalty starts after 384 characters).

@Test(arguments: [(0, 0.0), (384, 0.0), (385, -1.0 / 128), (448, -0.5), (511, -127.0 / 128), (512, -1.0), (513, -1.0), (10_000, -1.0)])
func lengthPenalty(length: Int, expected: Double) {
    #expect(LengthPenaltyReward().penalty(length: length) == expected)
}

@Test func lengthPenaltyOnATrace() {
    // 447 characters of step, a newline, and "answer: 1" (9) = 457; (384 - 457) / 128.
    let trace = String(repeating: "a", count: 447) + "\nanswer: 1"
    let r = LengthPenaltyReward().evaluate(question: "q", trace: trace, referenceAnswer: "1")
    #expect(r.total == -73.0 / 128)
    #expect(r.stepRewards == [StepReward(span: 448..<457, reward: -73.0 / 128)])
    let small = LengthPenaltyReward(maxLength: 10, bufferLength: 5)
    #expect(small.penalty(length: 8) == -0.6)
}
