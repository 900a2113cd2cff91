import Reward
import Testing

// `%` read by context (issue #27, item 7): between two operands it is the remainder (`7%3 = 1`, `5 % 2 = 1`, as in
// Python's calculator annotations); after a number with no right operand it is percent (`50% = 0.5`,
// `20% * 50 = 10`, `25% of 80`).

@Test(arguments: [
    ("7%3", "1"), ("7 % 3", "1"), ("5 % 2", "1"), ("10%4", "2"), ("-7 % 3", "2"), ("2 + 7 % 4", "5"), ("17 % (2 + 3)", "2"),
    ("50%", "1/2"), ("20% * 50", "10"), ("20% - 5%", "3/20"), ("(50%)", "1/2"), ("100 * 15%", "15"),
])
func percentOrModuloByContext(text: String, expected: String) throws {
    #expect(try ArithmeticExpression.evaluate(text).description == expected)
}

@Test func moduloClaimsAreChecked() {
    let right = StepVerifier().verify(step: "7%3 = 1")
    #expect(right.status == .valid, "\(right.claims.map(\.explanation))")
    let wrong = StepVerifier().verify(step: "5 % 2 = 7")
    #expect(wrong.status == .invalid, "\(wrong.claims.map(\.explanation))")
    #expect(wrong.firstInvalidClaim?.verdict == .invalid(expected: Rational(1), actual: Rational(7)))
    #expect(StepVerifier().verify(step: "<<17%5=2>>").status == .valid)
    #expect(StepVerifier().verify(step: "23 % 7 = 2, so the remainder is 2").status == .valid)
}

@Test func percentAfterANumberStaysPercent() {
    #expect(StepVerifier().verify(step: "25% of 80 = 20, so 20 + 5 = 25").status == .valid)
    #expect(StepVerifier().verify(step: "so 50% = 0.5").status == .valid)
    #expect(StepVerifier().verify(step: "20% * 50 = 10").status == .valid)
    #expect(StepVerifier().verify(step: "20% * 50 = 11").status == .invalid)
}
