import Data
import Reward
import Testing

// Reference traces worked out by hand, and properties every generated trace must have.

@Test func additionColumnsWithCarries() {
    let p = AdditionGenerator.solve([4821, 379])
    #expect(p.question == "Compute 4821 + 379.")
    #expect(p.steps == ["1 + 9 = 10, write 0 carry 1", "2 + 7 + 1 = 10, write 0 carry 1", "8 + 3 + 1 = 12, write 2 carry 1",
                        "4 + 1 = 5, write 5", "4821 + 379 = 5200"])
    #expect(p.answer == "5200")
    #expect(AdditionGenerator.solve([999, 1]).steps == ["9 + 1 = 10, write 0 carry 1", "9 + 1 = 10, write 0 carry 1",
                                                        "9 + 1 = 10, write 0 carry 1", "write the final carry 1", "999 + 1 = 1000"])
    #expect(AdditionGenerator.solve([5, 7, 8]).steps == ["5 + 7 + 8 = 20, write 0 carry 2", "write the final carry 2", "5 + 7 + 8 = 20"])
    #expect(AdditionGenerator.solve([40, 3]).steps == ["0 + 3 = 3, write 3", "write 4", "40 + 3 = 43"])
}

@Test func subtractionColumnsWithBorrows() {
    let p = SubtractionGenerator.solve(5203, 1479)
    #expect(p.steps == ["13 - 9 = 4, write 4 borrow 1", "10 - 1 - 7 = 2, write 2 borrow 1", "12 - 1 - 4 = 7, write 7 borrow 1",
                        "5 - 1 - 1 = 3, write 3", "5203 - 1479 = 3724"])
    #expect(p.answer == "3724")
    #expect(SubtractionGenerator.solve(1000, 1).steps == ["10 - 1 = 9, write 9 borrow 1", "10 - 1 = 9, write 9 borrow 1",
                                                          "10 - 1 = 9, write 9 borrow 1", "1 - 1 = 0, write 0", "1000 - 1 = 999"])
    #expect(SubtractionGenerator.solve(57, 57).answer == "0")
}

@Test func multiplicationPartialProducts() {
    #expect(MultiplicationGenerator.solve(347, 26).steps == ["347 * 6 = 2082", "347 * 20 = 6940", "2082 + 6940 = 9022"])
    #expect(MultiplicationGenerator.solve(347, 105).steps == ["347 * 5 = 1735", "347 * 100 = 34700", "1735 + 34700 = 36435"])
    #expect(MultiplicationGenerator.solve(347, 20).steps == ["347 * 20 = 6940"])
    #expect(MultiplicationGenerator.solve(12, 0).steps == ["12 * 0 = 0"])
    #expect(MultiplicationGenerator.solve(347, 26).answer == "9022")
}

@Test func linearEquationsStepByStep() {
    let p = LinearEquationGenerator.solve(a: 3, b: 5, c: 20)
    #expect(p.question == "Solve 3x + 5 = 20 for x.")
    #expect(p.steps == ["3x + 5 = 20", "subtract 5 from both sides: 3x = 20 - 5 = 15",
                        "divide both sides by 3: x = 15 / 3 = 5", "check: 3 * 5 + 5 = 20"])
    #expect(p.answer == "5")
    #expect(LinearEquationGenerator.solve(a: -4, b: -7, c: 9).steps == [
        "-4x - 7 = 9", "add 7 to both sides: -4x = 9 + 7 = 16", "divide both sides by -4: x = 16 / -4 = -4", "check: -4 * (-4) - 7 = 9"])
    let fraction = LinearEquationGenerator.solve(a: 6, b: 1, c: 10)
    #expect(fraction.steps.suffix(2) == ["divide both sides by 6: x = 9 / 6 = 3/2", "check: 6 * (3/2) + 1 = 10"])
    #expect(fraction.answer == "3/2")
}

@Test func euclidsAlgorithm() {
    let p = GCDGenerator.solve(252, 105)
    #expect(p.steps == ["252 = 2 * 105 + 42", "105 = 2 * 42 + 21", "42 = 2 * 21 + 0",
                        "the remainder is 0, so the last divisor 21 is the greatest common divisor"])
    #expect(p.answer == "21")
    #expect(GCDGenerator.solve(17, 17).answer == "17")
}

@Test func modularPowerByRepeatedSquaring() {
    // 7^13 mod 11: 7^10 = 1 (Fermat), 7^3 = 343 = 31 * 11 + 2.
    let p = ModularPowerGenerator.solve(base: 7, exponent: 13, modulus: 11)
    #expect(p.steps == ["13 = 1 + 4 + 8", "7^1 mod 11 = 7", "7^2 mod 11 = 7 * 7 mod 11 = 49 mod 11 = 5",
                        "7^4 mod 11 = 5 * 5 mod 11 = 25 mod 11 = 3", "7^8 mod 11 = 3 * 3 mod 11 = 9 mod 11 = 9",
                        "7^5 mod 11 = 7 * 3 mod 11 = 21 mod 11 = 10", "7^13 mod 11 = 10 * 9 mod 11 = 90 mod 11 = 2"])
    #expect(p.answer == "2")
    #expect(ModularPowerGenerator.solve(base: 3, exponent: 4, modulus: 5).answer == "1")   // 81 = 16 * 5 + 1
}

