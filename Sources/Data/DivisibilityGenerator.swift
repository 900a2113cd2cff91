/// Divisibility proofs: by the last digit for 2 and 5, by repeated digit sums for 3 and 9, by long division one
/// digit at a time for every other divisor; then the conclusion. `Does 7 divide 3192?` -> `31 = 7 * 4 + 3`,
/// `39 = 7 * 5 + 4`, `42 = 7 * 6 + 0`, `3192 = 7 * 456 + 0`, `so 7 divides 3192`.
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
    ///
    /// By 2 and 5, the last digit decides (10 is a multiple of both): `last digit: 3`, `3 = 2 * 1 + 1`, `so 2 does not
    /// divide 4153`. By 3 and 9, the digit sum keeps the remainder (10 leaves 1), taken again until one digit is
    /// left: `digit sum: 4 + 1 + 5 + 3 = 13`, `digit sum: 1 + 3 = 4`, `4 = 3 * 1 + 1`, `so 3 does not divide 4153`.
    /// Every other divisor by long division (`longDivision`). The answer comes last, never claimed up front.
    public static func solve(number n: Int, divisor d: Int) -> GeneratedProblem {
        precondition(n >= 0 && d >= 2, "DivisibilityGenerator.solve: need number >= 0 and divisor >= 2")
        var steps: [String]
        switch d {
        case 2, 5:
            let last = n % 10
            steps = ["last digit: \(last)", "\(last) = \(d) * \(last / d) + \(last % d)"]
        case 3, 9:
            steps = []
            var sum = n
            while sum >= 10 {
                let digits = Digits.of(sum).reversed()
                sum = digits.reduce(0, +)
                steps.append("digit sum: " + digits.map(String.init).joined(separator: " + ") + " = \(sum)")
            }
            steps.append("\(sum) = \(d) * \(sum / d) + \(sum % d)")
        default:
            steps = longDivision(number: n, divisor: d)
        }
        steps.append(n % d == 0 ? "so \(d) divides \(n)" : "so \(d) does not divide \(n)")
        return GeneratedProblem(question: "Does \(d) divide \(n)? Prove your answer.", steps: steps, answer: n % d == 0 ? "yes" : "no")
    }

    /// Long division, one step per digit brought down, the way addition and subtraction go column by column: the
    /// first step divides the shortest leading part of the number that is at least the divisor (the whole number
    /// when none is), each later step the last remainder with the next digit written after it (`39 = 7 * 5 + 4`).
    /// Then the whole division with the quotient's digits put together (unless the one step was already that):
    /// 3192 by 7 -> `31 = 7 * 4 + 3`, `39 = 7 * 5 + 4`, `42 = 7 * 6 + 0`, `3192 = 7 * 456 + 0`.
    static func longDivision(number n: Int, divisor d: Int) -> [String] {
        let digits = Array(Digits.of(n).reversed())
        var part = 0, next = 0
        while next < digits.count, part < d || next == 0 {
            part = part * 10 + digits[next]
            next += 1
        }
        var steps: [String] = []
        while true {
            let (q, r) = part.quotientAndRemainder(dividingBy: d)
            steps.append("\(part) = \(d) * \(q) + \(r)")
            guard next < digits.count else { break }
            part = r * 10 + digits[next]
            next += 1
        }
        let (q, r) = n.quotientAndRemainder(dividingBy: d)
        // a number divided in one step (31 by 7) has its whole division written already
        if steps.count > 1 { steps.append("\(n) = \(d) * \(q) + \(r)") }
        return steps
    }
}
