import Reward
import Testing

// Step validity: valid claims / claims, minus the penalty once at the first invalid step. Hand values.

@Test(arguments: [
    // 3 claims, 2 valid, first invalid at step 1: 2/3 - 0.5.
    ("48 / 2 = 24\n48 + 24 = 73\n73 * 2 = 146\nanswer: 146", 2.0 / 3.0 - 0.5, [1.0 / 3.0, -0.5, 1.0 / 3.0]),
    // All valid.
    ("1 + 1 = 2\n2 * 3 = 6\nanswer: 6", 1.0, [0.5, 0.5]),
    // A chain with one bad link: 1/2 - 0.5.
    ("2 * 3 = 6 = 7\nanswer: 7", 0.0, [0.0]),
    // Steps without claims earn nothing and get no entry.
    ("first we add\n1 + 1 = 2\nanswer: 2", 1.0, [1.0]),
    // Calculator annotations count like inline claims.
    ("so <<48/2=24>>24 and <<24+1=26>>26\nanswer: 26", 0.5 - 0.5, [0.0]),
])
func stepValidity(trace: String, total: Double, perStep: [Double]) {
    let r = StepValidityReward().evaluate(question: "q", trace: trace, referenceAnswer: "0")
    #expect(abs(r.total - total) < 1e-12)
    #expect(r.stepRewards.count == perStep.count)
    for (got, want) in zip(r.stepRewards.map(\.reward), perStep) { #expect(abs(got - want) < 1e-12) }
}

@Test func stepValidityWithoutClaimsAndCustomPenalty() {
    let none = StepValidityReward().evaluate(question: "q", trace: "we think\nanswer: 6", referenceAnswer: "6")
    #expect(none.total == 0)
    let custom = StepValidityReward(firstInvalidPenalty: 1, noClaimScore: -0.25)
    #expect(custom.evaluate(question: "q", trace: "we think\nanswer: 6", referenceAnswer: "6").total == -0.25)
    // 1 of 2 valid, penalty 1: 0.5 - 1 = -0.5; the penalty sits on step 0, the first invalid one.
    let r = custom.evaluate(question: "q", trace: "1 + 1 = 3\n1 + 1 = 2", referenceAnswer: "2")
    #expect(r.total == -0.5)
    #expect(r.stepRewards.map(\.reward) == [-1, 0.5])
    #expect(r.stepRewards.map(\.span) == [0..<9, 10..<19])
}
