import Data
import Foundation
import TestSupport
import Testing

// Invalid UTF-8 inside a JSONL row (issue #27, item 12) is an encoding error, not "expected a string" or "expected
// a JSON object": the message names the file and line and gives the byte offset of the first bad byte, both in the
// line and in the file, so `xxd -s OFFSET` shows it.

@Suite("invalid UTF-8 in JSONL rows")
struct EncodingTests {
    /// The lines, joined with newlines, as bytes; `bad` replaces the marker `@` with the byte 0xFF.
    private func bytes(_ lines: [String]) -> [UInt8] {
        Array(lines.joined(separator: "\n").utf8).map { $0 == UInt8(ascii: "@") ? 0xFF : $0 }
    }

    private func loadError(_ lines: [String]) throws -> (path: String, message: String, bytes: [UInt8]) {
        let data = bytes(lines)
        let path = scratchFile("encoding.jsonl")
        try Data(data).write(to: URL(fileURLWithPath: path))
        do {
            _ = try TraceDataset.load(path)
            Issue.record("loaded a file with invalid UTF-8")
            return (path, "", data)
        } catch let e as DataError {
            return (path, "\(e)", data)
        }
    }

    @Test("a bad byte in a value: encoding error with file, line, byte offset in the line and in the file")
    func inValue() throws {
        let good = #"{"id": "a", "steps": ["1 + 1 = 2"], "answer": "2"}"#
        let bad = #"{"id": "b", "steps": ["2 + 2 = 4"], "answer": "x@4"}"#
        let (path, message, data) = try loadError([good, bad, good])
        let inLine = Array(bad.utf8).firstIndex(of: UInt8(ascii: "@"))!
        let inFile = data.firstIndex(of: 0xFF)!
        #expect(message.contains("\(path):2"), "\(message)")
        #expect(message.contains("UTF-8"), "\(message)")
        #expect(message.contains("byte offset \(inLine) in the line"), "\(message)")
        #expect(message.contains("byte offset \(inFile) in the file"), "\(message)")
        #expect(!message.contains("expected a string") && !message.contains("expected a JSON object"), "\(message)")
    }

    @Test("a bad byte in a key (and in a GSM8K file) is the same encoding error")
    func inKey() throws {
        let bad = #"{"id": "a", "st@ps": ["1 + 1 = 2"], "answer": "2"}"#
        let (path, message, _) = try loadError([bad])
        let inLine = Array(bad.utf8).firstIndex(of: UInt8(ascii: "@"))!
        #expect(message.contains("\(path):1"), "\(message)")
        #expect(message.contains("UTF-8") && message.contains("byte offset \(inLine) in the line"), "\(message)")
        #expect(!message.contains("expected a JSON object"), "\(message)")

        let gsm = scratchFile("gsm8k.jsonl")
        try Data(bytes([#"{"question": "q@", "answer": "1 + 1 = <<1+1=2>>2\n#### 2"}"#])).write(to: URL(fileURLWithPath: gsm))
        #expect {
            _ = try GSM8KProblem.loadTraces(gsm)
        } throws: { e in
            "\(e)".contains("\(gsm):1") && "\(e)".contains("UTF-8") && "\(e)".contains("byte offset 15 in the line")
        }
    }

    @Test("distill verify on a file with a bad byte exits 1 with the encoding message")
    func verifyCommand() throws {
        guard let distill = requireDistill() else { return }
        let path = scratchFile("verify-encoding.jsonl")
        try Data(bytes([#"{"steps": ["1 + 1 = 2"], "answer": "@"}"#])).write(to: URL(fileURLWithPath: path))
        let r = try runDistill(distill, ["verify", path])
        #expect(!r.signaled && r.status == 1, "\(r)")
        #expect(r.stderr.contains("\(path):1") && r.stderr.contains("UTF-8") && r.stderr.contains("byte offset 36 in the line"), "\(r.stderr)")
    }
}
