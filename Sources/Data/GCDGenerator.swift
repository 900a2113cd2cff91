/// Greatest common divisor by Euclid's algorithm: `252 = 2 * 105 + 42`, `105 = 2 * 42 + 21`, `42 = 2 * 21 + 0`.
public struct GCDGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .gcd }
    /// Digits of each number.
    public var digits: ClosedRange<Int>
    /// Probability that both numbers share a factor drawn from 2...12 (random pairs are mostly coprime).
    public var sharedFactorProbability: Double

    /// Pairs of `digits`-digit numbers.
    public init(digits: ClosedRange<Int> = 2...4, sharedFactorProbability: Double = 0.7) {
        self.digits = digits
        self.sharedFactorProbability = sharedFactorProbability
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        try Digits.check(digits, maximum: 18, domain: domain, setting: "digits")
        guard (0...1).contains(sharedFactorProbability) else {
            throw DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: "sharedFactorProbability",
                                                    reason: "\(sharedFactorProbability) must be in [0, 1]")
        }
    }

    /// An upper bound: unordered pairs of numbers in 1...max(10^digits.upperBound - 1, 12) (scaling by a shared
    /// factor k never makes a number larger, except one below k, which becomes k <= 12).
    public var distinctQuestions: Int? {
        let largest = Distinct.power(10, digits.upperBound)
        let n = largest == Int.max ? Int.max : max(largest - 1, 12), pairs = Distinct.product([n, Distinct.sum(n, 1)])
        return pairs == Int.max ? Int.max : pairs / 2
    }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        var a = max(1, Digits.random(digits, &rng)), b = max(1, Digits.random(digits, &rng))
        if rng.chance(sharedFactorProbability) {
            let k = rng.integer(in: 2...12)
            // Scale down first so the products keep roughly the requested number of digits.
            a = max(1, a / k) * k
            b = max(1, b / k) * k
        }
        return Self.solve(max(a, b), min(a, b))
    }

    /// The question and reference trace for gcd(`a`, `b`), `a >= b >= 1`.
    public static func solve(_ a: Int, _ b: Int) -> GeneratedProblem {
        precondition(a >= b && b >= 1, "GCDGenerator.solve: need \(a) >= \(b) >= 1")
        var steps: [String] = []
        var x = a, y = b
        while y != 0 {
            let (q, r) = x.quotientAndRemainder(dividingBy: y)
            steps.append("\(x) = \(q) * \(y) + \(r)")
            (x, y) = (y, r)
        }
        steps.append("the remainder is 0, so the last divisor \(x) is the greatest common divisor")
        return GeneratedProblem(question: "Find the greatest common divisor of \(a) and \(b).", steps: steps, answer: String(x))
    }
}
