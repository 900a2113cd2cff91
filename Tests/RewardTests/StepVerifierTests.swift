import Reward
import Testing

// Per-step verdicts and the first invalid step, on traces whose every claim was checked by hand.

@Test func validInvalidAndNoClaimSteps() {
    let v = StepVerifier().verify(steps: [
        "48 / 2 = 24",                       // valid
        "we now add the two months",          // no claim
        "48 + 24 = 73",                       // invalid: should be 72
        "73 * 2 = 146",                       // valid on its own (errors are local)
    ])
    #expect(v.steps.map(\.status) == [.valid, .noClaim, .invalid, .valid])
    #expect(v.firstInvalidStep == 2)
    #expect(v.claimCount == 3)
    #expect(v.validClaimCount == 2)
    #expect(v.invalidClaimCount == 1)
    #expect(!v.isValid)
    let bad = v.steps[2].firstInvalidClaim
    #expect(bad?.verdict == .invalid(expected: Rational(72), actual: Rational(73)))
    #expect(bad?.expected == Rational(72))
    #expect(bad?.explanation == "48 + 24 = 73 is wrong: 48 + 24 is 72, not 73")
}

@Test func chainsAreJudgedLinkByLink() {
    // 2*(3+4) = 2*8 is the slip; 2*8 = 16 is true, so only one claim fails, with the value 14.
    let s = StepVerifier().verify(step: "2*(3+4) = 2*8 = 16")
    #expect(s.claims.map(\.isValid) == [false, true])
    #expect(s.firstInvalidClaim?.expected == Rational(14))
}

@Test func exactArithmeticRejectsRounding() {
    let s = StepVerifier().verify(step: "10 / 3 = 3.33")
    #expect(s.status == .invalid)
    #expect(s.firstInvalidClaim?.verdict == .invalid(expected: Rational(10, 3), actual: Rational(333, 100)))
    #expect(StepVerifier().verify(step: "1 / 8 = 0.125").status == .valid)
    #expect(StepVerifier().verify(step: "0.1 + 0.2 = 0.3").status == .valid)
}

@Test func undefinedClaimsAreInvalid() {
    let s = StepVerifier().verify(step: "5 / (2 - 2) = 1")
    #expect(s.status == .invalid)
    #expect(s.firstInvalidClaim?.verdict == .undefined(.divisionByZero))
    #expect(s.firstInvalidClaim?.expected == nil)
    let broken = StepVerifier().verify(step: "<<48/=24>>")
    #expect(broken.status == .invalid)
    if case .undefined(.syntax) = broken.firstInvalidClaim?.verdict {} else { Issue.record("expected a syntax verdict") }
}

@Test func percentReadAsUnitOrFraction() {
    #expect(StepVerifier().verify(step: "(75/100)*100 = 75% of the flowers").status == .valid)
    #expect(StepVerifier().verify(step: "so 50% = 0.5").status == .valid)
    #expect(StepVerifier().verify(step: "so 50% = 0.6").status == .invalid)
}

@Test func emptyTraceIsValidWithNoClaims() {
    let v = StepVerifier().verify(steps: [])
    #expect(v.isValid)
    #expect(v.firstInvalidStep == nil)
    #expect(v.claimCount == 0)
}
