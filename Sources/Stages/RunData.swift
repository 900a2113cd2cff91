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
        func rows(_ split: DatasetSplit, _ count: Int, _ file: String?) throws -> [TraceRecord] {
            if let file { return try TraceDataset.load(file, split: split).records }
            return try DatasetGenerator(config: GenerationConfig(domains: d.domains, count: count, split: split,
                                                                 seed: seed, difficulty: d.difficulty)).generate()
        }
        var dropped = 0
        func keep(_ records: [TraceRecord]) throws -> ([TraceRecord], [TokenizedTrace]) {
            var kept: [TraceRecord] = [], tokens: [TokenizedTrace] = []
            for r in records {
                let t = try TokenizedTrace(r, codec: codec)
                if t.tokens.count > d.maxLength { dropped += 1; continue }
                kept.append(r)
                tokens.append(t)
            }
            return (kept, tokens)
        }
        (train, trainTokens) = try keep(try rows(.train, d.trainSize, d.trainFile))
        (validation, validationTokens) = try keep(try rows(.validation, d.validationSize, d.validationFile))
        droppedForLength = dropped
        guard !train.isEmpty, !validation.isEmpty else {
            throw CurriculumError(file: curriculum.file, keyPath: "data.max_length", line: nil,
                                  message: "no \(train.isEmpty ? "training" : "validation") row fits in \(d.maxLength) tokens; raise max_length")
        }
        referenceCount = d.referenceTraces ?? train.count
        guard referenceCount <= train.count else {
            throw CurriculumError(file: curriculum.file, keyPath: "data.reference_traces", line: nil,
                                  message: "\(referenceCount) exceeds the \(train.count) training rows that fit in max_length \(d.maxLength) tokens; lower it, add rows or raise max_length")
        }
    }
}
