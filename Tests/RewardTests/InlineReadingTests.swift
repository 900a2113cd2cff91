import Reward
import Testing

// How prose writes arithmetic that the strict reading got wrong (issue #27, "Inline claims in real text"). Each
// shape comes from GSM8K's published solutions or the issue; every expected value is worked out by hand in the
// comment beside it, and each rule has a wrong claim of the same shape that must still be caught.

/// The claims of `step` as `lhs = rhs` strings.
private func claims(_ step: String) -> [String] {
    ClaimExtractor().claims(in: step).map(\.description)
}

/// The step's status and its claims' explanations (for failure messages).
private func verify(_ step: String) -> (StepStatus, [String]) {
    let v = StepVerifier().verify(step: step)
    return (v.status, v.claims.map(\.explanation))
}

@Test(arguments: [
    // Implicit multiplication before a parenthesis, when an operator follows the group: 68/2 + 10 = 44.
    ("She spent 1/2 (68) + 10 = 44 dollars", ["1/2 (68) + 10 = 44"]),
    // A parenthesis followed by `=` is prose around a computation, not a factor.
    ("she bought 12 (6 + 6) = 12 eggs", ["(6 + 6) = 12"]),
    // Mixed numbers: 1 1/2 + 1 1/2 = 3; with `and` (GSM8K rows 624, 1531, 3391, 3638, 3641).
    ("so 1 1/2 + 1 1/2 = 3 cups", ["1 1/2 + 1 1/2 = 3"]),
    ("There are 15 cups because 12 x 1 and 1/4 = 15", ["12 x 1 and 1/4 = 15"]),
    ("it takes 17/3 = 5 and 2/3 loads.", ["17/3 = 5 and 2/3"]),
    ("he can buy 16 because 100 / 6= 16 and (2/3)", ["100 / 6 = 16 and (2/3)"]),
    ("it cost $10/3=$3 and $1/3 per pizza.", ["10/3 = 3 and $1/3"]),
    // Unicode vulgar fractions (GSM8K rows 2165, 2304, 5543).
    ("there are ¼ * 24 = 6 action figures.", ["¼ * 24 = 6"]),
    ("then 1 – ¾ = ¼ of the boxes", ["1 – ¾ = ¼"]),
    ("a total of (½)*6=3 water balloons.", ["(½)*6 = 3"]),
    ("so 1¾ + ¼ = 2 and 2 ½ * 2 = 5", ["1¾ + ¼ = 2", "2 ½ * 2 = 5"]),
    // `and` before a fraction that takes a part of something is not a mixed number.
    ("so 1 + 1 = 2 and 1/2 of 4 = 2", ["1 + 1 = 2"]),
    // Percent chains: 48 is 100% + 20% of the price, not 48 = 1.2.
    ("48 = 100% + 20% = 120% of the old price", ["100% + 20% = 120%"]),
    ("The amount $165 is 100% + 10% = 110% of the money", ["100% + 10% = 110%"]),
    ("so 100% / 25% = 4 times", ["100% / 25% = 4"]),
    // Currency chains and cents.
    ("each apple is $3/2 = $1.50+$3.00=$4.50 with the box", ["3/2 = 1.50+$3.00", "1.50+$3.00 = 4.50"]),
    ("He spends 50 cents because $1 / 2 = 50 cents", ["1 / 2 = 50 cents"]),
    // 24-hour clock times are not numbers (GSM8K row 658); the time form `6:00+48` claims nothing either.
    ("He has to leave 0130 hours earlier than 0900 i.e. 0900-0130 = 0730 hours", []),
    ("$80 000 x 20/100 = $16 000.", ["80 000 x 20/100 = 16 000"]),
    // A quotient with its remainder (GSM8K row 4505).
    ("this cycle can fit 13 / 6 = 2 full cycles with a remainder of 1 hour", ["13 / 6 = 2 remainder 1"]),
])
func proseReadings(step: String, expected: [String]) {
    #expect(claims(step) == expected)
}

@Test(arguments: [
    "She spent 1/2 (68) + 10 = 44 dollars",               // 34 + 10 = 44
    "There are 15 cups because 12 x 1 and 1/4 = 15",      // 12 * 5/4 = 15
    "He will read 28 pages because 21 x (1 and 1/3) = 28", // 21 * 4/3 = 28
    "it takes 17/3 = 5 and 2/3 loads.",                    // 5 * 3 + 2 = 17
    "he can buy 16 because 100 / 6= 16 and (2/3)",         // 16 * 6 + 4 = 100, 4/6 = 2/3
    "it cost $10/3=$3 and $1/3 per pizza.",                // 3 * 3 + 1 = 10
    "then 1 – ¾ = ¼ of the boxes",
    "so 1¾ + ¼ = 2 and 2 ½ * 2 = 5",
    "48 = 100% + 20% = 120% of the old price",
    "each apple is $3/2 = $1.50+$3.00=$4.50 with the box", // 3/2 = 1.50; 1.50 + 3.00 = 4.50
    "He spends 50 cents because $1 / 2 = 50 cents",        // $0.50 = 50 cents
    "So, Bea earned $2.50 - $2.24 = 26 cents more",        // $0.26 = 26 cents
    "this cycle can fit 13 / 6 = 2 full cycles with a remainder of 1 hour", // 2 * 6 + 1 = 13
    "31 / 3 = 10.33..., which means 10 chapters",          // 10.333... cut to 2 places
    "so 2 / 3 = 0.67, rounded, of the pie",                // 0.666... rounded to 2 places
    "$9 / $27 * 100% = 33.333%, which rounds down to 33%", // 33.333...% cut to 3 places
    "A bottle lasts her 14 / 1 / 4 = 14 * 4 = 56 washes.", // 14 divided by a quarter
    "A bottle lasts her 14 / 1 / 4 = 3.5 weeks.",          // the left-to-right reading still holds
])
func correctProseVerifies(step: String) {
    let (status, explanations) = verify(step)
    #expect(status == .valid, "\(explanations)")
}