@Test func divisibilityProofs() throws {
    // long division by hand: 3 < 7, so 31 first; then each remainder with the next digit written after it
    let yes = DivisibilityGenerator.solve(number: 3192, divisor: 7)
    #expect(yes.steps == ["31 = 7 * 4 + 3", "39 = 7 * 5 + 4", "42 = 7 * 6 + 0", "3192 = 7 * 456 + 0", "so 7 divides 3192"])
    #expect(yes.answer == "yes")
    // a zero digit in the quotient, a number divided in one step, and one smaller than its divisor
    #expect(DivisibilityGenerator.solve(number: 1001, divisor: 11).steps
            == ["100 = 11 * 9 + 1", "11 = 11 * 1 + 0", "1001 = 11 * 91 + 0", "so 11 divides 1001"])
    #expect(DivisibilityGenerator.solve(number: 7035, divisor: 7).steps
            == ["7 = 7 * 1 + 0", "0 = 7 * 0 + 0", "3 = 7 * 0 + 3", "35 = 7 * 5 + 0", "7035 = 7 * 1005 + 0", "so 7 divides 7035"])
    #expect(DivisibilityGenerator.solve(number: 31, divisor: 7).steps == ["31 = 7 * 4 + 3", "so 7 does not divide 31"])
    #expect(DivisibilityGenerator.solve(number: 10, divisor: 11).steps == ["10 = 11 * 0 + 10", "so 11 does not divide 10"])
    // 3 and 9 by digit sums, taken again until one digit is left; 2 and 5 by the last digit
    let no = DivisibilityGenerator.solve(number: 4153, divisor: 3)
    #expect(no.steps == ["digit sum: 4 + 1 + 5 + 3 = 13", "digit sum: 1 + 3 = 4", "4 = 3 * 1 + 1", "so 3 does not divide 4153"])
    #expect(no.answer == "no")
    #expect(DivisibilityGenerator.solve(number: 9999, divisor: 9).steps
            == ["digit sum: 9 + 9 + 9 + 9 = 36", "digit sum: 3 + 6 = 9", "9 = 9 * 1 + 0", "so 9 divides 9999"])
    #expect(DivisibilityGenerator.solve(number: 6, divisor: 3).steps == ["6 = 3 * 2 + 0", "so 3 divides 6"])
    #expect(DivisibilityGenerator.solve(number: 4153, divisor: 2).steps == ["last digit: 3", "3 = 2 * 1 + 1", "so 2 does not divide 4153"])
    #expect(DivisibilityGenerator.solve(number: 4150, divisor: 5).steps == ["last digit: 0", "0 = 5 * 0 + 0", "so 5 divides 4150"])
    #expect(DivisibilityGenerator.solve(number: 0, divisor: 2).answer == "yes")
    // every computing step is one claim the verifier checks (none is skipped as prose); the rest claim nothing
    for (n, d) in [(4153, 3), (9999, 9), (3192, 7), (4150, 5)] {
        for step in DivisibilityGenerator.solve(number: n, divisor: d).steps {
            let claims = ClaimExtractor().claims(in: step)
            let computes = step.contains("=")
            #expect(claims.count == (computes ? 1 : 0), "\(step)")
            #expect(claims.allSatisfy { StepVerifier.judge($0).verdict == .valid }, "\(step)")
        }
    }
    // level 1 asks only the divisors with a digit rule; level 2 adds the long divisions
    let divisors = { (level: Int) in
        (TaskDomain.divisibility.generator(difficulty: level) as? DivisibilityGenerator).map { Set($0.divisors) } }
    #expect(divisors(1) == [2, 3, 5, 9])
    #expect(divisors(2) == [2, 3, 4, 5, 6, 7, 8, 9, 11])
}

@Test func parityProofs() {
    let p = ParityGenerator.solve([(3, 457), (2, 128)])
    #expect(p.question == "Is 3 * 457 + 2 * 128 even or odd? Prove your answer.")
    #expect(p.steps == ["claim: 3 * 457 + 2 * 128 is odd", "3 * 457 = 1371", "2 * 128 = 256", "1371 + 256 = 1627",
                        "1627 = 2 * 813 + 1", "the remainder on division by 2 is 1, so 3 * 457 + 2 * 128 is odd"])
    #expect(p.answer == "odd")
}

