import Foundation
import Testing
import Tokenizers

// Every TokenizerFileError case names the file and the key (JSON path or GGUF metadata key) and says what
// is supported.

@Test func tokenizerFileErrorNamesFileAndKey() {
    let e = TokenizerFileError(file: "t.json", key: "model.merges[3]", message: "not a pair")
    #expect(e.description == "t.json: model.merges[3]: not a pair")
}

/// The error `body` throws, or nil after recording that it threw none.
func tokenizerError(_ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) -> TokenizerFileError? {
    do {
        _ = try body()
        Issue.record("expected a TokenizerFileError", sourceLocation: sourceLocation)
    } catch let e as TokenizerFileError {
        return e
    } catch {
        Issue.record("expected a TokenizerFileError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// The gpt2 fixture with `change` applied, read as tokenizer.json.
func brokenGPT2(_ change: (inout [String: Any]) -> Void) throws -> TokenizerFileError? {
    var root = try TokenizerFixtures.gpt2Dictionary()
    change(&root)
    let json = try TokenizerFixtures.json(root)
    return tokenizerError { try BPETokenizer(json: json, file: "broken.json") }
}

func modify(_ root: inout [String: Any], _ key: String, _ change: (inout [String: Any]) -> Void) {
    var part = root[key] as! [String: Any]
    change(&part)
    root[key] = part
}

@Test func badJSONNamesLineAndColumn() throws {
    let e = tokenizerError { try BPETokenizer(json: "{\n  \"model\": {\"type\": \"BPE\",}\n}", file: "bad.json") }
    #expect(e?.file == "bad.json")
    #expect(e?.key == "line 2, column 27")
    #expect(e?.message.contains("not valid JSON") == true)
    #expect(tokenizerError { try BPETokenizer(json: "{\"a\": tru}") }?.key == "line 1, column 7")
    #expect(tokenizerError { try BPETokenizer(json: "") }?.key == "line 1, column 1")
}

@Test func unsupportedModelTypeNamesModelType() throws {
    let e = try brokenGPT2 { modify(&$0, "model") { $0["type"] = "WordPiece" } }
    #expect(e?.key == "model.type" && e?.file == "broken.json")
    #expect(e?.message.contains("\"WordPiece\"") == true && e?.message.contains("BPE") == true)
}

@Test func unknownPreTokenizerTypeNamesItsPath() throws {
    let e = try brokenGPT2 { $0["pre_tokenizer"] = ["type": "Whitespace"] }
    #expect(e?.key == "pre_tokenizer.type" && e?.message.contains("Whitespace") == true)
    let nested = try brokenGPT2 {
        $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "Metaspace"], ["type": "ByteLevel"]]]
    }
    #expect(nested?.key == "pre_tokenizer.pretokenizers[0].type" && nested?.message.contains("supported: ByteLevel, Split, Digits") == true)
    let notLast = try brokenGPT2 {
        $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "ByteLevel"], ["type": "Digits"]]]
    }
    #expect(notLast?.key == "pre_tokenizer.pretokenizers[1]")
    let badRegex = try brokenGPT2 {
        $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": "(unclosed"], "behavior": "Isolated", "invert": false], ["type": "ByteLevel"]]]
    }
    #expect(badRegex?.key == "pre_tokenizer.pretokenizers[0].pattern.Regex")
    let badBehavior = try brokenGPT2 {
        $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["String": " "], "behavior": "Sideways", "invert": false], ["type": "ByteLevel"]]]
    }
    #expect(badBehavior?.key == "pre_tokenizer.pretokenizers[0].behavior" && badBehavior?.message.contains("Isolated") == true)
}

@Test func mergeNamingAMissingTokenNamesTheMerge() throws {
    var count = 0
    let e = try brokenGPT2 {
        modify(&$0, "model") { model in
            var merges = model["merges"] as! [Any]
            count = merges.count
            merges.append("Ġzzq qqz")
            model["merges"] = merges
        }
    }
    #expect(e?.key == "model.merges[\(count)]" && e?.message.contains("\"Ġzzq\" is not in model.vocab") == true)
    let malformed = try brokenGPT2 { modify(&$0, "model") { $0["merges"] = ["a b c"] } }
    #expect(malformed?.key == "model.merges[0]")
}

/// The gpt2 fixture with `model.vocab[token]` set to `id`, read as tokenizer.json.
func gpt2WithVocabEntry(_ token: String, id: Int) throws -> TokenizerFileError? {
    try brokenGPT2 {
        modify(&$0, "model") { model in
            var vocab = model["vocab"] as! [String: Int]
            vocab[token] = id
            model["vocab"] = vocab
        }
    }
}

@Test func duplicatedVocabIDNamesTheToken() throws {
    let e = try gpt2WithVocabEntry("newtoken", id: 5)
    #expect(e?.key == "model.vocab[\"newtoken\"]" || e?.message.contains("\"newtoken\"") == true)
    #expect(e?.message.contains("id 5") == true)
}

