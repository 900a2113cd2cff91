import Reward

/// Linear equations `a*x + b = c` solved step by step: move the constant, divide by the coefficient, check.
public struct LinearEquationGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .linear }
    /// The coefficient's magnitude (never 0 or 1, so the division step is real); its sign is random.
    public var coefficients: ClosedRange<Int>
    /// The largest magnitude of the solution (integer solutions) or of the right side (fractional ones).
    public var solutionMagnitude: Int
    /// The constant's magnitude; its sign is random.
    public var constants: ClosedRange<Int>
    /// True: the solution is an integer. False: the right side is drawn freely, so the solution is often a fraction.
    public var integerSolutions: Bool

    /// Equations with the given knobs.
    public init(coefficients: ClosedRange<Int> = 2...9, solutionMagnitude: Int = 10, constants: ClosedRange<Int> = 1...20,
                integerSolutions: Bool = true) {
        self.coefficients = coefficients
        self.solutionMagnitude = solutionMagnitude
        self.constants = constants
        self.integerSolutions = integerSolutions
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        func fail(_ setting: String, _ reason: String) -> DataError {
            DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: setting, reason: reason)
        }
        guard coefficients.lowerBound >= 2, coefficients.upperBound <= 1_000_000 else {
            throw fail("coefficients", "\(coefficients.lowerBound)...\(coefficients.upperBound) must lie within 2...1000000")
        }
        guard constants.lowerBound >= 1, constants.upperBound <= 1_000_000 else {
            throw fail("constants", "\(constants.lowerBound)...\(constants.upperBound) must lie within 1...1000000")
        }
        guard (1...1_000_000).contains(solutionMagnitude) else {
            throw fail("solutionMagnitude", "\(solutionMagnitude) must be in 1...1000000")
        }
    }

    /// Exact: signed coefficients times signed constants times the 2 * solutionMagnitude + 1 choices of the solution
    /// (or of the right side), each giving another right side.
    public var distinctQuestions: Int? {
        Distinct.product([2 * coefficients.count, 2 * constants.count, 2 * solutionMagnitude + 1])
    }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        let a = rng.integer(in: coefficients) * (rng.chance(0.5) ? -1 : 1)
        let b = rng.integer(in: constants) * (rng.chance(0.5) ? -1 : 1)
        let c: Int
        if integerSolutions {
            c = a * rng.integer(in: -solutionMagnitude...solutionMagnitude) + b
        } else {
            c = rng.integer(in: -solutionMagnitude...solutionMagnitude)
        }
        return Self.solve(a: a, b: b, c: c)
    }

    /// The question and reference trace for `a*x + b = c` (`a` not 0).
    public static func solve(a: Int, b: Int, c: Int) -> GeneratedProblem {
        precondition(a != 0, "LinearEquationGenerator.solve: the coefficient must not be 0")
        let lhs = "\(a)x " + (b < 0 ? "- \(-b)" : "+ \(b)")
        var steps = ["\(lhs) = \(c)"]
        let moved = c - b
        steps.append(b < 0 ? "add \(-b) to both sides: \(a)x = \(c) + \(-b) = \(moved)"
                           : "subtract \(b) from both sides: \(a)x = \(c) - \(b) = \(moved)")
        let x = Rational(moved).divided(by: Rational(a)) ?? .zero
        let shown = x.isInteger ? x.description : "\(x.numerator)/\(x.denominator)"
        steps.append("divide both sides by \(a): x = \(moved) / \(a) = \(shown)")
        // Negative and fractional values are parenthesised so the check reads as plain substitution.
        let substituted = (x.isInteger && x >= .zero) ? shown : "(\(shown))"
        steps.append("check: \(a) * \(substituted) " + (b < 0 ? "- \(-b)" : "+ \(b)") + " = \(c)")
        return GeneratedProblem(question: "Solve \(lhs) = \(c) for x.", steps: steps, answer: shown)
    }
}