/// The integers written in `text` (a leading `-` counts when it touches the digits).
private func integers(_ text: String) -> [Int] {
    var out: [Int] = [], current = "", previous: Character = " "
    for ch in text + " " {
        if ch.isNumber { current.append(ch) } else {
            if !current.isEmpty { out.append(Int(current)!); current = "" }
            if ch == "-" && !previous.isNumber { current = "-" } else if current == "-" { current = "" }
        }
        previous = ch
    }
    return out
}

/// The answer to a generated question, computed from the question alone, without the generators.
private func independentAnswer(_ domain: TaskDomain, _ question: String) throws -> String {
    switch domain {
    case .addition, .subtraction, .multiplication:
        let expression = question.dropFirst("Compute ".count).dropLast()
        return try ArithmeticExpression.evaluate(String(expression)).description
    case .modular:
        let expression = question.dropFirst("Compute ".count).dropLast()
        return try ArithmeticExpression.evaluate(String(expression)).description
    case .linear:
        // "Solve A x (+|-) B = C for x."
        let n = integers(question.replacing("- ", with: "-").replacing("+ ", with: ""))
        let x = (Rational(n[2]) - Rational(n[1])).divided(by: Rational(n[0]))!
        return x.description
    case .gcd:
        var (a, b) = (integers(question)[0], integers(question)[1])
        while b != 0 { (a, b) = (b, a % b) }
        return String(a)
    case .divisibility:
        let n = integers(question)
        return n[1] % n[0] == 0 ? "yes" : "no"
    case .parity:
        let expression = question.dropFirst("Is ".count).prefix { $0 != "e" }
        let v = try ArithmeticExpression.evaluate(String(expression))
        return v.modulo(Rational(2)) == .zero ? "even" : "odd"
    }
}

@Test(arguments: TaskDomain.allCases)
func everyGeneratedTraceVerifiesAndAnswersItsQuestion(domain: TaskDomain) throws {
    let verifier = StepVerifier()
    for level in TaskDomain.difficultyLevels {
        let generator = domain.generator(difficulty: level)
        try generator.validate()
        var rng = SeededGenerator(seed: UInt64(level), stream: domain.rawValue)
        for _ in 0..<120 {
            let p = generator.generate(using: &rng)
            let v = verifier.verify(steps: p.steps)
            #expect(v.isValid, "\(domain) level \(level): \(p.question) \(v.steps.compactMap(\.firstInvalidClaim).map(\.explanation))")
            #expect(v.claimCount >= 1, "\(domain) level \(level): \(p.question) makes no checkable claim")
            #expect(!p.steps.contains { $0.contains("\n") })
            #expect(try AnswerNormalizer.equivalent(p.answer, independentAnswer(domain, p.question)),
                    "\(domain) level \(level): \(p.question) answered \(p.answer)")
        }
    }
}

@Test func generatorKnobsAreChecked() {
    let cases: [(any TaskGenerator, String)] = [
        (AdditionGenerator(digits: 0...3), "digits"), (AdditionGenerator(digits: 2...19), "digits"),
        (AdditionGenerator(operands: 1), "operands"), (SubtractionGenerator(digits: 1...40), "digits"),
        (MultiplicationGenerator(firstDigits: 9...9, secondDigits: 9...10), "secondDigits"),
        (MultiplicationGenerator(firstDigits: 10...10, secondDigits: 1...1), "firstDigits"),
        (LinearEquationGenerator(coefficients: 1...5), "coefficients"), (LinearEquationGenerator(constants: 0...5), "constants"),
        (LinearEquationGenerator(solutionMagnitude: 0), "solutionMagnitude"),
        (GCDGenerator(sharedFactorProbability: 2), "sharedFactorProbability"),
        (ModularPowerGenerator(exponents: 2...2000), "exponents"), (ModularPowerGenerator(bases: 2...5000), "bases"), (ModularPowerGenerator(moduli: 1...5), "moduli"),
        (DivisibilityGenerator(divisors: []), "divisors"), (DivisibilityGenerator(divisors: [1]), "divisors"),
        (ParityGenerator(terms: 0...2), "terms"),
    ]
    for (generator, setting) in cases {
        #expect {
            try generator.validate()
        } throws: { error in
            guard case DataError.invalidGeneratorSetting(let domain, let s, _) = error else { return false }
            return domain == generator.domain.rawValue && s == setting
        }
    }
}

@Test func domainListParsing() throws {
    #expect(try TaskDomain.parseList("addition, Linear,addition") == [.addition, .linear])
    #expect(try TaskDomain.parseList("all") == TaskDomain.allCases)
    #expect(throws: DataError.invalidSetting(setting: "domain", reason:
        "unknown domain 'adition'; choose from addition, subtraction, multiplication, linear, gcd, modular, divisibility, parity or all")) {
        try TaskDomain.parseList("adition")
    }
    #expect(throws: DataError.self) { try TaskDomain.parseList(" , ") }
}
