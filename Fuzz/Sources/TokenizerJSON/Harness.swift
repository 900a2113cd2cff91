import FuzzSupport
import Foundation
import Tokenizers

// tokenizer.json: any text must give a tokenizer or a `TokenizerFileError` naming the key; a tokenizer that
// loads must encode and decode a sample without crashing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let tokenizer = try? BPETokenizer(json: fuzzText(data, size), file: "fuzz.tokenizer.json") else { return 0 }
    let (ids, _) = tokenizer.encodeWithSpans("Natalia sold 48/2 = 24 clips in May. Ünïcödé ¾ 東京\n\n  <|endoftext|>")
    _ = tokenizer.decode(ids)
    _ = tokenizer.decode(ids, skipSpecialTokens: true)
    _ = tokenizer.tokenizerJSON()
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzTokenizerJSON) }
}
