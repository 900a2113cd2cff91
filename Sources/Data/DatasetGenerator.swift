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

    /// A config with the given fields (difficulty 1, as a curriculum's `data.difficulty`, and the standard 80/10/10
    /// plan by default).
    public init(domains: [TaskDomain], count: Int, split: DatasetSplit, seed: UInt64, difficulty: Int = 1,
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
    /// - Throws: `DataError` for an empty generator list, a count below 1, a generator's invalid knob, or a count
    ///   beyond what the generators can write distinctly (`DataError.beyondDistinctQuestions`, with the largest count).
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
        // Of the domains asked for more than they have, name the one with the fewest questions: it sets the bound.
        let over = generators.indices.compactMap { k -> (Int, Int)? in
            guard let distinct = generators[k].distinctQuestions, share(k) > distinct else { return nil }
            return (k, distinct)
        }
        if let (k, distinct) = over.min(by: { $0.1 < $1.1 }) {
            throw DataError.beyondDistinctQuestions(domain: generators[k].domain.rawValue, requested: share(k), distinct: distinct,
                                                    maximumCount: maximumCount, split: split,
                                                    splitShare: plan.fraction(of: split))
        }
    }

    /// Rows of generator `k`: the count shared evenly, the first generators taking the remainder.
    func share(_ k: Int) -> Int {
        count / generators.count + (k < count % generators.count ? 1 : 0)
    }

    /// The largest count whose even share no generator's `distinctQuestions` is below (`Int.max` when none has a
    /// bound). It bounds what can be asked; a held-out split holds only its hash share of each domain's questions.
    public var maximumCount: Int {
        let bounds = generators.map { $0.distinctQuestions ?? Int.max }
        guard let least = bounds.min(), least < Int.max / generators.count else { return Int.max }
        // Every domain can take `least`; then one more for each leading domain that has a question to spare.
        return generators.count * least + bounds.prefix { $0 > least }.count
    }

    /// The rows: ids `<prefix>-<split>-<index>`, source `generator`, domains interleaved.
    /// - Throws: `DataError.notEnoughQuestions` when a domain's knobs allow too few distinct questions in the split.
    public func generate() throws -> [TraceRecord] {
        var out: [TraceRecord] = []
        out.reserveCapacity(count)
        try generate { out.append($0) }
        return out
    }

    /// Hands the rows of `generate()` to `body` one at a time, in the same order, as they are made, and keeps none
    /// of them: each domain draws its next row in turn (its own random stream, so the rows are those of
    /// `generate()`). What it keeps per row is the 8-byte hash of the question, to refuse repeats.
    /// - Throws: `DataError.notEnoughQuestions` as `generate()`, or what `body` throws (rows given before stay given).
    public func generate(_ body: (TraceRecord) throws -> Void) throws {
        var streams = generators.enumerated().map { k, g in DomainStream(generator: g, wanted: share(k), seed: seed) }
        while streams.contains(where: { $0.made < $0.wanted }) {
            for k in streams.indices where streams[k].made < streams[k].wanted {
                try body(try streams[k].next(split: split, plan: plan))
            }
        }
    }
}

/// One domain's draws: its random stream, the question hashes it gave, and its budget of draws.
private struct DomainStream {
    let generator: any TaskGenerator
    let wanted: Int
    var rng: SeededGenerator
    var seen = Set<UInt64>()
    var made = 0
    var attempts = 0
    /// Held-out splits keep about 10% of draws; 400 draws per row (plus slack) leaves room for repeats
    /// before declaring the domain too small.
    let budget: Int

    init(generator: any TaskGenerator, wanted: Int, seed: UInt64) {
        self.generator = generator
        self.wanted = wanted
        rng = SeededGenerator(seed: seed, stream: generator.domain.rawValue)
        let (product, overflow) = wanted.multipliedReportingOverflow(by: 400)
        budget = overflow || product > Int.max - 2_000 ? Int.max : product + 2_000
    }

    mutating func next(split: DatasetSplit, plan: SplitPlan) throws -> TraceRecord {
        let domain = generator.domain
        while attempts < budget {
            attempts += 1
            let p = generator.generate(using: &rng)
            guard plan.split(of: p.question) == split, seen.insert(StableHash.question(p.question)).inserted else { continue }
            let id = "\(domain.idPrefix)-\(split.rawValue)-" + zeroPadded(made, width: 6)
            made += 1
            return TraceRecord(id: id, domain: domain.rawValue, question: p.question, steps: p.steps, answer: p.answer, source: "generator")
        }
        throw DataError.notEnoughQuestions(domain: domain.rawValue, split: split, requested: wanted, found: made)
    }
}

/// A non-negative integer zero-padded to `width` digits (`000017`).
func zeroPadded(_ n: Int, width: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: Swift.max(0, width - s.count)) + s
}
