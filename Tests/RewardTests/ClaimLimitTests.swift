import Foundation
import Reward
import Testing

// Claims beyond the verifier's limits against abuse (issue #27, item 6) are unchecked, never invalid: a true claim
// with 2,500-digit numbers does not make its step invalid, a huge power is still refused quickly, and the verdict
// names the limit that was exceeded.

private let nines = String(repeating: "9", count: 2_500)
private let power = "1" + String(repeating: "0", count: 2_500)

@Test func overLongLiteralsAreUncheckedNotInvalid() {
    let v = StepVerifier().verify(steps: ["\(nines) + 1 = \(power)", "2 + 2 = 4"])
    let claim = v.steps[0].claims.first
    #expect(v.steps[0].claims.count == 1)
    #expect(claim?.isValid == false, "an unchecked claim is not valid either")
    #expect(v.steps[0].status != .invalid, "\(v.steps[0].status)")
    #expect(v.steps[0].firstInvalidClaim == nil)
    #expect(v.firstInvalidStep == nil && v.isValid)
    #expect(v.invalidClaimCount == 0)
    let explanation = claim?.explanation ?? ""
    #expect(explanation.contains("unchecked") && explanation.contains("2000 digits") && explanation.contains("2500"), "\(explanation)")
}

@Test func hugePowersAreRefusedQuicklyAndUnchecked() {
    let start = Date()
    let v = StepVerifier().verify(steps: ["2^99999999 = 5", "9^9^9 = 1"])
    #expect(Date().timeIntervalSince(start) < 1, "the limits keep abuse cheap")
    #expect(v.firstInvalidStep == nil && v.invalidClaimCount == 0)
    let first = v.steps[0].claims.first?.explanation ?? "", second = v.steps[1].claims.first?.explanation ?? ""
    #expect(first.contains("unchecked") && first.contains("exponent") && first.contains("100000"), "\(first)")
    #expect(second.contains("unchecked") && second.contains("100000"), "\(second)")
    // Within the limits a wrong power is still wrong.
    #expect(StepVerifier().verify(step: "2^10 = 1000").status == .invalid)
}

@Test func uncheckedClaimsEarnNoStepValidityPenalty() throws {
    let input = RewardInput(question: "Compute 2 + 2.", trace: "\(nines) + 1 = \(power)\n2 + 2 = 4\nanswer: 4", referenceAnswer: "4")
    let result = StepValidityReward().evaluate(input)
    #expect(result.total == 1, "the one checked claim holds; the unchecked one neither helps nor hurts: \(result.total)")
}
