import Data
import Foundation
import Testing

// The leftover of issue #27 item 12: a JSONL line that is not JSON at all and holds a byte that is not UTF-8 is an
// encoding error with the byte offset (as a bad byte in a value or key already was), not "not valid UTF-8 text".

@Test("a line that is not JSON and holds invalid UTF-8: encoding error with the offset in the line and in the file")
func notJSONWithInvalidUTF8() throws {
    // Line 1 is a good row (50 bytes + newline); line 2 is `caf` 0xE9 ` au lait` (Latin-1 e-acute), not JSON.
    let good = #"{"id": "a", "steps": ["1 + 1 = 2"], "answer": "2"}"#
    var bytes = Array(good.utf8) + [0x0A]
    let lineStart = bytes.count
    bytes += Array("caf".utf8) + [0xE9] + Array(" au lait\n".utf8)
    let path = scratchFile("latin1.jsonl")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    #expect(throws: DataError.invalidEncoding(file: path, line: 2, byteInLine: 3, byteInFile: lineStart + 3, byte: 0xE9)) {
        try TraceDataset.load(path)
    }
    #expect(lineStart == 51, "the offsets above are counted by hand from this")
    // Without the bad byte the same line is a JSON error, as before.
    let plain = scratchFile("plain.jsonl")
    try Data(Array(good.utf8) + [0x0A] + Array("cafe au lait\n".utf8)).write(to: URL(fileURLWithPath: plain))
    #expect { try TraceDataset.load(plain) } throws: { error in
        guard case DataError.malformedLine(plain, 2, nil, let reason) = error else { return false }
        return reason.contains("not valid JSON")
    }
}
