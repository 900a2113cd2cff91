import Foundation

/// One `prune` stage's rounds, as `distill report` shows them: after each round, the student's parameters, its
/// validation accuracy and step validity, and its decoding tokens/s (round 0 is the student as the stage began).
/// Read from the stage's metric history in its checkpoint: the `start/...` values of the stage's first step and the
/// `validation/...` row the stage logs after every round.
public struct PruningRounds: Sendable, Equatable {
    /// The student after one round.
    public struct Round: Sendable, Equatable {
        public var round: Int
        public var parameters: Int
        /// `parameters` as a fraction of the student's at the stage's start.
        public var fraction: Double
        public var accuracy: Double
        /// nil when no validation answer made a checkable claim.
        public var stepValidity: Double?
        public var tokensPerSecond: Double
        /// The round fell below `min_accuracy` and was undone: the stage's student is the round before's.
        public var undone: Bool
    }

    /// The stage's index in the curriculum.
    public var stageIndex: Int
    /// Round 0 (the start) and every validated round, in order.
    public var rounds: [Round]

    /// The rounds in `history` (metric name -> one value per logged row, NaN where a row lacks the metric), or nil
    /// when it holds none. `finalParameters` is the stage's resulting student's size: a last round smaller than that
    /// was undone.
    public init?(stageIndex: Int, history: [String: [Double]], finalParameters: Int? = nil) {
        func value(_ key: String, _ row: Int) -> Double? {
            guard let series = history[key], row < series.count, series[row].isFinite else { return nil }
            return series[row]
        }
        func round(_ prefix: String, _ row: Int, number: Int) -> Round? {
            guard let accuracy = value(prefix + "accuracy", row), let parameters = value(prefix + "parameters", row) else { return nil }
            return Round(round: number, parameters: Int(parameters), fraction: value(prefix + "parameter_fraction", row) ?? .nan,
                         accuracy: accuracy, stepValidity: value(prefix + "step_validity", row),
                         tokensPerSecond: value(prefix + "tokens_per_second", row) ?? .nan, undone: false)
        }
        let rows = history.values.map(\.count).max() ?? 0
        var rounds: [Round] = []
        for row in 0..<rows {
            if let start = round("start/", row, number: 0) { rounds.append(start) }
            if let number = value("validation/round", row), let r = round("validation/", row, number: Int(number)) { rounds.append(r) }
        }
        guard !rounds.isEmpty else { return nil }
        if let finalParameters, let last = rounds.indices.last, rounds[last].round > 0, rounds[last].parameters < finalParameters {
            rounds[last].undone = true
        }
        self.stageIndex = stageIndex
        self.rounds = rounds
    }

    /// round, parameters, fraction of the start, validation accuracy, step validity, tokens/s.
    public var table: MarkdownTable {
        MarkdownTable(headers: ["round", "parameters", "of start", "validation accuracy", "step validity", "tokens/s"],
                      rows: rounds.map { r in
                          [r.round == 0 ? "0 (start)" : r.undone ? "\(r.round) (undone: below min_accuracy)" : "\(r.round)",
                           Cell.count(r.parameters), Cell.percent(r.fraction), Cell.percent(r.accuracy),
                           Cell.percent(r.stepValidity), Cell.number(r.tokensPerSecond, decimals: 1)]
                      })
    }

    /// The section `distill report` prints and writes to report.md.
    public var markdownLines: [String] {
        ["## Pruning rounds (stage \(stageIndex))", "", table.text, "",
         "Validation figures are the stage's own (its validation split, greedy), not the suite's above.", ""]
    }

    /// As JSON: one object per round.
    public var jsonObject: [String: Any] {
        ["stage_index": stageIndex,
         "rounds": rounds.map { r -> [String: Any] in
             ["round": r.round, "parameters": r.parameters, "parameter_fraction": r.fraction.isFinite ? r.fraction : NSNull(),
              "validation_accuracy": r.accuracy, "step_validity": r.stepValidity.map { $0 as Any } ?? NSNull(),
              "tokens_per_second": r.tokensPerSecond.isFinite ? r.tokensPerSecond : NSNull(), "undone": r.undone]
         }]
    }
}
