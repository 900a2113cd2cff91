/// Assigns every question to a split by a hash of the question, so held-out splits are disjoint by
/// construction: a question's split does not depend on the seed, the run or the order of generation
/// (the same idea as hash-based splits in TFDS), and any loader can check a file against it.
public struct SplitPlan: Sendable, Equatable {
    /// Fraction of questions that belong to train.
    public let trainFraction: Double
    /// Fraction that belong to validation (the rest is test).
    public let validationFraction: Double
    /// Mixed into the hash; changing it reassigns every question.
    public let salt: String

    /// 80% train, 10% validation, 10% test.
    public static let standard = SplitPlan(unchecked: 0.8, 0.1, salt: "tracedistill-split-v1")

    /// A plan with the given fractions (test gets the rest).
    /// - Throws: `DataError.invalidSetting` unless both fractions are in [0, 1] and sum to at most 1.
    public init(trainFraction: Double, validationFraction: Double, salt: String = "tracedistill-split-v1") throws {
        guard trainFraction >= 0, validationFraction >= 0, trainFraction + validationFraction <= 1 else {
            throw DataError.invalidSetting(setting: "split fractions",
                                           reason: "train \(trainFraction) and validation \(validationFraction) must be >= 0 and sum to at most 1")
        }
        self.init(unchecked: trainFraction, validationFraction, salt: salt)
    }

    private init(unchecked train: Double, _ validation: Double, salt: String) {
        trainFraction = train
        validationFraction = validation
        self.salt = salt
    }

    /// The share of all questions that `split` holds (the hash spreads questions over the splits in these shares).
    public func fraction(of split: DatasetSplit) -> Double {
        switch split {
        case .train: return trainFraction
        case .validation: return validationFraction
        case .test: return max(0, 1 - trainFraction - validationFraction)
        }
    }

    /// The split `question` belongs to.
    public func split(of question: String) -> DatasetSplit {
        // 10,000 buckets: fine enough for any fraction written with up to four decimals.
        let bucket = Double(StableHash.fnv1a64(salt + "\u{1F}" + StableHash.canonicalQuestion(question)) % 10_000) / 10_000
        if bucket < trainFraction { return .train }
        if bucket < trainFraction + validationFraction { return .validation }
        return .test
    }

    /// Checks that every row of `dataset` has a question belonging to `split`.
    /// - Throws: `DataError.splitMismatch` naming the first row that does not (or `malformedLine` for a row
    ///   without a question).
    public func check(_ dataset: TraceDataset, belongsTo split: DatasetSplit) throws {
        for (record, line) in zip(dataset.records, dataset.lineNumbers) {
            guard let question = record.question else {
                throw DataError.malformedLine(file: dataset.path, line: line, field: "question",
                                              reason: "missing; a split check needs every row's question")
            }
            let actual = self.split(of: question)
            if actual != split {
                throw DataError.splitMismatch(file: dataset.path, line: line, id: record.id ?? "line \(line)",
                                              expected: split, actual: actual)
            }
        }
    }

    /// Checks that no question of `heldOut` also appears in `train` (compared by the hash of the canonical
    /// question), for datasets that were not split by this plan (for example published ones).
    /// - Throws: `DataError.splitOverlap` with the count and a few examples.
    public static func checkDisjoint(_ train: [TraceRecord], _ heldOut: [TraceRecord]) throws {
        let seen = Set(train.compactMap { $0.question.map(StableHash.question) })
        let shared = heldOut.compactMap(\.question).filter { seen.contains(StableHash.question($0)) }
        if !shared.isEmpty { throw DataError.splitOverlap(count: shared.count, examples: Array(shared.prefix(3))) }
    }
}