@Test func otherUnsupportedPartsNameTheirKeys() throws {
    #expect(try brokenGPT2 { modify(&$0, "model") { $0["unk_token"] = "<unk>" } }?.key == "model.unk_token")
    #expect(try brokenGPT2 { modify(&$0, "model") { $0["continuing_subword_prefix"] = "##" } }?.key == "model.continuing_subword_prefix")
    #expect(try brokenGPT2 { modify(&$0, "model") { $0["end_of_word_suffix"] = "</w>" } }?.key == "model.end_of_word_suffix")
    #expect(try brokenGPT2 { modify(&$0, "model") { $0["byte_fallback"] = true } }?.key == "model.byte_fallback")
    #expect(try brokenGPT2 { modify(&$0, "model") { $0["surprise"] = 1 } }?.key == "model.surprise")
    #expect(try brokenGPT2 { $0["normalizer"] = ["type": "Lowercase"] }?.key == "normalizer.type")
    #expect(try brokenGPT2 { $0["normalizer"] = ["type": "Sequence", "normalizers": [["type": "NFC"], ["type": "NFKC"]]] }?.key
            == "normalizer.normalizers[1].type")
    #expect(try brokenGPT2 { $0["post_processor"] = ["type": "BertProcessing"] }?.key == "post_processor.type")
    #expect(try brokenGPT2 { $0["decoder"] = ["type": "WordPiece"] }?.key == "decoder.type")
    #expect(try brokenGPT2 { $0["truncation"] = ["max_length": 8] }?.key == "truncation")
    #expect(try brokenGPT2 { $0["added_tokens"] = [["id": 1, "content": ""]] }?.key == "added_tokens[0].content")
    let missing = tokenizerError { try BPETokenizer.load(path: "/nonexistent/tokenizer.json") }
    #expect(missing?.file == "/nonexistent/tokenizer.json")
}

@Test func ggufErrorsNameTheMetadataKey() throws {
    let good = try ggufSpec(fromFixture: "gpt2", pre: "gpt2")
    var unknownPre = good
    unknownPre.pre = "falcon"
    let e = tokenizerError { try BPETokenizer(gguf: unknownPre) }
    #expect(e?.key == "tokenizer.ggml.pre" && e?.file == "GGUF metadata of gpt2 (test)")
    #expect(e?.message.contains("\"falcon\"") == true && e?.message.contains("\"smollm\"") == true)

    var llama = good
    llama.model = "llama"
    let m = tokenizerError { try BPETokenizer(gguf: llama) }
    #expect(m?.key == "tokenizer.ggml.model" && m?.message.contains("\"gpt2\"") == true)

    var badMerge = good
    badMerge.merges.append("Ġzzq qqz")
    #expect(tokenizerError { try BPETokenizer(gguf: badMerge) }?.key == "tokenizer.ggml.merges[\(good.merges.count)]")
    var malformed = good
    malformed.merges[0] = "nospace"
    #expect(tokenizerError { try BPETokenizer(gguf: malformed) }?.key == "tokenizer.ggml.merges[0]")
    var badBOS = good
    badBOS.bosID = Int32(good.tokens.count)
    #expect(tokenizerError { try BPETokenizer(gguf: badBOS) }?.key == "tokenizer.ggml.bos_token_id")
    var badTypes = good
    badTypes.tokenTypes = [1]
    #expect(tokenizerError { try BPETokenizer(gguf: badTypes) }?.key == "tokenizer.ggml.token_type")
}

/// transformers writes "" for continuing_subword_prefix and end_of_word_suffix: the same as null, accepted.
@Test func emptySubwordPrefixAndSuffixAreAccepted() throws {
    var root = try TokenizerFixtures.gpt2Dictionary()
    modify(&root, "model") {
        $0["continuing_subword_prefix"] = ""
        $0["end_of_word_suffix"] = ""
    }
    let tokenizer = try BPETokenizer(json: try TokenizerFixtures.json(root))
    let reference = try TokenizerFixtures.tokenizer("gpt2")
    #expect(tokenizer.encode("It's 42 o'clock.") == reference.encode("It's 42 o'clock."))
}

// `make fuzz` (fuzz-tokenizer-json, 2026-12-07): one vocab id of 139,555,555 among 256 tokens made the reader allocate
// an id table of 2.2 GB. Ids above `maximumID` are refused, naming the token, before any table is sized.
@Test func anIDFarPastTheVocabularyIsRefusedBeforeTablesAreSized() throws {
    let vocab = try gpt2WithVocabEntry("Ď", id: 139_555_555)
    #expect(vocab?.key == "model.vocab[\"Ď\"]")
    #expect(vocab?.message.contains("139555555") == true && vocab?.message.contains("4194303") == true)
    let added = try brokenGPT2 { $0["added_tokens"] = [["id": 4_194_304, "content": "<|far|>", "special": true]] }
    #expect(added?.key == "added_tokens[0].id" && added?.message.contains("4194304") == true)
    // the largest id taken: an added token there reads, and its text is found at that id
    var root = try TokenizerFixtures.gpt2Dictionary()
    var tokens = root["added_tokens"] as? [[String: Any]] ?? []
    tokens.append(["id": 4_194_303, "content": "<|last|>", "special": true])
    root["added_tokens"] = tokens
    let tokenizer = try BPETokenizer(json: try TokenizerFixtures.json(root), file: "last.json")
    #expect(tokenizer.token(of: 4_194_303) == "<|last|>")
}
