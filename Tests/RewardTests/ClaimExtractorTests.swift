import Reward
import Testing

// Which claims a step makes, decided by hand for each sentence shape the extractor must handle.

/// The claims of `step` as `lhs = rhs` strings.
private func claims(_ step: String, kinds: Set<ArithmeticClaim.Kind> = [.calculator, .inline]) -> [String] {
    ClaimExtractor(kinds: kinds).claims(in: step).map(\.description)
}

@Test(arguments: [
    // Plain equations and chains: one claim per `=`.
    ("48 / 2 = 24", ["48 / 2 = 24"]),
    ("1 + 9 = 10, write 0 carry 1", ["1 + 9 = 10"]),
    ("7^2 mod 11 = 7 * 7 mod 11 = 49 mod 11 = 5", ["7^2 mod 11 = 7 * 7 mod 11", "7 * 7 mod 11 = 49 mod 11", "49 mod 11 = 5"]),
    ("2*(3+4) = 2*7 = 14", ["2*(3+4) = 2*7", "2*7 = 14"]),
    ("2 * 3 = 6 = 7", ["2 * 3 = 6", "6 = 7"]),
    ("252 = 2 * 105 + 42", ["252 = 2 * 105 + 42"]),
    // Prose around the claim; currency and trailing punctuation.
    ("Natalia sold 48+24 = 72 clips.", ["48+24 = 72"]),
    ("In the beginning, Betty has only 100 / 2 = $50.", ["100 / 2 = 50"]),
    ("It costs 0.2 x 50 = $10 in all", ["0.2 x 50 = 10"]),
    ("so (3 + 4 = 7) holds", ["3 + 4 = 7"]),
    ("check: 3 * 5 + 5 = 20", ["3 * 5 + 5 = 20"]),
    // Words end a run; bare-number links are restatements.
    ("3 hours = 180 minutes", []),
    ("Step 1 = 5", []),
    ("half of 48 = 24", []),
    ("10% of 150 = 75 + 15 = 90", ["75 + 15 = 90"]),
    ("During the games he scored 10 points + 14 + 6 = 30 points.", []),
    ("the sun sets at 6:00+48=6:48 PM", []),
    // Variables: symbolic sides are skipped, numeric links in the same chain still count.
    ("3x + 5 = 20", []),
    ("subtract 5 from both sides: 3x = 20 - 5 = 15", ["20 - 5 = 15"]),
    ("divide both sides by -7: x = 7 / -7 = -1", ["7 / -7 = -1"]),
    ("x - 5 = 10", []),
    ("15 = 3x", []),
    ("D3 = 2 * 322", []),
    ("f(3) = 9", []),
    ("is -5 + 3 = -2", ["-5 + 3 = -2"]),
    // Written number forms.
    ("so 8 x 1 1/2 = 12 rolls", ["8 x 1 1/2 = 12"]),
    ("$80 000 x 20/100 = $16 000.", ["80 000 x 20/100 = 16 000"]),
    ("a total of 60 / 3/4 = 80 years", ["60 / 3/4 = 80"]),
    ("He had $1,000 + $250 = $1,250", ["1,000 + $250 = 1,250"]),
    // No claim at all.
    ("write the final carry 1", []),
    ("claim: 7 * 194 + 6 * 2 is even", []),
    ("the remainder is 0, so gcd(252, 105) = 21", []),
])
func inlineClaims(step: String, expected: [String]) {
    #expect(claims(step) == expected)
}

@Test func calculatorAnnotationsTakePrecedenceOverProse() {
    let step = "Natalia sold 48/2 = <<48/2=24>>24 clips in May."
    #expect(claims(step) == ["48/2 = 24"])
    #expect(ClaimExtractor().claims(in: step).map(\.kind) == [.calculator])
    #expect(claims("Two: <<2*3=6>> and <<6+1=7>>7") == ["2*3 = 6", "6+1 = 7"])
    #expect(claims("<<a=b=c>>").count == 2)
    // Annotation chains and negatives, as in GSM8K.
    #expect(claims("<<-14+-8+1=-21>>") == ["-14+-8+1 = -21"])
    // Kinds can be switched off.
    #expect(claims(step, kinds: [.inline]).isEmpty)
    #expect(claims("48 / 2 = 24", kinds: [.calculator]).isEmpty)
}

@Test func claimSpansPointIntoTheStep() {
    let step = "so 48 + 24 = 72 in all"
    let c = ClaimExtractor().claims(in: step)
    #expect(c.count == 1)
    let chars = Array(step)
    #expect(String(chars[c[0].span]) == "48 + 24 = 72")
    let annotated = "x <<1+1=2>>2"
    let a = ClaimExtractor().claims(in: annotated)
    #expect(String(Array(annotated)[a[0].span]) == "1+1=2")
}
