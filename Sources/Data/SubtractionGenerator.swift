/// Multi-digit subtraction with borrows, one step per column: `13 - 1 - 9 = 3, write 3 borrow 1`.
public struct SubtractionGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .subtraction }
    /// How many digits each operand has (the larger number comes first, so answers are never negative).
    public var digits: ClosedRange<Int>

    /// Subtracts numbers of `digits` digits.
    public init(digits: ClosedRange<Int> = 2...4) {
        self.digits = digits
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        try Digits.check(digits, maximum: 18, domain: domain, setting: "digits")
    }

    /// Exact: the larger number comes first, so a question is an unordered pair of numbers (equal ones included).
    public var distinctQuestions: Int? {
        let n = Digits.countOfNumbers(digits), pairs = Distinct.product([n, n + 1])
        return pairs == Int.max ? Int.max : pairs / 2
    }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        let a = Digits.random(digits, &rng), b = Digits.random(digits, &rng)
        return Self.solve(max(a, b), min(a, b))
    }

    /// The question and reference trace for `minuend - subtrahend` (`minuend >= subtrahend >= 0`).
    ///
    /// Each column subtracts the borrow in and the lower digit from the upper one; when that would go below
    /// zero the upper digit borrows ten (`13 - 1 - 9`) and the column passes a borrow of 1 on. A column with
    /// nothing to subtract is copied down. The last step states the whole difference.
    public static func solve(_ minuend: Int, _ subtrahend: Int) -> GeneratedProblem {
        precondition(minuend >= subtrahend && subtrahend >= 0, "SubtractionGenerator.solve: need \(minuend) >= \(subtrahend) >= 0")
        let top = Digits.of(minuend), bottom = Digits.of(subtrahend)
        var steps: [String] = []
        var borrow = 0
        for c in 0..<top.count {
            let lower = c < bottom.count ? bottom[c] : nil
            guard borrow > 0 || lower != nil else {
                steps.append("write \(top[c])")
                continue
            }
            let subtracted = (borrow > 0 ? [borrow] : []) + (lower.map { [$0] } ?? [])
            var upper = top[c]
            let needsBorrow = upper - subtracted.reduce(0, +) < 0
            if needsBorrow { upper += 10 }
            let value = upper - subtracted.reduce(0, +)
            let text = ([upper] + subtracted).map(String.init).joined(separator: " - ") + " = \(value), write \(value)"
            steps.append(needsBorrow ? text + " borrow 1" : text)
            borrow = needsBorrow ? 1 : 0
        }
        let difference = minuend - subtrahend
        steps.append("\(minuend) - \(subtrahend) = \(difference)")
        return GeneratedProblem(question: "Compute \(minuend) - \(subtrahend).", steps: steps, answer: String(difference))
    }
}
