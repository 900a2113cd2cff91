/// A problem with its reference step-by-step trace.
public struct GeneratedProblem: Sendable, Equatable {
    /// The question.
    public let question: String
    /// The reference steps; every arithmetic claim in them verifies exactly.
    public let steps: [String]
    /// The final answer.
    public let answer: String

    /// A problem with the given question, steps and answer.
    public init(question: String, steps: [String], answer: String) {
        self.question = question
        self.steps = steps
        self.answer = answer
    }
}

/// A seeded generator of problems in one domain, each with a reference trace whose every step can be checked.
///
/// Conformers hold their difficulty knobs as stored properties, check them in `validate()`, and draw all
/// randomness from the `SeededGenerator` they are given.
public protocol TaskGenerator: Sendable {
    /// The domain this generator produces.
    var domain: TaskDomain { get }
    /// Checks the knobs.
    /// - Throws: `DataError.invalidGeneratorSetting` naming the knob and its allowed range.
    func validate() throws
    /// A random problem.
    func generate(using rng: inout SeededGenerator) -> GeneratedProblem
    /// How many distinct questions the generator can write at its knobs (exact, or an upper bound where a
    /// generator's rescaling makes an exact count hard; `Int.max` when the count does not fit), or nil when not
    /// known: `DatasetGenerator` refuses to ask for more rows than this. Questions are distinct by their text,
    /// ignoring case and spacing (`StableHash.canonicalQuestion`).
    var distinctQuestions: Int? { get }
}

extension TaskGenerator {
    /// Not known for a generator that does not say: no bound is checked before generating.
    public var distinctQuestions: Int? { nil }
}

/// Small helpers the generators share.
enum Digits {
    /// The decimal digits of a non-negative integer, least significant first.
    static func of(_ n: Int) -> [Int] {
        precondition(n >= 0, "Digits.of: \(n) is negative")
        if n == 0 { return [0] }
        var out: [Int] = []
        var m = n
        while m > 0 { out.append(m % 10); m /= 10 }
        return out
    }

    /// 10^k for small k.
    static func power(_ k: Int) -> Int {
        var p = 1
        for _ in 0..<k { p *= 10 }
        return p
    }

    /// A uniform integer with a number of digits drawn from `digits` (a 1-digit number may be 0).
    static func random(_ digits: ClosedRange<Int>, _ rng: inout SeededGenerator) -> Int {
        let d = rng.integer(in: digits)
        return rng.integer(in: (d == 1 ? 0 : power(d - 1))...(power(d) - 1))
    }

    /// How many integers `random(digits, _)` can return: 10 for one digit (0 included), 9 * 10^(d-1) for d digits.
    static func countOfNumbers(_ digits: ClosedRange<Int>) -> Int {
        digits.reduce(0) { sum, d in Distinct.sum(sum, d == 1 ? 10 : Distinct.product([9, Distinct.power(10, d - 1)])) }
    }

    /// Checks a digit-count knob against `1...maximum`.
    static func check(_ digits: ClosedRange<Int>, maximum: Int, domain: TaskDomain, setting: String) throws {
        guard digits.lowerBound >= 1, digits.upperBound <= maximum else {
            throw DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: setting,
                                                    reason: "\(digits.lowerBound)...\(digits.upperBound) must lie within 1...\(maximum)")
        }
    }
}

/// Saturating counts of question spaces (they reach 10^21 at difficulty 5): `Int.max` stands for "more than fits".
enum Distinct {
    static func sum(_ a: Int, _ b: Int) -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? Int.max : r
    }

    static func product(_ values: [Int]) -> Int {
        var out = 1
        for v in values {
            let (r, o) = out.multipliedReportingOverflow(by: v)
            if o { return Int.max }
            out = r
        }
        return out
    }

    static func power(_ base: Int, _ exponent: Int) -> Int {
        product(Array(repeating: base, count: max(0, exponent)))
    }
}
