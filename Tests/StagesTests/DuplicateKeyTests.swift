import Foundation
import Stages
import TestSupport
import Testing

// A key written twice in one mapping of a curriculum (issue #27, item 11): the error is `FILE:LINE: key.path:
// duplicate key ...` at the second occurrence (the one to delete or rename), names the first one's line, and
// does not print the whole file.

@Suite("duplicate keys in a curriculum")
struct DuplicateKeyTests {
    private func error(_ text: String, file: String = "c.yaml", sourceLocation: SourceLocation = #_sourceLocation) -> CurriculumError? {
        curriculumError(text, file: file, sourceLocation: sourceLocation)
    }

    @Test("a duplicate key inside a stage: the second occurrence's line and key path, the first one's line named")
    func inStage() {
        let text = CurriculumTests.tiny + "\nstages:\n  - kind: teacher-sft\n    steps: 7\n    batch_size: 4\n    steps: 9\n"
        // lines: 1-5 tiny, 6 stages:, 7 kind, 8 steps: 7, 9 batch_size, 10 steps: 9
        let e = error(text)
        #expect(e?.line == 10, "\(String(describing: e))")
        #expect(e?.keyPath == "stages[0].steps", "\(String(describing: e))")
        #expect(e?.message.contains("duplicate key") == true && e?.message.contains("line 8") == true, "\(String(describing: e))")
        let description = e.map { "\($0)" } ?? ""
        #expect(description.hasPrefix("c.yaml:10: stages[0].steps: duplicate key"), "\(description)")
        #expect(!description.contains("hidden_size") && !description.contains("\n"), "no copy of the file: \(description)")
    }

    @Test("a duplicate top-level key and one in a flow mapping are found at their second occurrence")
    func topLevelAndFlow() {
        let top = error(CurriculumTests.tiny + "\nseed: 2\nstages:\n  - kind: teacher-sft\n")
        #expect(top?.line == 6 && top?.keyPath == "seed" && top?.message.contains("line 2") == true, "\(String(describing: top))")

        let flow = error(CurriculumTests.tiny.replacingOccurrences(of: "max_length: 96}", with: "max_length: 96, train_size: 9}")
                         + "\nstages:\n  - kind: teacher-sft\n")
        #expect(flow?.line == 3 && flow?.keyPath == "data.train_size", "\(String(describing: flow))")
        #expect(flow.map { "\($0)" }?.hasPrefix("c.yaml:3: data.train_size: duplicate key") == true, "\(String(describing: flow))")
    }

    @Test("a key written three times is reported at its second occurrence; the file name comes from load(path:)")
    func threeTimesAndFile() throws {
        let text = CurriculumTests.tiny + "\nstages:\n  - kind: teacher-sft\n    steps: 1\n    steps: 2\n    steps: 3\n"
        let e = error(text)
        #expect(e?.line == 9 && e?.keyPath == "stages[0].steps", "\(String(describing: e))")

        let path = NSTemporaryDirectory() + "duplicate-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try Curriculum.load(path: path)
            Issue.record("loaded a curriculum with a duplicate key")
        } catch let e as CurriculumError {
            #expect("\(e)".hasPrefix("\(path):9: stages[0].steps: duplicate key"), "\(e)")
        }
    }
}
