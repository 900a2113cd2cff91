import Foundation
import Testing
import Tokenizers

// Encoding speed on the GSM8K train text (when the data set is on this machine): prints MB/s and checks the
// whole text encodes in a few seconds. scripts/bench_tokenizers.py measures the library on the same text.

/// GSM8K train as one text: each row's question, a newline, its answer; rows joined by newlines.
func gsm8kTrainText() throws -> String? {
    let path = "/work/shared/data/gsm8k/train.jsonl"
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
        let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        return "\(row["question"] as! String)\n\(row["answer"] as! String)"
    }
    return rows.joined(separator: "\n")
}

@Test func encodesGSM8KTrainInAFewSeconds() throws {
    guard let text = try gsm8kTrainText() else {
        print("skipping: /work/shared/data/gsm8k/train.jsonl is not on this machine")
        return
    }
    let megabytes = Double(text.utf8.count) / 1_000_000
    let lines = text.split(separator: "\n").map(String.init)
    var tokenizers = try TokenizerFixtures.names.map { ($0, try TokenizerFixtures.tokenizer($0)) }
    if let smol = try? SmolLM2GGUF.tokenizer() { tokenizers.append(("smollm2-gguf", smol)) }
    for (name, tokenizer) in tokenizers {
        // Cold: the first encode fills the per-word cache; warm: the same text again.
        var start = Date()
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        let cold = Date().timeIntervalSince(start)
        start = Date()
        _ = tokenizer.encode(text, addSpecialTokens: false)
        let warm = Date().timeIntervalSince(start)
        start = Date()
        var lineTokens = 0
        for line in lines { lineTokens += tokenizer.encode(line, addSpecialTokens: false).count }
        let perLine = Date().timeIntervalSince(start)
        start = Date()
        _ = tokenizer.encodeWithSpans(text, addSpecialTokens: false)
        let spans = Date().timeIntervalSince(start)
        print(String(format: "%@: %.2f MB, %d tokens; one string cold %.2f s (%.1f MB/s), warm %.1f MB/s; per line %.1f MB/s (%d lines); with spans %.1f MB/s",
                     name, megabytes, ids.count, cold, megabytes / cold, megabytes / warm, megabytes / perLine, lines.count,
                     megabytes / spans))
        #expect(cold < 10, "\(name): encoding \(megabytes) MB took \(cold) s")
        #expect(lineTokens > 0)
    }
}
