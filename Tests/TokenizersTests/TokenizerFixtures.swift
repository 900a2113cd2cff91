import Foundation
import Testing
import TestSupport
import Tokenizers

// The reference tokenizers and encodings written by scripts/make_tokenizer_fixtures.py with the Hugging Face
// `tokenizers` library (and `transformers` for SmolLM2's GGUF).

/// One text's reference encoding: ids and UTF-8 byte offsets (flat start, end pairs) without special tokens;
/// with them only where they differ; the decode only where it is not the text.
struct ReferenceEncoding: Decodable {
    let ids: [Int32]
    let offsets: [Int]
    let special_ids: [Int32]?
    let special_offsets: [Int]?
    let decoded: String?
    let decoded_skip_special: String?
}

struct EncodingsFile: Decodable {
    let generator: String
    let texts: [String: String]
    let order: [String]
    let results: [String: [String: ReferenceEncoding]]
}

struct SmolLM2File: Decodable {
    struct Metadata: Decodable {
        let model: String
        let pre: String
        let bos_token_id: Int32
        let eos_token_id: Int32
        let padding_token_id: Int32?
        let add_bos_token: Bool?
        let token_count: Int
    }
    struct ChatML: Decodable {
        let text: String
        let ids: [Int32]
    }
    let gguf_file: String
    let metadata: Metadata
    let texts: [String: String]
    let ids: [String: [Int32]]
    let chatml: ChatML
}

enum TokenizerFixtures {
    static let folder: URL? = Bundle.module.url(forResource: "Fixtures", withExtension: nil)

    static func url(_ name: String) throws -> URL {
        guard let url = folder?.appendingPathComponent(name), FileManager.default.fileExists(atPath: url.path) else {
            throw SetupFailure("fixture \(name) is missing; run scripts/make_tokenizer_fixtures.py")
        }
        return url
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: url(name), encoding: .utf8)
    }

    /// The four trained tokenizers.
    static let names = ["gpt2", "llama3", "qwen2", "smollm"]

    static func tokenizer(_ name: String) throws -> BPETokenizer {
        try BPETokenizer.load(path: url("\(name).tokenizer.json").path)
    }

    static let encodings: Result<EncodingsFile, Error> = Result {
        try JSONDecoder().decode(EncodingsFile.self, from: Data(contentsOf: url("encodings.json")))
    }

    /// The stress texts in fixture order.
    static func stressTexts() throws -> [(name: String, text: String)] {
        let file = try encodings.get()
        return file.order.map { ($0, file.texts[$0]!) }
    }

    /// The pre-tokenizer variants run with the gpt2 model, by name, each with its tokenizer.json text.
    static func variants() throws -> [(name: String, json: String)] {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url("encodings.json"))) as! [String: Any]
        let variants = root["variants"] as! [String: Any]
        var base = try JSONSerialization.jsonObject(with: Data(contentsOf: url("gpt2.tokenizer.json"))) as! [String: Any]
        return try variants.keys.sorted().map { name in
            base["pre_tokenizer"] = variants[name]
            let data = try JSONSerialization.data(withJSONObject: base)
            return (name, String(decoding: data, as: UTF8.self))
        }
    }

    /// The gpt2 tokenizer.json as a dictionary, for tests that break one part of it.
    static func gpt2Dictionary() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url("gpt2.tokenizer.json"))) as! [String: Any]
    }

    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
}

/// Flat [s0, e0, s1, e1, ...] as ranges.
func ranges(_ flat: [Int]) -> [Range<Int>] {
    stride(from: 0, to: flat.count, by: 2).map { flat[$0]..<flat[$0 + 1] }
}

/// Checks every stress text's ids, spans and decodes against the reference; records one issue per text
/// that differs (naming it) and returns how many differed.
@discardableResult
func expectMatchesReference(_ tokenizer: BPETokenizer, _ reference: [String: ReferenceEncoding], label: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
    var failures = 0
    for (name, text) in try TokenizerFixtures.stressTexts() {
        guard let expected = reference[name] else {
            Issue.record("\(label): no reference for \(name)", sourceLocation: sourceLocation)
            failures += 1
            continue
        }
        var problems: [String] = []
        let plain = tokenizer.encodeWithSpans(text, addSpecialTokens: false)
        if plain.ids != expected.ids { problems.append("ids \(plain.ids) != \(expected.ids)") }
        if plain.spans != ranges(expected.offsets) { problems.append("spans \(plain.spans) != \(ranges(expected.offsets))") }
        if tokenizer.encode(text, addSpecialTokens: false) != plain.ids { problems.append("encode differs from encodeWithSpans") }
        let special = tokenizer.encodeWithSpans(text, addSpecialTokens: true)
        let expectedSpecialIDs = expected.special_ids ?? expected.ids
        if special.ids != expectedSpecialIDs { problems.append("with special tokens: ids \(special.ids) != \(expectedSpecialIDs)") }
        let expectedSpecialSpans = ranges(expected.special_offsets ?? expected.offsets)
        if special.spans != expectedSpecialSpans { problems.append("with special tokens: spans \(special.spans) != \(expectedSpecialSpans)") }
        let decoded = tokenizer.decode(expected.ids)
        if decoded != (expected.decoded ?? text) { problems.append("decode \(decoded.debugDescription) != \((expected.decoded ?? text).debugDescription)") }
        let skipped = tokenizer.decode(expected.ids, skipSpecialTokens: true)
        let expectedSkipped = expected.decoded_skip_special ?? expected.decoded ?? text
        if skipped != expectedSkipped { problems.append("decode skipping specials \(skipped.debugDescription) != \(expectedSkipped.debugDescription)") }
        if !problems.isEmpty {
            failures += 1
            Issue.record("\(label), text \(name) \(text.debugDescription): \(problems.joined(separator: "; "))",
                         sourceLocation: sourceLocation)
        }
    }
    return failures
}

// MARK: - Python with the `tokenizers` library

/// The Python the interoperability tests run: $TOKENIZERS_TEST_PYTHON when set (e.g. a venv that already has
/// tokenizers and gguf), else a virtualenv made once under .build/ with the same versions as the fixtures.
enum TokenizerPython {
    static let folder = packageRoot + "/.build/tokenizers-tests-venv"
    static let probe = "import tokenizers, gguf"

    static let interpreter: Result<String, SetupFailure> = {
        if let chosen = ProcessInfo.processInfo.environment["TOKENIZERS_TEST_PYTHON"], !chosen.isEmpty {
            if let r = try? runProcess(chosen, ["-c", probe], timeout: 120), r.succeeded { return .success(chosen) }
            return .failure(SetupFailure("TOKENIZERS_TEST_PYTHON=\(chosen) cannot `\(probe)`"))
        }
        return PythonVirtualenv(folder: folder, packages: ["tokenizers==0.23.3", "gguf==0.19.0"], probe: probe,
                                purpose: "the tokenizers interoperability tests").make()
    }()

    /// Whether the interpreter can be had; prints why not (the test is then skipped).
    static var available: Bool {
        if case .failure(let e) = interpreter {
            print("skipping: no Python with the tokenizers library: \(e)")
            return false
        }
        return true
    }

    static func runJSON(script: String, arguments: [String], timeout: TimeInterval = 300) throws -> Any {
        try PythonVirtualenv.runJSON(interpreter.get(), script: script, arguments: arguments, timeout: timeout)
    }
}
