import Checkpoint
import Eval
import Foundation
import Model
import ModelIO
import Stages
import TestSupport
import Testing

// Issue 24's `prune` stage: its settings are checked as every key is (FILE:LINE: key.path). The runs through the
// built binary (the smaller student, resume after kills, exports, min_accuracy) are DistillCLITests' PruneCommandTests.

@Suite("prune stage", .serialized)
struct PruneStageTests {

    /// The 1-based line of the first line of `text` that contains `needle`.
    private func line(of needle: String, in text: String) -> Int? {
        text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }

    @Test("bad settings stop with FILE:LINE: stages[i].key and how to fix it")
    func configErrors() throws {
        func prune(_ lines: String, student: String? = nil) -> String {
            var text = CurriculumTests.tiny + "\nstages:\n  - kind: prune\n" + lines
            if let student { text = text.replacingOccurrences(of: "student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}", with: student) }
            return text
        }
        for (lines, key, phrase) in [("    target: 1\n", "target", "must be a fraction in (0, 1)"),
                                     ("    target: 0\n", "target", "must be a fraction in (0, 1)"),
                                     ("    fraction_per_round: 0\n", "fraction_per_round", "must be in (0, 0.5]"),
                                     ("    fraction_per_round: 0.6\n", "fraction_per_round", "must be in (0, 0.5]"),
                                     ("    steps: 10\n", "steps", "give that instead"),
                                     ("    patience: 2\n", "patience", "remove it"),
                                     ("    calibration: 8\n", "calibration", "only used with score: activation"),
                                     ("    score: magnitude\n", "score", "is not one of: l1, activation")] {
            let text = prune(lines)
            let e = curriculumError(text)
            #expect(e?.keyPath == "stages[0].\(key)" && e?.line == line(of: lines.trimmingCharacters(in: .whitespacesAndNewlines), in: text),
                    "\(lines): \(String(describing: e))")
            #expect(e?.message.contains(phrase) == true, "\(lines): \(String(describing: e))")
        }
        // one KV group and a small MLP: by hand, 1 layer of d 16 with 2 query heads of width 8 reading 1 KV group holds
        // q 256 + k 128 + v 128 + o 256 = 768 attention weights, which no layer can lose; far more than 30% is left
        let oneGroup = "student: {layers: 1, hidden_size: 16, heads: 2, kv_heads: 1, intermediate_size: 8}"
        let text = prune("    target: 0.3\n", student: oneGroup)
        let e = curriculumError(text)
        #expect(e?.keyPath == "stages[0].target" && e?.line == line(of: "target: 0.3", in: text), "\(String(describing: e))")
        #expect(e?.message.contains("one KV group left") == true && e?.message.contains("raise target to at least") == true, "\(String(describing: e))")
        // nothing to prune at all
        let none = curriculumError(prune("    target: 0.9\n", student: "student: {layers: 1, hidden_size: 16, heads: 2, kv_heads: 1, intermediate_size: 1}"))
        #expect(none?.message.contains("nothing is left to prune") == true, "\(String(describing: none))")
        // a round budget below one channel per layer (3 x 16 = 48 parameters) can remove nothing
        let tiny = curriculumError(prune("    fraction_per_round: 0.001\n"))
        #expect(tiny?.keyPath == "stages[0].fraction_per_round" && tiny?.message.contains("raise it to at least") == true, "\(String(describing: tiny))")
        // a student cut from the teacher is cut again when teacher-sft completes: that stage after prune would undo it
        let recut = curriculumError(CurriculumTests.tiny.replacingOccurrences(of: "student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}",
                                                                              with: "student: {from_teacher: {layers: [1]}}")
                                    + "\nstages:\n  - kind: prune\n  - kind: teacher-sft\n    steps: 2\n")
        #expect(recut?.keyPath == "stages[0]" && recut?.message.contains("put prune after teacher-sft") == true, "\(String(describing: recut))")
        // the defaults are accepted and print back to the same settings
        let c = try Curriculum(text: prune("    min_accuracy: 0.5\n    score: activation\n    calibration: 4\n"), file: "first.yaml")
        let again = try Curriculum(text: c.resolvedDescription, file: "resolved.yaml")
        let p = try #require(c.stages[0].configuration as? PruneConfiguration), q = try #require(again.stages[0].configuration as? PruneConfiguration)
        #expect(p.target == 0.7 && p.fractionPerRound == 0.05 && p.stepsPerRound == 20 && p.minAccuracy == 0.5 && p.score == .activation)
        #expect(p.target == q.target && p.fractionPerRound == q.fractionPerRound && p.stepsPerRound == q.stepsPerRound && p.minAccuracy == q.minAccuracy
                && p.score == q.score && p.calibration == q.calibration && p.fineTune.training == q.fineTune.training
                && p.fineTune.alphaStart == q.fineTune.alphaStart && p.fineTune.temperature == q.fineTune.temperature, "\(c.resolvedDescription)")
    }
}
