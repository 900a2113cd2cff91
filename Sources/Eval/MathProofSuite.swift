import Data

/// The built-in held-out suite `math-proof`: problems from all eight generated domains (arithmetic with
/// carries and borrows, long multiplication, linear equations, gcd, modular powers, divisibility and parity
/// proofs), each with a reference trace whose every step verifies.
///
/// Held out by construction: every question is drawn from the **test** split of `SplitPlan.standard`, which
/// assigns a question by a hash of its text, so no train or validation file can contain it whatever seed made
/// that file. Held out by check: `generate()` re-derives every question's split and throws
/// `EvalError.leakedQuestion` for any that is not test (so a change to the plan or the generator cannot leak
/// training questions into the suite unnoticed). The seed is reserved for this suite; training data uses
/// others (the split check above does not rely on that).
///
/// Default size: 40 problems per domain, 320 in all, at difficulty 1 (the default of `generate-data` and of a curriculum's `data.difficulty`, so a model is
/// evaluated on the kind of problem it trained on by default), rows
/// interleaved across domains so `--limit N` keeps the domains balanced.
public struct MathProofSuite: Sendable, Equatable {
    /// The suite's name on the command line.
    public static let name = "math-proof"
    /// The seed reserved for the suite ("EVAL-MP" in ASCII); do not use it for training data.
    public static let reservedSeed: UInt64 = 0x4556_414C_2D4D_50
    /// Problems per domain unless a caller asks for another size.
    public static let defaultCountPerDomain = 40

    /// The domains, in interleaving order.
    public var domains: [TaskDomain]
    /// Problems per domain.
    public var countPerDomain: Int
    /// Generator difficulty, `TaskDomain.difficultyLevels`.
    public var difficulty: Int
    /// The seed of the generators.
    public var seed: UInt64
    /// The split assignment the suite is held out under.
    public var plan: SplitPlan

    /// The suite definition (defaults: all domains, 40 each, difficulty 1, the reserved seed, the standard plan).
    public init(domains: [TaskDomain] = TaskDomain.allCases, countPerDomain: Int = MathProofSuite.defaultCountPerDomain, difficulty: Int = 1,
                seed: UInt64 = MathProofSuite.reservedSeed, plan: SplitPlan = .standard) {
        self.domains = domains
        self.countPerDomain = countPerDomain
        self.difficulty = difficulty
        self.seed = seed
        self.plan = plan
    }

    /// Generates the suite (deterministic: the same definition gives the same problems) and checks that every
    /// question belongs to the test split.
    /// - Throws: `EvalError.invalidSetting` for a count below 1 or a difficulty outside 1...5; `DataError` when a
    ///   domain has too few distinct test questions; `EvalError.leakedQuestion` when a question is not test.
    public func generate() throws -> EvalSuite {
        guard countPerDomain >= 1 else {
            throw EvalError.invalidSetting(setting: "math-proof count per domain", reason: "\(countPerDomain) must be at least 1")
        }
        guard TaskDomain.difficultyLevels.contains(difficulty) else {
            throw EvalError.invalidSetting(setting: "--difficulty", reason: "\(difficulty) must be in 1...5")
        }
        let config = GenerationConfig(domains: domains, count: countPerDomain * domains.count, split: .test, seed: seed,
                                      difficulty: difficulty, plan: plan)
        let records = try DatasetGenerator(config: config).generate()
        let suite = EvalSuite(name: Self.name, source: "built-in (seed \(seed), difficulty \(difficulty))", format: .traces,
                              problems: try EvalSuite.problems(from: records, lines: Array(1...records.count), file: Self.name))
        try Self.checkHeldOut(suite, plan: plan)
        return suite
    }

    /// Checks that every question of `suite` belongs to the test split of `plan`.
    /// - Throws: `EvalError.leakedQuestion` naming the first problem that belongs to train or validation.
    public static func checkHeldOut(_ suite: EvalSuite, plan: SplitPlan = .standard) throws {
        for p in suite.problems {
            let split = plan.split(of: p.question)
            if split != .test {
                throw EvalError.leakedQuestion(suite: suite.name, id: p.id, question: p.question, split: split.rawValue)
            }
        }
    }
}
