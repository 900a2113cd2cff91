/// Short divisibility proofs: a claim, the computed division (and for 3 and 9 the digit-sum rule), and a
/// conclusion. `Does 7 divide 3192?` -> `claim: 7 divides 3192`, `3192 = 7 * 456 + 0`, ...
public struct DivisibilityGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .divisibility }
    /// Digits of the number tested.
    public var digits: ClosedRange<Int>
    /// The divisors asked about.
    public var divisors: [Int]
    /// Probability that the number is made a multiple (random numbers are rarely divisible by 7 or 11).
    public var multipleProbability: Double

    /// Divisibility questions on `digits`-digit numbers.
    public init(digits: ClosedRange<Int> = 3...5, divisors: [Int] = [2, 3, 4, 5, 6, 7, 8, 9, 11], multipleProbability: Double = 0.5) {
        self.digits = digits
        self.divisors = divisors
        self.multipleProbability = multipleProbability
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        try Digits.check(digits, maximum: 18, domain: domain, setting: "digits")
        guard !divisors.isEmpty, divisors.allSatisfy({ (2...1_000_000).contains($0) }) else {
            throw DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: "divisors",
                                                    reason: "\(divisors) must be a non-empty list of integers in 2...1000000")
        }
        guard (0...1).contains(multipleProbability) else {
            throw DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: "multipleProbability",
                                                    reason: "\(multipleProbability) must be in [0, 1]")
        }
    }

    /// An upper bound: the distinct divisors times the numbers 1...max(10^digits.upperBound - 1, largest divisor)
    /// (making a number a multiple of d never makes it larger, except one below d, which becomes d).
    public var distinctQuestions: Int? {
        let largest = Distinct.power(10, digits.upperBound)
        return Distinct.product([Set(divisors).count, largest == Int.max ? Int.max : max(largest - 1, divisors.max() ?? 0)])
    }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        let d = rng.element(of: divisors)
        var n = max(1, Digits.random(digits, &rng))
        if rng.chance(multipleProbability) { n = max(1, n / d) * d }
        return Self.solve(number: n, divisor: d)
    }

    /// The question and reference proof for "does `divisor` divide `number`?" (answer `yes` or `no`).
    public static func solve(number n: Int, divisor d: Int) -> GeneratedProblem {
        precondition(n >= 0 && d >= 2, "DivisibilityGenerator.solve: need number >= 0 and divisor >= 2")
        let (q, r) = n.quotientAndRemainder(dividingBy: d)
        let divides = r == 0
        var steps = [divides ? "claim: \(d) divides \(n)" : "claim: \(d) does not divide \(n)"]
        if d == 3 || d == 9 {
            let digits = Digits.of(n).reversed()
            let sum = digits.reduce(0, +)
            if digits.count > 1 { steps.append("digit sum: " + digits.map(String.init).joined(separator: " + ") + " = \(sum)") }
            steps.append("\(sum) mod \(d) = \(sum % d)")
        }
        steps.append("\(n) = \(d) * \(q) + \(r)")
        steps.append(divides ? "the remainder is 0, so \(d) divides \(n)"
                             : "the remainder is \(r), not 0, so \(d) does not divide \(n)")
        return GeneratedProblem(question: "Does \(d) divide \(n)? Prove your answer.", steps: steps, answer: divides ? "yes" : "no")
    }
}
