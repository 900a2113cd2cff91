import Reward
import Testing

// Hand-computed values for the exact rational type.

@Test func rationalReducesToLowestTermsWithPositiveDenominator() {
    #expect(Rational(6, 8).description == "3/4")
    #expect(Rational(6, -8).description == "-3/4")
    #expect(Rational(-6, -8) == Rational(3, 4))
    #expect(Rational(0, -5) == Rational.zero)
    #expect(Rational(0, -5).denominator == 1)
    #expect(Rational(10, 5).isInteger)
    #expect(Set([Rational(1, 2), Rational(2, 4), Rational(-3, -6)]).count == 1)
}

@Test(arguments: [
    ("12", "12"), ("-0.25", "-1/4"), (".5", "1/2"), ("3.", "3"), ("+7", "7"), ("0.1", "1/10"), ("007", "7"),
])
func rationalParsesDecimalLiterals(text: String, expected: String) {
    #expect(Rational(decimal: text)?.description == expected)
}

@Test(arguments: ["", ".", "-", "1e5", "1,000", "1.2.3", "x", "--1"])
func rationalRejectsNonDecimals(text: String) {
    #expect(Rational(decimal: text) == nil)
}

@Test func rationalArithmeticIsExact() {
    let tenth = Rational(1, 10), fifth = Rational(1, 5)
    #expect(tenth + fifth == Rational(3, 10))             // 0.1 + 0.2 == 0.3 exactly
    #expect(Rational(1, 3) - Rational(1, 2) == Rational(-1, 6))
    #expect(Rational(2, 3) * Rational(9, 4) == Rational(3, 2))
    #expect(Rational(2, 3).divided(by: Rational(4, 9)) == Rational(3, 2))
    #expect(Rational(1).divided(by: .zero) == nil)
    #expect(-Rational(5, 7) == Rational(-5, 7))
    #expect(Rational(1, 3) < Rational(1, 2))
    #expect(Rational(-1, 2) < Rational(-1, 3))
}

@Test func rationalPowersAndModulo() {
    #expect(Rational(2).power(10) == Rational(1024))
    #expect(Rational(2, 3).power(3) == Rational(8, 27))
    #expect(Rational(2).power(-3) == Rational(1, 8))
    #expect(Rational(-2, 3).power(-2) == Rational(9, 4))
    #expect(Rational.zero.power(-1) == nil)
    #expect(Rational(5).power(0) == .one)
    // mod takes the modulus's sign: -7 mod 3 = 2, 7 mod -3 = -2.
    #expect(Rational(17).modulo(Rational(5)) == Rational(2))
    #expect(Rational(-7).modulo(Rational(3)) == Rational(2))
    #expect(Rational(7).modulo(Rational(-3)) == Rational(-2))
    #expect(Rational(7, 2).modulo(Rational(1)) == Rational(1, 2))
    #expect(Rational(3).modulo(.zero) == nil)
    #expect(Rational(-7, 2).floor == -4)
    #expect(Rational(7, 2).floor == 3)
}

@Test func rationalNeverOverflows() {
    // 10^30 * 10^30 = 10^60, far beyond Int64; and (2^64 + 1) - 2^64 = 1 exactly.
    let big = Rational(10).power(30)!
    #expect((big * big).description == "1" + String(repeating: "0", count: 60))
    let twoTo64 = Rational(2).power(64)!
    #expect((twoTo64 + .one) - twoTo64 == .one)
    #expect(Rational(decimal: "123456789012345678901234567890")! + .one
            == Rational(decimal: "123456789012345678901234567891")!)
}

@Test(arguments: [
    (Rational(3, 8), "0.375"), (Rational(1, 5), "0.2"), (Rational(-1, 4), "-0.25"), (Rational(10, 3), "10/3"),
    (Rational(7), "7"), (Rational(-1, 3), "-1/3"), (Rational(1, 1000), "0.001"), (Rational(123, 20), "6.15"),
])
func rationalDisplayStrings(value: Rational, expected: String) {
    #expect(value.displayString == expected)
}