@Test(arguments: [
    ("She spent 1/2 (68) + 10 = 45 dollars", Rational(44), Rational(45)),
    ("There are 15 cups because 12 x 1 and 1/4 = 16", Rational(15), Rational(16)),
    ("it takes 17/3 = 5 and 1/3 loads.", Rational(17, 3), Rational(16, 3)),
    ("there are ¼ * 24 = 7 action figures.", Rational(6), Rational(7)),
    ("48 = 100% + 20% = 130% of the old price", Rational(6, 5), Rational(13, 10)),
    ("each apple is $3/2 = $1.50+$3.00=$5.50 with the box", Rational(9, 2), Rational(11, 2)),
    ("each apple is $3/2 = $1.25+$3.00=$4.25 with the box", Rational(3, 2), Rational(17, 4)),
    ("He spends 40 cents because $1 / 2 = 40 cents", Rational(50), Rational(40)),
    // `q remainder r` of a division by 6 stands for q + r/6: 3 + 1/6 = 19/6 and 2 + 2/6 = 7/3, against 13/6.
    ("this cycle can fit 13 / 6 = 3 full cycles with a remainder of 1 hour", Rational(13, 6), Rational(19, 6)),
    ("this cycle can fit 13 / 6 = 2 full cycles with a remainder of 2 hours", Rational(13, 6), Rational(7, 3)),
    ("31 / 3 = 10.34..., which means 10 chapters", Rational(31, 3), Rational(1034, 100)),
    // Without a mark of approximation arithmetic is exact.
    ("so 2 / 3 = 0.67 of the pie", Rational(2, 3), Rational(67, 100)),
    ("The bottle costs $.125 an ounce because 2 / 12 = .125", Rational(1, 6), Rational(1, 8)),
    ("so 7 / 4 = 1.7... hours", Rational(7, 4), Rational(17, 10)),
    ("A bottle lasts her 14 / 1 / 4 = 50 washes.", Rational(7, 2), Rational(50)),
])
func wrongProseIsStillCaught(step: String, expected: Rational, actual: Rational) {
    let v = StepVerifier().verify(step: step)
    #expect(v.status == .invalid, "\(v.claims.map(\.explanation))")
    #expect(v.firstInvalidClaim?.verdict == .invalid(expected: expected, actual: actual), "\(v.claims.map(\.explanation))")
}

@Test func calculatorAnnotationsKeepPythonsReading() {
    // GSM8K's annotations are Python: 14/1/4 is 3.5 there, whatever prose means by it.
    #expect(StepVerifier().verify(step: "<<14/1/4=56>>").status == .invalid)
    #expect(StepVerifier().verify(step: "<<14/1/4=3.5>>").status == .valid)
    // A rounded value is not Python's value either.
    #expect(StepVerifier().verify(step: "<<31/3=10.33>>").status == .invalid)
}

@Suite("prose readings never override sides that are equal as written")
struct ProseReadingPrecedenceTests {
    @Test("a written equality holds before the cents, remainder and product readings (review findings)", arguments: [
        // 0.75 x 100 = 75: equal as written, so the cents reading (7,500 cents) must not judge it
        "The price is $0.75 * 100 = 75 cents per apple",
        // 20 / 4 = 5; the later 'remainder of 15 hours' belongs to another sentence part
        "She works 20 / 4 = 5 hours on Monday and the remainder of 15 hours later",
        // a computed group after a number is a breakdown: (12 x 2) - 4 = 24 - 4 = 20, not 24 * 24 - 4 = 572
        "He has 24 (12 x 2) - 4 = 20 stamps left",
    ])
    func equalSidesHold(step: String) {
        let (status, claims) = verify(step)
        #expect(status == .valid, "\(step): \(claims)")
    }

    @Test("the same shapes with a wrong value are still caught")
    func wrongValuesCaught() {
        for step in ["The price is $0.75 * 100 = 70 cents per apple", "She works 20 / 4 = 6 hours on Monday",
                     "He has 24 (12 x 2) - 4 = 21 stamps left", "She spent 1/2 (68) + 10 = 45 dollars"] {
            let (status, claims) = verify(step)
            #expect(status != .valid, "\(step): \(claims)")
        }
    }
}
