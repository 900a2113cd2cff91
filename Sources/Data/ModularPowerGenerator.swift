/// Modular exponentiation by repeated squaring: `7^13 mod 11`, squaring `7^1, 7^2, 7^4, 7^8` modulo 11 and
/// multiplying the powers that make up 13 = 1 + 4 + 8.
public struct ModularPowerGenerator: TaskGenerator {
    /// The domain name this generator writes into rows.
    public var domain: TaskDomain { .modular }
    /// The base.
    public var bases: ClosedRange<Int>
    /// The exponent.
    public var exponents: ClosedRange<Int>
    /// The modulus.
    public var moduli: ClosedRange<Int>

    /// Powers with the given ranges.
    public init(bases: ClosedRange<Int> = 2...20, exponents: ClosedRange<Int> = 2...16, moduli: ClosedRange<Int> = 3...30) {
        self.bases = bases
        self.exponents = exponents
        self.moduli = moduli
    }

    /// Checks every knob against its allowed range (`DataError.invalidGeneratorSetting` otherwise).
    public func validate() throws {
        func check(_ r: ClosedRange<Int>, _ lo: Int, _ hi: Int, _ name: String) throws {
            guard r.lowerBound >= lo, r.upperBound <= hi else {
                throw DataError.invalidGeneratorSetting(domain: domain.rawValue, setting: name,
                                                        reason: "\(r.lowerBound)...\(r.upperBound) must lie within \(lo)...\(hi)")
            }
        }
        // The verifier evaluates b^e exactly and refuses powers above 2^16 bits: 1000^1000 is about 10,000 bits.
        try check(bases, 2, 1000, "bases")
        try check(exponents, 2, 1000, "exponents")
        // Products of two residues must fit Int64.
        try check(moduli, 2, 1_000_000_000, "moduli")
    }

    /// Exact: bases times exponents times moduli.
    public var distinctQuestions: Int? { Distinct.product([bases.count, exponents.count, moduli.count]) }

    /// A random problem drawn with `rng`, solved by `solve`.
    public func generate(using rng: inout SeededGenerator) -> GeneratedProblem {
        Self.solve(base: rng.integer(in: bases), exponent: rng.integer(in: exponents), modulus: rng.integer(in: moduli))
    }

    /// The question and reference trace for `base^exponent mod modulus`.
    public static func solve(base: Int, exponent: Int, modulus: Int) -> GeneratedProblem {
        precondition(base >= 1 && exponent >= 1 && modulus >= 2, "ModularPowerGenerator.solve: need base >= 1, exponent >= 1, modulus >= 2")
        let m = modulus
        var steps: [String] = []
        // Binary decomposition of the exponent, smallest power first.
        var parts: [Int] = []
        var bit = 1
        while bit <= exponent {
            if exponent & bit != 0 { parts.append(bit) }
            bit <<= 1
        }
        if parts.count > 1 { steps.append("\(exponent) = " + parts.map(String.init).joined(separator: " + ")) }
        // residue[k] = base^(2^k) mod m, by squaring.
        var residues: [Int: Int] = [1: base % m]
        steps.append("\(base)^1 mod \(m) = \(base % m)")
        var power = 1
        while power * 2 <= exponent {
            let r = residues[power]!
            power *= 2
            residues[power] = (r * r) % m
            steps.append("\(base)^\(power) mod \(m) = \(r) * \(r) mod \(m) = \(r * r) mod \(m) = \(residues[power]!)")
        }
        // Multiply the needed powers in, one at a time.
        var accumulated = parts[0], value = residues[parts[0]]!
        for p in parts.dropFirst() {
            let r = residues[p]!
            accumulated += p
            steps.append("\(base)^\(accumulated) mod \(m) = \(value) * \(r) mod \(m) = \(value * r) mod \(m) = \((value * r) % m)")
            value = (value * r) % m
        }
        return GeneratedProblem(question: "Compute \(base)^\(exponent) mod \(m).", steps: steps, answer: String(value))
    }
}
