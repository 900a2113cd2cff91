import Data
import Foundation
import Testing

// JSONL load/save with validation: every malformed line names file, line and field.

@Test func designExampleRowLoads() throws {
    let path = try writeScratch("design.jsonl", """
        {"id": "add-000017", "domain": "addition", "question": "Compute 4821 + 379.", "steps": ["1 + 9 = 10, write 0 carry 1", "2 + 7 + 1 = 10, write 0 carry 1"], "step_confidence": [0.98, 0.5], "answer": "5200", "source": "generator"}

        {"steps": [], "answer": "0", "source": null}
        """)
    let d = try TraceDataset.load(path)
    #expect(d.records.count == 2)
    #expect(d.lineNumbers == [1, 3])    // the blank line is not a row
    #expect(d.records[0].stepConfidence == [0.98, 0.5])
    #expect(d.records[0].traceText == "1 + 9 = 10, write 0 carry 1\n2 + 7 + 1 = 10, write 0 carry 1\nanswer: 5200")
    #expect(d.records[1].id == nil && d.records[1].source == nil)
}

@Test func roundTripKeepsEveryFieldAndKeyOrder() throws {
    let records = [
        TraceRecord(id: "t-1", domain: "linear", question: "Solve \"3x\" = 6\tplease\nnow.", steps: ["x = 6 / 3 = 2", "ünïcode ✓"],
                    stepConfidence: [1, 0.25], answer: "2", source: "teacher"),
        TraceRecord(steps: ["a\\b"], answer: "x"),
    ]
    let path = scratchFile("round.jsonl")
    try TraceDataset.write(records, to: path)
    #expect(try TraceDataset.load(path).records == records)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text == """
        {"id": "t-1", "domain": "linear", "question": "Solve \\"3x\\" = 6\\tplease\\nnow.", "steps": ["x = 6 / 3 = 2", "ünïcode ✓"], "step_confidence": [1, 0.25], "answer": "2", "source": "teacher"}
        {"steps": ["a\\\\b"], "answer": "x"}

        """)
    // control characters and slashes survive a round trip
    let odd = [TraceRecord(question: "a/b \u{01}\u{08}\u{0C}\u{1F} end", steps: ["tab\there \\ \"q\""], answer: "\u{7F}")]
    try TraceDataset.write(odd, to: path)
    #expect(try TraceDataset.load(path).records == odd)
    #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("\\/"), "slashes are written as they are")
}

@Test(arguments: [
    ("not json", nil, "not valid JSON"),
    ("[1, 2]", nil, "expected a JSON object"),
    (#"{"steps": ["a"]}"#, "answer", "missing"),
    (#"{"answer": "1"}"#, "steps", "missing"),
    (#"{"steps": "a", "answer": "1"}"#, "steps", "expected an array of strings"),
    (#"{"steps": ["a", 2], "answer": "1"}"#, "steps", "expected an array of strings"),
    (#"{"steps": ["a"], "answer": 72}"#, "answer", "expected a string (write numbers as strings"),
    (#"{"steps": ["a"], "answer": "1", "anser": 1}"#, "anser", "unknown field"),
    (#"{"steps": ["a\nb"], "answer": "1"}"#, "steps", "step 0 contains a line break"),
    (#"{"steps": ["a"], "answer": "1", "step_confidence": [0.5, 0.5]}"#, "step_confidence", "has 2 values for 1 steps"),
    (#"{"steps": ["a"], "answer": "1", "step_confidence": [1.5]}"#, "step_confidence", "must be in [0, 1]"),
    (#"{"steps": ["a"], "answer": "1", "id": 5}"#, "id", "expected a string"),
    (#"{"steps": ["a"], "answer": "1""#, nil, "not valid JSON"),
] as [(String, String?, String)])
func malformedLinesNameFileLineAndField(line: String, field: String?, reason: String) throws {
    let good = #"{"steps": ["1 + 1 = 2"], "answer": "2"}"#
    let path = try writeScratch("bad.jsonl", good + "\n\n" + line + "\n" + good + "\n")
    #expect {
        try TraceDataset.load(path)
    } throws: { error in
        guard case DataError.malformedLine(let f, let l, let fd, let r) = error else { return false }
        return f == path && l == 3 && fd == field && r.contains(reason)
    }
}

@Test func unreadableFiles() throws {
    #expect(throws: DataError.unreadableFile(path: "/nonexistent/x.jsonl", reason: "no such file; check the path")) {
        try TraceDataset.load("/nonexistent/x.jsonl")
    }
    let path = scratchFile("latin1.jsonl")
    try Data([0x7B, 0x22, 0xE9, 0x22, 0x7D, 0x0A]).write(to: URL(fileURLWithPath: path))   // {"é"} in Latin-1
    // Changed with issue 27's leftover of item 12: a line that is not JSON and holds a bad byte is an encoding error
    // with the byte's offset (0xE9 after `{"`: offset 2), no longer "not valid UTF-8 text".
    #expect(throws: DataError.invalidEncoding(file: path, line: 1, byteInLine: 2, byteInFile: 2, byte: 0xE9)) {
        try TraceDataset.load(path)
    }
}

@Test func unwritableFiles() {
    #expect(throws: DataError.writeFailed(path: "/nonexistent/dir/x.jsonl", reason: "the folder /nonexistent/dir does not exist; create it first")) {
        try TraceDataset.write([], to: "/nonexistent/dir/x.jsonl")
    }
}

@Test func errorMessagesSayWhereAndHow() {
    let e = DataError.malformedLine(file: "a.jsonl", line: 7, field: "answer", reason: "missing; every row needs it")
    #expect(e.description == "a.jsonl:7: field 'answer': missing; every row needs it")
}
