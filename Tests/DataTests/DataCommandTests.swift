import Foundation
import TestSupport
import Testing

// distill generate-data and distill verify as a user runs them: the rows they write, what they
// report, and their exit codes (0 when verify finds bad steps: finding them is its job).

@Suite("Data commands")
struct DataCommandTests {
    private func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("td-data-cli-\(getpid())-\(name)").path
    }

    @Test("generate-data writes the requested rows, and verify finds every step valid, exit 0")
    func generateThenVerify() throws {
        guard let distill = requireDistill() else { return }
        let out = temporaryPath("train.jsonl")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let made = try runDistill(distill, ["generate-data", "--domain", "addition,linear", "--count", "8", "--split", "train",
                                            "--seed", "1", "--out", out])
        #expect(made.succeeded, "generate-data: \(made)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 8)
        let r = try runDistill(distill, ["verify", out, "--json"])
        #expect(r.succeeded, "verify: \(r)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "not JSON: \(r.stdout)")
        let text = String(describing: json)
        #expect(text.contains("8"), "report should count the 8 rows: \(text)")
    }

    @Test("verify reports a wrong claim with its correct value and still exits 0; unreadable input exits non-zero")
    func verifyFindsErrors() throws {
        guard let distill = requireDistill() else { return }
        let bad = temporaryPath("bad.jsonl")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        try #"{"id": "x-1", "steps": ["2 + 3 = 6"], "answer": "5"}"#.appending("\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try runDistill(distill, ["verify", bad])
        #expect(r.succeeded, "finding errors is not a failure: \(r)")
        #expect(r.stdout.contains("x-1") && r.stdout.contains("5"), "report should name the row and the correct value 5: \(r.stdout)")

        let missing = try runDistill(distill, ["verify", temporaryPath("does-not-exist.jsonl")])
        #expect(!missing.signaled && missing.status != 0, "unreadable input must fail: \(missing)")
        let malformed = temporaryPath("malformed.jsonl")
        defer { try? FileManager.default.removeItem(atPath: malformed) }
        try "{\"steps\": 3}\n".write(toFile: malformed, atomically: true, encoding: .utf8)
        let m = try runDistill(distill, ["verify", malformed])
        #expect(!m.signaled && m.status != 0, "a malformed line must fail: \(m)")
        #expect(m.stderr.contains(malformed) && m.stderr.contains(":1") && m.stderr.contains("steps"),
                "message should name file, line and field: \(m.stderr)")
    }
}
