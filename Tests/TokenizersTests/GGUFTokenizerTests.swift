import Foundation
import Testing
import TestSupport
import Tokenizers

// BPETokenizer(gguf:) from metadata built out of the trained tokenizers and, when the file is here, from
// SmolLM2-135M-Instruct's GGUF; and tokenizerJSON() of GGUF-built tokenizers read back by the library.

/// A GGUF spec holding a trained tokenizer's vocab, merges and special tokens (control type), as llama.cpp's
/// converter would write it.
func ggufSpec(fromFixture name: String, pre: String, addBOS: Bool = false) throws -> GGUFTokenizerSpec {
    let root = try JSONSerialization.jsonObject(with: Data(contentsOf: TokenizerFixtures.url("\(name).tokenizer.json"))) as! [String: Any]
    let model = root["model"] as! [String: Any]
    let vocab = model["vocab"] as! [String: Int]
    var tokens = [String](repeating: "", count: vocab.count)
    for (token, id) in vocab { tokens[id] = token }
    var types = [Int32](repeating: 1, count: tokens.count)
    for added in root["added_tokens"] as! [[String: Any]] where added["special"] as! Bool {
        types[added["id"] as! Int] = 3
    }
    let merges = (model["merges"] as! [Any]).map { ($0 as? String) ?? ($0 as! [String]).joined(separator: " ") }
    let bos = addBOS ? Int32(vocab["<|begin_of_text|>"]!) : nil
    return GGUFTokenizerSpec(file: "\(name) (test)", model: "gpt2", pre: pre, tokens: tokens, merges: merges, tokenTypes: types,
                             bosID: bos, eosID: nil, padID: nil, addBOS: addBOS, addEOS: false, chatTemplate: nil)
}

/// The trained tokenizers as GGUF specs (Qwen2's NFC and stripping added tokens have no GGUF form).
let ggufCases: [(fixture: String, pre: String, addBOS: Bool)] = [("gpt2", "gpt2", false), ("llama3", "llama3", true),
                                                                 ("smollm", "smollm", false)]

@Test func ggufSpecEncodesAsTheTrainedTokenizer() throws {
    let results = try TokenizerFixtures.encodings.get().results
    for (fixture, pre, addBOS) in ggufCases {
        let tokenizer = try BPETokenizer(gguf: ggufSpec(fromFixture: fixture, pre: pre, addBOS: addBOS))
        #expect(tokenizer.addBOS == addBOS)
        for (name, text) in try TokenizerFixtures.stressTexts() {
            let expected = try #require(results[fixture]?[name])
            #expect(tokenizer.encode(text, addSpecialTokens: false) == expected.ids, "\(fixture) via GGUF: \(name)")
            #expect(tokenizer.encode(text) == (expected.special_ids ?? expected.ids), "\(fixture) via GGUF with BOS: \(name)")
            #expect(tokenizer.decode(expected.ids) == (expected.decoded ?? text), "\(fixture) via GGUF decode: \(name)")
        }
    }
}

@Test(.enabled(if: TokenizerPython.available))
func ggufTokenizerJSONLoadsInTheLibraryAndEncodesAlike() throws {
    var tokenizers: [(String, BPETokenizer)] = try ggufCases.map {
        ($0.fixture, try BPETokenizer(gguf: ggufSpec(fromFixture: $0.fixture, pre: $0.pre, addBOS: $0.addBOS)))
    }
    if let smol = try SmolLM2GGUF.tokenizer() { tokenizers.append(("SmolLM2 GGUF", smol)) }
    try expectLibraryEncodesAlike(tokenizers)
}

