/// The built-in problem domains, by the names the command line and dataset rows use.
public enum TaskDomain: String, Sendable, CaseIterable, Codable {
    /// Multi-digit addition with carries (`AdditionGenerator`).
    case addition
    /// Multi-digit subtraction with borrows (`SubtractionGenerator`).
    case subtraction
    /// Long multiplication by partial products (`MultiplicationGenerator`).
    case multiplication
    /// Linear equations a*x + b = c (`LinearEquationGenerator`).
    case linear
    /// Greatest common divisor by Euclid's algorithm (`GCDGenerator`).
    case gcd
    /// Modular exponentiation by repeated squaring (`ModularPowerGenerator`).
    case modular
    /// Divisibility proofs (`DivisibilityGenerator`).
    case divisibility
    /// Parity proofs (`ParityGenerator`).
    case parity

    /// The prefix of generated row ids (`add-train-000017`).
    public var idPrefix: String {
        switch self {
        case .addition: return "add"
        case .subtraction: return "sub"
        case .multiplication: return "mul"
        case .linear: return "lin"
        case .gcd: return "gcd"
        case .modular: return "mod"
        case .divisibility: return "div"
        case .parity: return "par"
        }
    }

    /// The lowest and highest difficulty level.
    public static let difficultyLevels = 1...5

    /// This domain's generator at a difficulty level (1 easiest, 5 hardest). Each level widens the knobs:
    /// addition and subtraction use L+1...L+2 digits; multiplication multiplies an (L+1...L+2)-digit number by
    /// a (max(1, L-1)...L)-digit one; linear equations use coefficients up to 3+2L, solutions up to 5L in size
    /// (fractional from level 4); gcd uses L+1...L+2 digits; modular powers use bases up to 10L, exponents up to
    /// 8L and moduli up to 10L+10; divisibility uses L+1...L+3 digits, at level 1 only the divisors with a digit rule (2, 3,
    /// 5, 9), from level 2 also those done by long division (4, 6, 7, 8, 11); parity sums 2...L+1 products.
    /// - Precondition: `level` is in `difficultyLevels` (the command line checks it first).
    public func generator(difficulty level: Int) -> any TaskGenerator {
        precondition(Self.difficultyLevels.contains(level), "difficulty \(level) is outside 1...5")
        let l = level
        switch self {
        case .addition: return AdditionGenerator(digits: (l + 1)...(l + 2), operands: l >= 4 ? 3 : 2)
        case .subtraction: return SubtractionGenerator(digits: (l + 1)...(l + 2))
        case .multiplication: return MultiplicationGenerator(firstDigits: (l + 1)...(l + 2), secondDigits: max(1, l - 1)...l)
        case .linear: return LinearEquationGenerator(coefficients: 2...(3 + 2 * l), solutionMagnitude: 5 * l,
                                                     constants: 1...(10 * l), integerSolutions: l < 4)
        case .gcd: return GCDGenerator(digits: (l + 1)...(l + 2))
        case .modular: return ModularPowerGenerator(bases: 2...(10 * l), exponents: 2...(8 * l), moduli: 3...(10 * l + 10))
        case .divisibility: return DivisibilityGenerator(digits: (l + 1)...(l + 3), divisors: l == 1 ? [2, 3, 5, 9] : [2, 3, 4, 5, 6, 7, 8, 9, 11])
        case .parity: return ParityGenerator(terms: 2...(l + 1), valueDigits: 1...(l + 1))
        }
    }

    /// Parses a comma-separated list of domain names (`addition,linear`; `all` means every domain).
    /// - Throws: `DataError.invalidSetting` naming the unknown name and listing the known ones.
    public static func parseList(_ text: String) throws -> [TaskDomain] {
        var out: [TaskDomain] = []
        for part in text.split(separator: ",").map({ $0.trimmingWhitespace().lowercased() }) where !part.isEmpty {
            if part == "all" { return allCases }
            guard let d = TaskDomain(rawValue: part) else {
                throw DataError.invalidSetting(setting: "domain",
                                               reason: "unknown domain '\(part)'; choose from \(allCases.map(\.rawValue).joined(separator: ", ")) or all")
            }
            if !out.contains(d) { out.append(d) }
        }
        guard !out.isEmpty else {
            throw DataError.invalidSetting(setting: "domain", reason: "no domain given; e.g. addition,linear")
        }
        return out
    }
}
