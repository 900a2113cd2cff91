/// Multi-digit addition with carries, one step per column: `1 + 9 = 10, write 0 carry 1`.
public struct AdditionGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .addition }
    /// How many digits each operand has (drawn per operand).
    public var digits: ClosedRange<Int>
    /// How many numbers are added.
    public var operands: Int

    /// Adds `operands` numbers of `digits` digits each.
    public init(digits: ClosedRange<Int> = 2...4, operands: Int = 2) {
        self.digits = digits
        self.operands = operands
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        // 18 digits keep every sum of up to five operands inside Int64.
        try Digits.check(digits, maximum: 18, domain: domain, setting: "digits")
        guard (2...5).contains(operands) else {
            throw DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: "operands", reason: "\(operands) must be in 2...5")
        }
    }

    /// Exact: every ordered tuple of operands is a different question.
    public var distinctQuestions: Int? { Distinct.power(Digits.countOfNumbers(digits), operands) }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        Self.solve((0..<operands).map { _ in Digits.random(digits, &rng) })
    }

    /// The question and reference trace for adding `numbers` (non-negative).
    ///
    /// Column by column from the ones: the column's digits and the carry in, their sum, the digit written and
    /// the carry out; a column with a single digit and no carry is copied down. A final carry becomes the
    /// leading digit; the last step states the whole sum.
    public static func solve(_ numbers: [Int]) -> GeneratedProblem {
        let expression = numbers.map(String.init).joined(separator: " + ")
        let columns = numbers.map(Digits.of)
        let width = columns.map(\.count).max() ?? 1
        var steps: [String] = []
        var carry = 0
        for c in 0..<width {
            let terms = columns.compactMap { c < $0.count ? $0[c] : nil } + (carry > 0 ? [carry] : [])
            let sum = terms.reduce(0, +)
            if terms.count == 1 {
                steps.append("write \(sum)")
                carry = 0
                continue
            }
            let text = terms.map(String.init).joined(separator: " + ") + " = \(sum), write \(sum % 10)"
            carry = sum / 10
            steps.append(carry > 0 ? text + " carry \(carry)" : text)
        }
        if carry > 0 { steps.append("write the final carry \(carry)") }
        let total = numbers.reduce(0, +)
        steps.append("\(expression) = \(total)")
        return GeneratedProblem(question: "Compute \(expression).", steps: steps, answer: String(total))
    }
}
