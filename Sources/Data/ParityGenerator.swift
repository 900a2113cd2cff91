/// Short parity proofs: is a sum of products even or odd? A claim, each product, the sum, the division by 2,
/// and a conclusion.
public struct ParityGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .parity }
    /// How many products are summed.
    public var terms: ClosedRange<Int>
    /// Digits of the second factor of each product (the first is a single digit 2...9).
    public var valueDigits: ClosedRange<Int>

    /// Sums of `terms` products.
    public init(terms: ClosedRange<Int> = 2...3, valueDigits: ClosedRange<Int> = 1...3) {
        self.terms = terms
        self.valueDigits = valueDigits
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        guard terms.lowerBound >= 1, terms.upperBound <= 10 else {
            throw DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: "terms",
                                                    reason: "\(terms.lowerBound)...\(terms.upperBound) must lie within 1...10")
        }
        try Digits.check(valueDigits, maximum: 15, domain: domain, setting: "valueDigits")
    }

    /// Exact: for each number of terms t, (8 first factors x the second factors)^t ordered products (a drawn 0
    /// becomes 1, which one digit already holds).
    public var distinctQuestions: Int? {
        let perProduct = Distinct.product([8, Digits.countOfNumbers(valueDigits) - (valueDigits.lowerBound == 1 ? 1 : 0)])
        return terms.reduce(0) { Distinct.sum($0, Distinct.power(perProduct, $1)) }
    }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        let count = rng.integer(in: terms)
        let products = (0..<count).map { _ in (rng.integer(in: 2...9), max(1, Digits.random(valueDigits, &rng))) }
        return Self.solve(products)
    }

    /// The question and reference proof for the parity of the sum of `products` (pairs of factors).
    public static func solve(_ products: [(Int, Int)]) -> GeneratedProblem {
        precondition(!products.isEmpty, "ParityGenerator.solve: need at least one product")
        let expression = products.map { "\($0.0) * \($0.1)" }.joined(separator: " + ")
        let values = products.map { $0.0 * $0.1 }
        let total = values.reduce(0, +)
        let parity = total % 2 == 0 ? "even" : "odd"
        var steps = ["claim: \(expression) is \(parity)"]
        for (p, v) in zip(products, values) { steps.append("\(p.0) * \(p.1) = \(v)") }
        if values.count > 1 { steps.append(values.map(String.init).joined(separator: " + ") + " = \(total)") }
        steps.append("\(total) = 2 * \(total / 2) + \(total % 2)")
        steps.append("the remainder on division by 2 is \(total % 2), so \(expression) is \(parity)")
        return GeneratedProblem(question: "Is \(expression) even or odd? Prove your answer.", steps: steps, answer: parity)
    }
}
