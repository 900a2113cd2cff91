import Reward
import Testing

// Step-level LCS F1 = 2L / (S + T), by hand.

@Test(arguments: [
    // Spacing and a trailing period do not matter; L = 2, S = 3, T = 2: F1 = 4/5.
    ("48/2 = 24\n48+24=72.\nextra step\nanswer: 72", "48 / 2 = 24\n48 + 24 = 72\nanswer: 72", 0.8, [0.4, 0.4]),
    ("a = 1\nb = 2\nanswer: 2", "a = 1\nb = 2\nanswer: 2", 1.0, [0.5, 0.5]),
    // Order matters: L = 1 of 2 and 2.
    ("b = 2\na = 1\nanswer: 2", "a = 1\nb = 2\nanswer: 2", 0.5, [0.5]),
    ("c = 3\nanswer: 3", "a = 1\nb = 2\nanswer: 2", 0.0, [0.0]),
    // The answer line is not a step: only steps are aligned.
    ("answer: 2", "a = 1\nanswer: 2", 0.0, [0.0]),
])
func teacherAgreement(trace: String, teacher: String, total: Double, perStep: [Double]) {
    let r = TeacherAgreementReward().evaluate(question: "q", trace: trace, referenceAnswer: "2", teacherTrace: teacher)
    #expect(abs(r.total - total) < 1e-12)
    #expect(r.stepRewards.map(\.reward) == perStep)
}

@Test func teacherAgreementWithoutTeacherIsZero() {
    let r = TeacherAgreementReward().evaluate(question: "q", trace: "a = 1\nanswer: 1", referenceAnswer: "1")
    #expect(r.total == 0)
    #expect(r[component: "teacher_agreement"] == 0)
}

@Test func longestCommonSubsequenceIndices() {
    #expect(TeacherAgreementReward.longestCommonSubsequence(["a", "b", "c", "d"], ["b", "d", "a"]) == [1, 3])
    #expect(TeacherAgreementReward.longestCommonSubsequence(["a", "b"], []) == [])
    #expect(TeacherAgreementReward.longestCommonSubsequence(["x", "a", "x", "b"], ["a", "b"]) == [1, 3])
    #expect(TeacherAgreementReward.normalize("  48 + 24 = 72.. ") == "48+24=72")
}
