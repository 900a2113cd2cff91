import FuzzSupport
import Foundation
import Tokenizers

// BPE encoding of any text with the committed GPT-2 and Qwen2 tokenizers (Tests/TokenizersTests/Fixtures).
// GPT-2's has no normalizer and a byte-level alphabet, so decoding what it encoded must give the text back
// exactly: the harness stops with both texts when it does not. Qwen2's (NFC, its own split pattern) is run
// for crashes and hangs only.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../../Tests/TokenizersTests/Fixtures").standardizedFileURL.path
func loadFixture(_ name: String) -> BPETokenizer {
    do { return try BPETokenizer.load(path: fixtures + "/" + name) } catch { fatalError("fuzz-bpe-encode needs \(name): \(error)") }
}
let gpt2 = loadFixture("gpt2.tokenizer.json")
let qwen2 = loadFixture("qwen2.tokenizer.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBPEEncode(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = fuzzText(data, size)
    let (ids, spans) = gpt2.encodeWithSpans(text, addSpecialTokens: false)
    precondition(spans.count == ids.count, "\(ids.count) ids but \(spans.count) spans")
    let decoded = gpt2.decode(ids)
    precondition(decoded == text, "GPT-2 round trip changed the text: \(Array(text.utf8)) -> \(Array(decoded.utf8))")
    let (qwenIDs, _) = qwen2.encodeWithSpans(text)
    _ = qwen2.decode(qwenIDs)
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzBPEEncode) }
}
