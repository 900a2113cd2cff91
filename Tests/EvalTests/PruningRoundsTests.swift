import Eval
import Foundation
import Testing

// `distill report`'s pruning table from a prune stage's metric history: the start's `start/...` values and one
// `validation/...` row per round, among training rows that lack them (NaN), as the runner stores the history.
@Suite("PruningRounds")
struct PruningRoundsTests {
    private let nan = Double.nan

    /// Three logged rows per round: two training steps and the validation row; the start in the first step's row.
    private func history(roundParameters: [Double], accuracies: [Double]) -> [String: [Double]] {
        var h: [String: [Double]] = ["global_step": [], "loss": [], "start/accuracy": [], "start/parameters": [],
                                     "start/parameter_fraction": [], "start/tokens_per_second": [], "validation/round": [],
                                     "validation/accuracy": [], "validation/parameters": [], "validation/parameter_fraction": [],
                                     "validation/tokens_per_second": [], "validation/step_validity": []]
        func row(_ values: [String: Double]) {
            for k in h.keys { h[k]!.append(values[k] ?? nan) }
        }
        for (i, (p, a)) in zip(roundParameters, accuracies).enumerated() {
            row(i == 0 ? ["loss": 1, "start/accuracy": 0.9, "start/parameters": 1000, "start/parameter_fraction": 1,
                          "start/tokens_per_second": 500] : ["loss": 1])
            row(["loss": 0.9])
            row(["validation/round": Double(i + 1), "validation/accuracy": a, "validation/parameters": p,
                 "validation/parameter_fraction": p / 1000, "validation/tokens_per_second": 600, "validation/step_validity": 0.95])
        }
        return h
    }

    @Test("rounds come from the start and the validation rows, in order; training rows are skipped")
    func readsRounds() throws {
        let r = try #require(PruningRounds(stageIndex: 2, history: history(roundParameters: [950, 900], accuracies: [0.88, 0.86]),
                                           finalParameters: 900))
        #expect(r.rounds.map(\.round) == [0, 1, 2])
        #expect(r.rounds.map(\.parameters) == [1000, 950, 900])
        #expect(r.rounds.map(\.accuracy) == [0.9, 0.88, 0.86])
        #expect(r.rounds[0].stepValidity == nil && r.rounds[1].stepValidity == 0.95)
        #expect(!r.rounds.contains { $0.undone })
        let text = r.table.text
        #expect(text.contains("| 0 (start)") && text.contains("95.0%") && text.contains("86.0%"), "\(text)")
    }

    @Test("a last round smaller than the stage's final student was undone by min_accuracy and says so")
    func marksUndoneRound() throws {
        let r = try #require(PruningRounds(stageIndex: 0, history: history(roundParameters: [950, 900], accuracies: [0.88, 0.70]),
                                           finalParameters: 950))
        #expect(r.rounds.map(\.undone) == [false, false, true])
        #expect(r.table.text.contains("2 (undone: below min_accuracy)"))
        let json = r.jsonObject
        #expect((json["rounds"] as? [[String: Any]])?.last?["undone"] as? Bool == true)
    }

    @Test("a history with no round (a stage that never validated) gives no table")
    func noRounds() {
        #expect(PruningRounds(stageIndex: 0, history: ["global_step": [1, 2], "loss": [1, 0.5]]) == nil)
        #expect(PruningRounds(stageIndex: 0, history: [:]) == nil)
    }
}