/// Writes each tokenizer's `tokenizerJSON()`, has the library load it and encode the stress texts, and
/// compares ids with and without special tokens.
func expectLibraryEncodesAlike(_ tokenizers: [(String, BPETokenizer)], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let folder = NSTemporaryDirectory() + "tokenizer-export-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let texts = try TokenizerFixtures.stressTexts()
    let textsPath = folder + "/texts.json"
    try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: texts.map { ($0.name, $0.text) }))
        .write(to: URL(fileURLWithPath: textsPath))
    var paths: [String] = []
    for (i, (_, tokenizer)) in tokenizers.enumerated() {
        let path = folder + "/tokenizer-\(i).json"
        try tokenizer.tokenizerJSON().write(toFile: path, atomically: true, encoding: .utf8)
        paths.append(path)
    }
    let script = """
    import json, sys
    from tokenizers import Tokenizer
    texts = json.load(open(sys.argv[1], encoding="utf-8"))
    out = {}
    for path in sys.argv[2:]:
        tok = Tokenizer.from_file(path)
        out[path] = {n: {"plain": tok.encode(t, add_special_tokens=False).ids, "special": tok.encode(t).ids}
                     for n, t in texts.items()}
    print(json.dumps(out))
    """
    let result = try TokenizerPython.runJSON(script: script, arguments: [textsPath] + paths) as! [String: [String: [String: [Int]]]]
    for ((label, tokenizer), path) in zip(tokenizers, paths) {
        let library = try #require(result[path], sourceLocation: sourceLocation)
        for (name, text) in texts {
            let expected = try #require(library[name], sourceLocation: sourceLocation)
            #expect(tokenizer.encode(text, addSpecialTokens: false).map(Int.init) == expected["plain"],
                    "\(label) exported: \(name)", sourceLocation: sourceLocation)
            #expect(tokenizer.encode(text).map(Int.init) == expected["special"],
                    "\(label) exported, with special tokens: \(name)", sourceLocation: sourceLocation)
        }
    }
}

// MARK: - SmolLM2's GGUF

enum SmolLM2GGUF {
    static let path = smolLM2GGUFPath

    static var available: Bool {
        guard FileManager.default.fileExists(atPath: path) else {
            print("skipping: \(path) is not on this machine")
            return false
        }
        return TokenizerPython.available
    }

    /// The tokenizer from the GGUF's metadata (read by the gguf package), or nil when the file is absent.
    static func tokenizer() throws -> BPETokenizer? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try BPETokenizer(gguf: spec())
    }

    static func spec() throws -> GGUFTokenizerSpec {
        let script = """
        import json, sys, gguf
        reader = gguf.GGUFReader(sys.argv[1])
        def field(key):
            f = reader.fields.get(key)
            return None if f is None else f.contents()
        out = {k: field("tokenizer.ggml." + k) for k in ("model", "pre", "tokens", "merges", "token_type",
               "bos_token_id", "eos_token_id", "padding_token_id", "add_bos_token", "add_eos_token")}
        out["chat_template"] = field("tokenizer.chat_template")
        print(json.dumps(out))
        """
        let m = try TokenizerPython.runJSON(script: script, arguments: [path]) as! [String: Any]
        func id(_ key: String) -> Int32? { (m[key] as? Int).map(Int32.init) }
        return GGUFTokenizerSpec(
            file: path, model: m["model"] as! String, pre: m["pre"] as? String, tokens: m["tokens"] as! [String],
            merges: m["merges"] as! [String], tokenTypes: (m["token_type"] as? [Int])?.map(Int32.init),
            bosID: id("bos_token_id"), eosID: id("eos_token_id"), padID: id("padding_token_id"),
            addBOS: m["add_bos_token"] as? Bool ?? false, addEOS: m["add_eos_token"] as? Bool ?? false,
            chatTemplate: m["chat_template"] as? String)
    }
}

@Test(.enabled(if: SmolLM2GGUF.available))
func smolLM2GGUFEncodesAsTransformers() throws {
    let reference = try JSONDecoder().decode(SmolLM2File.self, from: Data(contentsOf: TokenizerFixtures.url("smollm2_encodings.json")))
    let spec = try SmolLM2GGUF.spec()
    #expect(spec.pre == reference.metadata.pre && spec.tokens.count == reference.metadata.token_count)
    let tokenizer = try BPETokenizer(gguf: spec)
    #expect(tokenizer.vocabularySize == 49_152)
    #expect(tokenizer.bosID == reference.metadata.bos_token_id && tokenizer.eosID == reference.metadata.eos_token_id)
    #expect(tokenizer.padID == reference.metadata.padding_token_id)
    #expect(tokenizer.addBOS == (reference.metadata.add_bos_token ?? false))
    for (name, text) in reference.texts.sorted(by: { $0.key < $1.key }) {
        #expect(tokenizer.encode(text, addSpecialTokens: false) == reference.ids[name], "SmolLM2: \(name)")
    }
    #expect(tokenizer.encode(reference.chatml.text, addSpecialTokens: false) == reference.chatml.ids)
    #expect(tokenizer.decode(reference.chatml.ids) == reference.chatml.text)
    #expect(tokenizer.decode(reference.chatml.ids, skipSpecialTokens: true) == "user\nWhat is 17 + 25?\nassistant\n")
}
