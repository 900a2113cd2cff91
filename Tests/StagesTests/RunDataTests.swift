import Data
import Foundation
import Model
import Stages
import Testing

// A run's data that cannot train (issue #27, item 4): the message names the real cause. An empty train_file is
// "empty", not "no training row fits in 128 tokens"; a file whose rows are all too long says how many rows were
// dropped for length and how long the shortest is.

@Suite("run data: the real cause when no row is left")
struct RunDataTests {
    private func file(_ name: String, _ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "rundata-\(UUID().uuidString)-\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The CurriculumError of building the run data of `tiny` with `extra` added to its data mapping.
    private func error(_ extra: String) throws -> CurriculumError? {
        let text = CurriculumTests.tiny.replacingOccurrences(of: "max_length: 96}", with: "max_length: 96, \(extra)}")
            + "\nstages:\n  - kind: teacher-sft\n"
        let curriculum = try Curriculum(text: text, file: "c.yaml")
        do {
            _ = try RunData(curriculum: curriculum, codec: .math)
            Issue.record("expected a CurriculumError for data {\(extra)}")
            return nil
        } catch let e as CurriculumError {
            return e
        }
    }

    /// A trace row whose tokens are far more than 96.
    private func longRow(_ i: Int) -> String {
        let steps = (0..<12).map { "\"\(i) + \($0) = \(i + $0), so the running total is still \(i + $0)\"" }.joined(separator: ", ")
        return "{\"id\": \"long-\(i)\", \"question\": \"Compute \(i) + 11.\", \"steps\": [\(steps)], \"answer\": \"\(i + 11)\"}"
    }

    @Test("an empty train_file (no bytes, or blank lines only) is named and called empty, at its line")
    func emptyTrainFile() throws {
        for contents in ["", "\n\n  \n"] {
            let path = try file("empty.jsonl", contents)
            let e = try error("train_file: \(path)")
            #expect(e?.keyPath == "data.train_file", "\(String(describing: e))")
            #expect(e?.line == 3, "\(String(describing: e))")
            #expect(e?.message.contains(path) == true && e?.message.contains("is empty") == true, "\(String(describing: e))")
            #expect(e?.message.contains("max_length") == false, "not a length problem: \(String(describing: e))")
        }
    }

    @Test("an empty validation_file is named and called empty")
    func emptyValidationFile() throws {
        let path = try file("empty-validation.jsonl", "")
        let e = try error("validation_file: \(path)")
        #expect(e?.keyPath == "data.validation_file" && e?.message.contains(path) == true && e?.message.contains("is empty") == true,
                "\(String(describing: e))")
    }

    @Test("a train_file whose every row is too long says how many rows were dropped for length and the shortest length")
    func allRowsTooLong() throws {
        // Questions of the train split (the file is checked against it).
        let ids = (0..<100).filter { SplitPlan.standard.split(of: "Compute \($0) + 11.") == .train }.prefix(3)
        let path = try file("long.jsonl", ids.map(longRow).joined(separator: "\n") + "\n")
        let shortest = try ids.map { i -> Int in
            let record = try #require(try TraceDataset.load(path).records.first { $0.id == "long-\(i)" })
            return try TokenizedTrace(record, codec: .math).tokens.count
        }.min() ?? 0
        let e = try error("train_file: \(path)")
        #expect(e?.keyPath == "data.max_length", "\(String(describing: e))")
        let message = e?.message ?? ""
        #expect(message.contains("all 3 rows") && message.contains("dropped") && message.contains(path), "\(message)")
        #expect(message.contains("\(shortest) tokens") && message.contains("96"), "names the shortest row's length: \(message)")
    }
}
