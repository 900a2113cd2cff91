/// What to generate: domains, how many rows, which split, the seed and the difficulty.
public struct GenerationConfig: Sendable, Equatable {
    /// The domains, in the order rows interleave.
    public var domains: [TaskDomain]
    /// Total rows, shared evenly across domains (the first domains take the remainder).
    public var count: Int
    /// The split every question must belong to.
    public var split: DatasetSplit
    /// The seed; the same config gives the same file.
    public var seed: UInt64
    /// Difficulty level, `TaskDomain.difficultyLevels` (1 easiest).
    public var difficulty: Int
    /// How questions are assigned to splits.
    public var plan: SplitPlan

    /// A config with the given fields (difficulty 2 and the standard 80/10/10 plan by default).
    public init(domains: [TaskDomain], count: Int, split: DatasetSplit, seed: UInt64, difficulty: Int = 2,
                plan: SplitPlan = .standard) {
        self.domains = domains
        self.count = count
        self.split = split
        self.seed = seed
        self.difficulty = difficulty
        self.plan = plan
    }
}

/// Generates a split of a trace dataset from seeded task generators.
///
/// Each domain draws from its own random stream (seed and domain name), keeps only questions whose hash
/// puts them in the requested split (`SplitPlan`) and drops repeats, so train, validation and test files
/// never share a question however they were generated.
public struct DatasetGenerator: Sendable {
    /// The generators, one per domain, in interleaving order.
    public let generators: [any TaskGenerator]
    /// Total rows.
    public let count: Int
    /// The split.
    public let split: DatasetSplit
    /// The seed.
    public let seed: UInt64
    /// The split assignment.
    public let plan: SplitPlan

    /// A generator for `config`, using each domain's built-in generator at the config's difficulty.
    /// - Throws: `DataError.invalidSetting` for an empty domain list, a count below 1 or a difficulty outside 1...5.
    public init(config: GenerationConfig) throws {
        guard TaskDomain.difficultyLevels.contains(config.difficulty) else {
            throw DataError.invalidSetting(setting: "difficulty", reason: "\(config.difficulty) must be in 1...5")
        }
        try self.init(generators: config.domains.map { $0.generator(difficulty: config.difficulty) },
                      count: config.count, split: config.split, seed: config.seed, plan: config.plan)
    }

    /// A generator over explicit task generators (custom knobs).
    /// - Throws: `DataError` for an empty generator list, a count below 1, or a generator's invalid knob.
    public init(generators: [any TaskGenerator], count: Int, split: DatasetSplit, seed: UInt64, plan: SplitPlan = .standard) throws {
        guard !generators.isEmpty else {
            throw DataError.invalidSetting(setting: "domain", reason: "no domain given; e.g. addition,linear")
        }
        guard count >= 1 else { throw DataError.invalidSetting(setting: "count", reason: "\(count) must be at least 1") }
        for g in generators { try g.validate() }
        self.generators = generators
        self.count = count
        self.split = split
        self.seed = seed
        self.plan = plan
    }

    /// The rows: ids `<prefix>-<split>-<index>`, source `generator`, domains interleaved.
    /// - Throws: `DataError.notEnoughQuestions` when a domain's knobs allow too few distinct questions in the split.
    public func generate() throws -> [TraceRecord] {
        var perDomain: [[TraceRecord]] = []
        for (k, g) in generators.enumerated() {
            let wanted = count / generators.count + (k < count % generators.count ? 1 : 0)
            perDomain.append(try rows(from: g, count: wanted))
        }
        var out: [TraceRecord] = []
        out.reserveCapacity(count)
        for i in 0..<(perDomain.map(\.count).max() ?? 0) {
            for rows in perDomain where i < rows.count { out.append(rows[i]) }
        }
        return out
    }

    private func rows(from generator: any TaskGenerator, count wanted: Int) throws -> [TraceRecord] {
        let domain = generator.domain
        var rng = SeededGenerator(seed: seed, stream: domain.rawValue)
        var seen = Set<UInt64>()
        var out: [TraceRecord] = []
        // Held-out splits keep about 10% of draws; 400 draws per row (plus slack) leaves room for repeats
        // before declaring the domain too small.
        let budget = 400 * wanted + 2_000
        var attempts = 0
        while out.count < wanted && attempts < budget {
            attempts += 1
            let p = generator.generate(using: &rng)
            guard plan.split(of: p.question) == split, seen.insert(StableHash.question(p.question)).inserted else { continue }
            let id = "\(domain.idPrefix)-\(split.rawValue)-" + zeroPadded(out.count, width: 6)
            out.append(TraceRecord(id: id, domain: domain.rawValue, question: p.question, steps: p.steps,
                                   answer: p.answer, source: "generator"))
        }
        guard out.count == wanted else {
            throw DataError.notEnoughQuestions(domain: domain.rawValue, split: split, requested: wanted, found: out.count)
        }
        return out
    }
}

/// A non-negative integer zero-padded to `width` digits (`000017`).
func zeroPadded(_ n: Int, width: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: Swift.max(0, width - s.count)) + s
}
