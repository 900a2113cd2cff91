import Reward
import Testing

// Expression values computed by hand.

@Test(arguments: [
    ("48/2", "24"), ("48+24", "72"), ("100-50-30-15", "5"), ("2+3*4", "14"), ("(2+3)*4", "20"),
    ("2^3^2", "512"), ("-2^2", "-4"), ("(-2)^2", "4"), ("2^-2", "1/4"), ("-3*-2", "6"), ("71+-3", "68"),
    ("-18/-2", "9"), ("17 mod 5", "2"), ("7 * 7 mod 11", "5"), ("7^2 mod 11", "5"), ("-7 mod 3", "2"),
    ("50%", "1/2"), ("20% * 50", "10"), ("560//10", "56"), ("-7//2", "-4"), ("0.2*50", "10"), ("18*.5", "9"),
    ("1,000 + 1", "1001"), ("2(3+4)", "14"), ("(1)(2)(3)", "6"), ("3 × 4 ÷ 6", "2"), ("5 − 2", "3"),
    ("2**10", "1024"), ("12/60", "1/5"), ("1/3 + 1/6", "1/2"), ("((((1))))", "1"), ("$12 * 3", "36"),
])
func expressionValues(text: String, expected: String) throws {
    #expect(try ArithmeticExpression.evaluate(text).description == expected)
}

@Test(arguments: ["", "2+", "*3", "(2+3", "2+3)", "two", "2 3", "2 ++", "()", "3 = 3", "2 mod", "x + 1"])
func expressionSyntaxErrors(text: String) {
    #expect(throws: ArithmeticError.syntax(text: text)) { try ArithmeticExpression(text) }
}

@Test func expressionEvaluationErrors() throws {
    #expect(throws: ArithmeticError.divisionByZero) { try ArithmeticExpression.evaluate("5/(3-3)") }
    #expect(throws: ArithmeticError.divisionByZero) { try ArithmeticExpression.evaluate("5 mod 0") }
    #expect(throws: ArithmeticError.divisionByZero) { try ArithmeticExpression.evaluate("0^-1") }
    #expect(throws: ArithmeticError.nonIntegerExponent(Rational(1, 2))) { try ArithmeticExpression.evaluate("2^0.5") }
    #expect(throws: ArithmeticError.tooLarge) { try ArithmeticExpression.evaluate("9^9^9") }
    #expect(throws: ArithmeticError.tooLarge) { try ArithmeticExpression.evaluate("2^1000000") }
    #expect(throws: ArithmeticError.tooLarge) { try ArithmeticExpression.evaluate("7^100000 mod 13") }
    #expect(throws: ArithmeticError.tooLarge) { try ArithmeticExpression.evaluate(String(repeating: "9", count: 2001) + " + 1") }
    #expect(try ArithmeticExpression.evaluate(String(repeating: "9", count: 2000) + " + 1")
            == Rational(10).power(2000)!)
    // Big but allowed: 3^1000 has 1,585 bits.
    #expect(try ArithmeticExpression.evaluate("3^1000 mod 7") == Rational(4))
}

@Test func expressionPlainNumbers() throws {
    #expect(try ArithmeticExpression("42").isPlainNumber)
    #expect(try ArithmeticExpression("-3.5").isPlainNumber)
    #expect(try !ArithmeticExpression("1/2").isPlainNumber)
    #expect(try ArithmeticExpression("(4)").isPlainNumber)
}

@Test func percentAsUnitReading() throws {
    let e = try ArithmeticExpression("75%")
    #expect(e.usesPercent)
    #expect(try e.value() == Rational(3, 4))
    #expect(try e.valueWithPercentAsUnit() == Rational(75))
}

@Test func adversarialNestingIsRejectedNotACrash() throws {
    let deep = String(repeating: "(", count: 20_000) + "1" + String(repeating: ")", count: 20_000)
    #expect(throws: ArithmeticError.self) { try ArithmeticExpression(deep) }
    #expect(throws: ArithmeticError.self) { try ArithmeticExpression(String(repeating: "-", count: 20_000) + "1") }
    #expect(try ArithmeticExpression.evaluate(String(repeating: "(", count: 150) + "2" + String(repeating: ")", count: 150)) == Rational(2))
    #expect(StepVerifier().verify(step: deep + " = 1").claims.isEmpty)
}
