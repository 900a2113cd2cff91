import Foundation
import Testing
import Tokenizers

// Ids, byte spans and decodes against the `tokenizers` library, for every stress text and every tokenizer.

@Test(arguments: TokenizerFixtures.names)
func encodingsMatchTheLibrary(name: String) throws {
    let tokenizer = try TokenizerFixtures.tokenizer(name)
    let reference = try #require(try TokenizerFixtures.encodings.get().results[name])
    try expectMatchesReference(tokenizer, reference, label: name)
}

/// The gpt2 model with other pre-tokenizers: the ICU regex path for the GPT-2, Llama 3 and Qwen2 patterns
/// (wrapped in `(?:...)` so they are not recognised) next to the hand-written matchers, Split behaviours,
/// invert, String patterns, Digits, and ByteLevel's prefix space with and without trimmed offsets.
@Test func preTokenizerVariantsMatchTheLibrary() throws {
    let results = try TokenizerFixtures.encodings.get().results
    let variants = try TokenizerFixtures.variants()
    #expect(variants.count >= 18)
    for (name, json) in variants {
        let tokenizer = try BPETokenizer(json: json, file: "variant \(name)")
        let reference = try #require(results["variant:" + name], "no reference for variant \(name)")
        try expectMatchesReference(tokenizer, reference, label: "variant \(name)")
    }
}

/// The hand-written matchers and ICU give the same pieces: same ids and spans for every stress text and for
/// GSM8K rows (the regex-path variants above check each against the library too).
@Test func handWrittenMatchersAgreeWithTheRegexEngine() throws {
    let variants = Dictionary(uniqueKeysWithValues: try TokenizerFixtures.variants())
    var texts = try TokenizerFixtures.stressTexts().map(\.text)
    texts += try gsm8kSample(count: 300)
    for (family, knownVariant) in [("gpt2", "gpt2_split_known"), ("llama3", "llama3_known"), ("qwen2", "qwen2_known")] {
        let known = try BPETokenizer(json: try #require(variants[knownVariant]))
        let regex = try BPETokenizer(json: try #require(variants["\(family)_regex_path"]))
        var differing = 0
        for text in texts {
            let a = known.encodeWithSpans(text, addSpecialTokens: false)
            let b = regex.encodeWithSpans(text, addSpecialTokens: false)
            if a.ids != b.ids || a.spans != b.spans {
                differing += 1
                if differing <= 3 { Issue.record("\(family): matcher and ICU differ on \(text.debugDescription)") }
            }
        }
        #expect(differing == 0, "\(family): \(differing) of \(texts.count) texts differ")
    }
}

@Test func tokenizerPropertiesFollowTheFile() throws {
    let llama = try TokenizerFixtures.tokenizer("llama3")
    let bos = try #require(llama.id(of: "<|begin_of_text|>"))
    #expect(llama.addBOS && llama.bosID == bos && llama.eosID == nil && llama.padID == nil)
    #expect(llama.encode("hi").first == bos && llama.encode("hi", addSpecialTokens: false).first != bos)
    #expect(llama.encodeWithSpans("hi").spans.first == 0..<0)

    let qwen = try TokenizerFixtures.tokenizer("qwen2")
    #expect(!qwen.addBOS && qwen.bosID == nil)
    // Added tokens get ids beyond the trained vocab; the size covers them.
    let tool = try #require(qwen.id(of: "<tool>"))
    #expect(qwen.vocabularySize == Int(tool) + 4)
    #expect(qwen.token(of: tool) == "<tool>")
    #expect(qwen.id(of: "Ġthe") != nil && qwen.token(of: qwen.id(of: "Ġthe")!) == "Ġthe")
    #expect(qwen.token(of: Int32(qwen.vocabularySize)) == nil && qwen.token(of: -1) == nil && qwen.id(of: "no such token") == nil)
    #expect(qwen.decode([tool, -5, 1_000_000]) == "<tool>")

    // tokenizerJSON of a tokenizer read from JSON is the file as given.
    let text = try TokenizerFixtures.text("smollm.tokenizer.json")
    #expect(try BPETokenizer(json: text).tokenizerJSON() == text)
}

/// The first `count` GSM8K train rows (question, newline, answer), or none when the file is absent.
func gsm8kSample(count: Int) throws -> [String] {
    let path = "/work/shared/data/gsm8k/train.jsonl"
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").prefix(count)
    return try lines.map { line in
        let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        return "\(row["question"] as! String)\n\(row["answer"] as! String)"
    }
}

/// One tokenizer used from several threads at once (its BPE cache is shared) gives each the same ids as a
/// single thread does.
@Test func concurrentEncodingGivesTheSameIDs() throws {
    let texts = try TokenizerFixtures.stressTexts().map(\.text) + (try gsm8kSample(count: 400))
    let expected = try TokenizerFixtures.tokenizer("llama3")
    let shared = try TokenizerFixtures.tokenizer("llama3")  // cold cache: threads fill it together
    let results = ConcurrentResults(count: texts.count)
    DispatchQueue.concurrentPerform(iterations: texts.count) { i in
        results.set(i, shared.encodeWithSpans(texts[i]).ids)
    }
    for (i, text) in texts.enumerated() {
        #expect(results.get(i) == expected.encode(text), "\(text.debugDescription)")
    }
}

/// Per-index results written from many threads.
final class ConcurrentResults: @unchecked Sendable {
    private var values: [[Int32]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ value: [Int32]) { lock.lock(); values[i] = value; lock.unlock() }
    func get(_ i: Int) -> [Int32] { lock.lock(); defer { lock.unlock() }; return values[i] }
}
