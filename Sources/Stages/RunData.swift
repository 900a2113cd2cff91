import Data
import Foundation
import Model

/// The questions and reference traces of a run: training and validation rows (generated from the curriculum's
/// data settings, or read from its files), each tokenized once.
public struct RunData {
    public let train: [TraceRecord]
    public let validation: [TraceRecord]
    public let trainTokens: [TokenizedTrace]
    /// How many training rows (the first ones kept) have a reference trace the student's side may read
    /// (`data.reference_traces`; every row when unset).
    public let referenceCount: Int
    /// Those rows, and their tokens.
    public var references: [TraceRecord] { Array(train.prefix(referenceCount)) }
    public var referenceTokens: [TokenizedTrace] { Array(trainTokens.prefix(referenceCount)) }
    public let validationTokens: [TokenizedTrace]
    /// Rows left out because they were longer than `data.max_length` tokens.
    public let droppedForLength: Int

    /// Generates (or loads) and tokenizes the rows.
    public init(curriculum: Curriculum, codec: TraceCodec) throws {
        let d = curriculum.data
        let seed = d.seed ?? curriculum.seed
        /// The line of `data.key` in the curriculum, for messages (nil when it is not written there).
        func line(_ key: String) -> Int? { (try? ConfigNode.parse(yaml: curriculum.text, file: curriculum.file).child("data").child(key))?.line }
        func rows(_ split: DatasetSplit, _ count: Int, _ file: String?, key: String) throws -> [TraceRecord] {
            guard let file else {
                return try DatasetGenerator(config: GenerationConfig(domains: d.domains, count: count, split: split,
                                                                     seed: seed, difficulty: d.difficulty, shares: d.domainShares)).generate()
            }
            let records = try TraceDataset.load(file, split: split).records
            guard !records.isEmpty else {
                throw CurriculumError(file: curriculum.file, keyPath: "data.\(key)", line: line(key),
                                      message: "\(file) is empty (no rows); add \(split.rawValue) rows (JSONL, one trace per line, e.g. "
                                        + "from `distill generate-data --split \(split.rawValue)`) or remove \(key) to generate them")
            }
            return records
        }
        var dropped = 0
        func keep(_ records: [TraceRecord], _ file: String?, _ what: String) throws -> ([TraceRecord], [TokenizedTrace]) {
            var kept: [TraceRecord] = [], tokens: [TokenizedTrace] = []
            var shortestDropped = Int.max
            for r in records {
                let t = try TokenizedTrace(r, codec: codec)
                if t.tokens.count > d.maxLength {
                    dropped += 1
                    shortestDropped = min(shortestDropped, t.tokens.count)
                    continue
                }
                kept.append(r)
                tokens.append(t)
            }
            guard kept.isEmpty, !records.isEmpty else { return (kept, tokens) }
            let rows = records.count == 1 ? "the only row" : "all \(records.count) rows"
            let source = file.map { " of \($0)" } ?? " generated"
            throw CurriculumError(file: curriculum.file, keyPath: "data.max_length", line: line("max_length"),
                                  message: "no \(what) row fits in \(d.maxLength) tokens: \(rows)\(source) were dropped for length "
                                    + "(the shortest is \(shortestDropped) tokens); raise max_length to at least \(shortestDropped) "
                                    + "or use shorter rows")
        }
        (train, trainTokens) = try keep(try rows(.train, d.trainSize, d.trainFile, key: "train_file"), d.trainFile, "training")
        (validation, validationTokens) = try keep(try rows(.validation, d.validationSize, d.validationFile, key: "validation_file"),
                                                  d.validationFile, "validation")
        droppedForLength = dropped
        guard !train.isEmpty, !validation.isEmpty else {
            throw CurriculumError(file: curriculum.file, keyPath: train.isEmpty ? "data.train_size" : "data.validation_size", line: nil,
                                  message: "no \(train.isEmpty ? "training" : "validation") rows were generated; raise the size")
        }
        referenceCount = d.referenceTraces ?? train.count
        guard referenceCount <= train.count else {
            throw CurriculumError(file: curriculum.file, keyPath: "data.reference_traces", line: nil,
                                  message: "\(referenceCount) exceeds the \(train.count) training rows that fit in max_length \(d.maxLength) tokens; lower it, add rows or raise max_length")
        }
    }
}
