/// Long multiplication by partial products: one product per nonzero digit of the second factor
/// (`347 * 20 = 6940`), then their sum.
public struct MultiplicationGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .multiplication }
    /// Digits of the first factor.
    public var firstDigits: ClosedRange<Int>
    /// Digits of the second factor (one partial product per digit).
    public var secondDigits: ClosedRange<Int>

    /// Multiplies a `firstDigits`-digit number by a `secondDigits`-digit number.
    public init(firstDigits: ClosedRange<Int> = 2...3, secondDigits: ClosedRange<Int> = 1...2) {
        self.firstDigits = firstDigits
        self.secondDigits = secondDigits
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        // Nine digits each keep every product below 10^18, inside Int64.
        try Digits.check(firstDigits, maximum: 9, domain: domain, setting: "firstDigits")
        try Digits.check(secondDigits, maximum: 9, domain: domain, setting: "secondDigits")
    }

    /// Exact: first factors times second factors (a drawn 0 becomes 1...9, which one digit already holds).
    public var distinctQuestions: Int? {
        Distinct.product([Digits.countOfNumbers(firstDigits), Digits.countOfNumbers(secondDigits) - (secondDigits.lowerBound == 1 ? 1 : 0)])
    }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        var b = Digits.random(secondDigits, &rng)
        // Multiplying by 0 has no partial products to show.
        if b == 0 { b = rng.integer(in: 1...9) }
        return Self.solve(Digits.random(firstDigits, &rng), b)
    }

    /// The question and reference trace for `a * b` (non-negative).
    public static func solve(_ a: Int, _ b: Int) -> GeneratedProblem {
        precondition(a >= 0 && b >= 0, "MultiplicationGenerator.solve: factors must be non-negative, got \(a) and \(b)")
        var steps: [String] = []
        var partials: [Int] = []
        for (place, digit) in Digits.of(b).enumerated() where digit != 0 {
            let multiplier = digit * Digits.power(place)
            partials.append(a * multiplier)
            steps.append("\(a) * \(multiplier) = \(a * multiplier)")
        }
        let product = a * b
        if partials.count > 1 {
            steps.append(partials.map(String.init).joined(separator: " + ") + " = \(product)")
        } else if partials.isEmpty {
            steps.append("\(a) * 0 = 0")
        }
        return GeneratedProblem(question: "Compute \(a) * \(b).", steps: steps, answer: String(product))
    }
}
