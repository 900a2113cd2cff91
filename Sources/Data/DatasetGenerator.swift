/// What to generate: domains, how many rows, which split, the seed and the difficulty.
public struct GenerationConfig: Sendable, Equatable {
    /// The domains, in the order rows interleave.
    public var domains: [TaskDomain]
    /// Total rows, shared evenly across domains (the first domains take the remainder), or by `shares`.
    public var count: Int
    /// Relative shares of the rows, one per domain (normalised; nil: even).
    public var shares: [Double]?
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
                plan: SplitPlan = .standard, shares: [Double]? = nil) {
        self.domains = domains
        self.count = count
        self.shares = shares
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
    /// Each generator's share of the rows, normalised to sum to 1; nil: even.
    public let shares: [Double]?
    /// Rows of each generator: `count` apportioned evenly, the first generators taking the remainder; with `shares`,
    /// each generator's share rounded down, and the rows left over one each to the largest fractions (ties: the first).
    public let rowsPerGenerator: [Int]

    /// A generator for `config`, using each domain's built-in generator at the config's difficulty.
    /// - Throws: `DataError.invalidSetting` for an empty domain list, a count below 1 or a difficulty outside 1...5.
    public init(config: GenerationConfig) throws {
        guard TaskDomain.difficultyLevels.contains(config.difficulty) else {
            throw DataError.invalidSetting(setting: "difficulty", reason: "\(config.difficulty) must be in 1...5")
        }
        try self.init(generators: config.domains.map { $0.generator(difficulty: config.difficulty) },
                      count: config.count, split: config.split, seed: config.seed, plan: config.plan, shares: config.shares)
    }

    /// A generator over explicit task generators (custom knobs), sharing `count` evenly or by `shares` (one positive
    /// number per generator, relative: `[2, 2, 1]` gives the last a fifth).
    /// - Throws: `DataError` for an empty generator list, a count below 1, shares that are not one positive finite
    ///   number per generator, a generator's invalid knob, or a count beyond what the generators can write distinctly
    ///   (`DataError.beyondDistinctQuestions`, with the largest count).
    public init(generators: [any TaskGenerator], count: Int, split: DatasetSplit, seed: UInt64, plan: SplitPlan = .standard,
                shares: [Double]? = nil) throws {
        guard !generators.isEmpty else {
            throw DataError.invalidSetting(setting: "domain", reason: "no domain given; e.g. addition,linear")
        }
        guard count >= 1 else { throw DataError.invalidSetting(setting: "count", reason: "\(count) must be at least 1") }
        if let shares {
            guard shares.count == generators.count else {
                throw DataError.invalidSetting(setting: "shares", reason: "\(shares.count) shares for \(generators.count) domains; give one per domain")
            }
            guard shares.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw DataError.invalidSetting(setting: "shares", reason: "\(shares) must all be positive numbers")
            }
        }
        for g in generators { try g.validate() }
        self.generators = generators
        self.count = count
        self.split = split
        self.seed = seed
        self.plan = plan
        let total = shares?.reduce(0, +) ?? 1
        self.shares = shares?.map { $0 / total }
        rowsPerGenerator = Self.apportion(count, self.shares, generators.count)
        // Of the domains asked for more than they have, name the one with the fewest questions: it sets the bound.
        let over = generators.indices.compactMap { k -> (Int, Int)? in
            guard let distinct = generators[k].distinctQuestions, rowsPerGenerator[k] > distinct else { return nil }
            return (k, distinct)
        }
        if let (k, distinct) = over.min(by: { $0.1 < $1.1 }) {
            throw DataError.beyondDistinctQuestions(domain: generators[k].domain.rawValue, requested: rowsPerGenerator[k], distinct: distinct,
                                                    maximumCount: maximumCount, split: split,
                                                    splitShare: plan.fraction(of: split))
        }
    }

    /// `count` split across `n` generators evenly or by `shares` (normalised), as `rowsPerGenerator` describes.
    public static func apportion(_ count: Int, _ shares: [Double]?, _ n: Int) -> [Int] {
        guard let shares else { return (0..<n).map { count / n + ($0 < count % n ? 1 : 0) } }
        let exact = shares.map { Double(count) * $0 }
        var out = exact.map { min(count, Int($0.rounded(.down))) }
        let byFraction = exact.indices.sorted { (exact[$0] - Double(out[$0]), $1) > (exact[$1] - Double(out[$1]), $0) }
        for k in byFraction.prefix(max(0, count - out.reduce(0, +))) { out[k] += 1 }
        return out
    }

    /// The largest count whose share no generator's `distinctQuestions` is below (`Int.max` when none has a
    /// bound). It bounds what can be asked; a held-out split holds only its hash share of each domain's questions.
    public var maximumCount: Int {
        let bounds = generators.map { $0.distinctQuestions ?? Int.max }
        if let shares {
            // the share of each bounded generator reaches its bound near bound / share; step down to the exact count
            let near = zip(bounds, shares).filter { $0.0 < Int.max }.map { Double($0.0) / $0.1 }.min()
            guard let near, near < Double(Int.max / 2) else { return Int.max }
            var n = Int(near.rounded(.down)) + generators.count
            while n > 0, zip(Self.apportion(n, shares, generators.count), bounds).contains(where: { $0.0 > $0.1 }) { n -= 1 }
            return n
        }
        guard let least = bounds.min(), least < Int.max / generators.count else { return Int.max }
        // Every domain can take `least`; then one more for each leading domain that has a question to spare.
        return generators.count * least + bounds.prefix { $0 > least }.count
    }

    /// The rows: ids `<prefix>-<split>-<index>`, source `generator`, domains interleaved (with `shares`, each row from
    /// the domain furthest behind its share, so every prefix of the rows keeps the shares).
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
        var streams = generators.enumerated().map { k, g in DomainStream(generator: g, wanted: rowsPerGenerator[k], seed: seed) }
        if shares != nil {
            // the smallest (made + 1) / wanted goes next, compared exactly as (made + 1) * wanted' < (made' + 1) * wanted
            while let k = streams.indices.filter({ streams[$0].made < streams[$0].wanted }).min(by: { a, b in
                (streams[a].made + 1) * streams[b].wanted < (streams[b].made + 1) * streams[a].wanted
            }) {
                try body(try streams[k].next(split: split, plan: plan))
            }
            return
        }
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
