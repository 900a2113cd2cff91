/// Reads a parsed tokenizer.json into `TokenizerComponents`, rejecting with a `TokenizerFileError` (file,
/// JSON path, what is supported) everything the Swift tokenizer would not run exactly as HF tokenizers does.
struct TokenizerDescriptionReader {
    /// The file named in errors.
    let file: String
    /// Rewrites JSON paths into the caller's names (GGUF metadata keys), longest prefix first.
    var keyNames: [(path: String, name: String)] = []

    func fail(_ key: String, _ message: String) -> TokenizerFileError {
        var name = key
        for (path, replacement) in keyNames where key.hasPrefix(path) {
            name = replacement + key.dropFirst(path.count)
            break
        }
        return TokenizerFileError(file: file, key: name, message: message)
    }

    // MARK: - Small typed accessors

    func object(_ value: JSONValue, _ key: String, allowed: [String]) throws -> [(key: String, value: JSONValue)] {
        guard let members = value.objectValue else { throw fail(key, "expected an object, found \(value.kindName)") }
        if let unknown = members.first(where: { !allowed.contains($0.key) }) {
            throw fail(join(key, unknown.key), "unknown key; supported keys here: \(allowed.joined(separator: ", "))")
        }
        return members
    }

    func bool(_ value: JSONValue?, _ key: String, default fallback: Bool) throws -> Bool {
        guard let value, !value.isNull else { return fallback }
        guard let b = value.boolValue else { throw fail(key, "expected true or false, found \(value.kindName)") }
        return b
    }

    func string(_ value: JSONValue?, _ key: String) throws -> String {
        guard let value else { throw fail(key, "missing; expected a string") }
        guard let s = value.stringValue else { throw fail(key, "expected a string, found \(value.kindName)") }
        return s
    }

    /// (`key` is only made when there is an error: vocabularies call this 150K times.)
    func id(_ value: JSONValue?, _ key: @autoclosure () -> String) throws -> Int32 {
        if let n = value?.intValue, n >= 0, n <= Int(Self.maximumID) { return Int32(n) }
        guard let value else { throw fail(key(), "missing; expected a token id") }
        if let n = value.intValue, n > Int(Self.maximumID) {
            throw fail(key(), "token id \(n) is above \(Self.maximumID), the largest this reader takes (the largest vocabularies "
                       + "in use have about 262,000 tokens); the ids number the tokens from 0, so fix this one")
        }
        throw fail(key(), "expected a token id (an integer from 0 to \(Self.maximumID)), found \(value.kindName)")
    }

    /// The largest token id a file may use (2^22 - 1). The tables indexed by id are as long as the largest id, so an id
    /// far past the vocabulary (a damaged file: 139,555,555 among 256 tokens) must not size them: at 4,194,304 entries
    /// they take tens of MB, 16 times the largest vocabularies in use.
    static let maximumID: Int32 = (1 << 22) - 1

    func requireNull(_ value: JSONValue?, _ key: String, _ why: String) throws {
        if let value, !value.isNull { throw fail(key, why) }
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func typeName(_ value: JSONValue, _ key: String) throws -> String {
        guard value.objectValue != nil else { throw fail(key, "expected an object, found \(value.kindName)") }
        return try string(value["type"], join(key, "type"))
    }

    // MARK: - The whole file

    /// Checks `root` (a tokenizer.json) and builds the components.
    func read(_ root: JSONValue) throws -> TokenizerComponents {
        _ = try object(root, "", allowed: ["version", "truncation", "padding", "added_tokens", "normalizer",
                                           "pre_tokenizer", "post_processor", "decoder", "model"])
        try requireNull(root["truncation"], "truncation",
                        "truncation is not supported (it would cut encodings); set it to null and truncate the ids")
        try requireNull(root["padding"], "padding",
                        "padding is not supported (it would pad encodings); set it to null and pad the ids")
        guard let modelValue = root["model"] else { throw fail("model", "missing; expected a BPE model object") }
        let vocab = try BPEModelReader(reader: self).read(modelValue)
        let added = try readAddedTokens(root["added_tokens"] ?? .array([]))
        let nfc = try readNormalizer(root["normalizer"] ?? .null, "normalizer")
        guard let preValue = root["pre_tokenizer"], !preValue.isNull else {
            throw fail("pre_tokenizer", "missing; byte-level BPE needs a ByteLevel pre-tokenizer (alone or last in a Sequence)")
        }
        let preTokenizer = try PreTokenizerReader(reader: self).read(preValue)
        let post = try readPostProcessor(root["post_processor"] ?? .null, "post_processor", added: added, vocab: vocab)
        try readDecoder(root["decoder"] ?? .null, "decoder")
        return vocab.components(nfc: nfc, preTokenizer: preTokenizer, added: added, post: post)
    }

    // MARK: - Added tokens

    func readAddedTokens(_ value: JSONValue) throws -> [AddedToken] {
        guard let items = value.arrayValue else { throw fail("added_tokens", "expected an array, found \(value.kindName)") }
        var tokens: [AddedToken] = []
        var seenIDs: [Int32: Int] = [:]
        for (i, item) in items.enumerated() {
            let key = "added_tokens[\(i)]"
            _ = try object(item, key, allowed: ["id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"])
            let id = try id(item["id"], key + ".id")
            let content = try string(item["content"], key + ".content")
            guard !content.isEmpty else { throw fail(key + ".content", "an added token cannot be empty") }
            if let other = seenIDs[id] {
                throw fail(key + ".id", "id \(id) is also the id of added_tokens[\(other)]; give each added token its own id")
            }
            seenIDs[id] = i
            // A content listed twice keeps its first id, as the library's AddedVocabulary ignores a token it has.
            guard !tokens.contains(where: { $0.content == content }) else { continue }
            let special = try bool(item["special"], key + ".special", default: false)
            tokens.append(AddedToken(
                id: id, content: content, special: special,
                lstrip: try bool(item["lstrip"], key + ".lstrip", default: false),
                rstrip: try bool(item["rstrip"], key + ".rstrip", default: false),
                singleWord: try bool(item["single_word"], key + ".single_word", default: false),
                normalized: try bool(item["normalized"], key + ".normalized", default: !special)))
        }
        return tokens
    }

    // MARK: - Normalizer

    /// Whether the normalizer is NFC (true) or nothing (false).
    func readNormalizer(_ value: JSONValue, _ key: String) throws -> Bool {
        if value.isNull { return false }
        let type = try typeName(value, key)
        switch type {
        case "NFC":
            _ = try object(value, key, allowed: ["type"])
            return true
        case "Sequence":
            _ = try object(value, key, allowed: ["type", "normalizers"])
            guard let items = value["normalizers"]?.arrayValue else {
                throw fail(key + ".normalizers", "expected an array of normalizers")
            }
            var nfc = false
            for (i, item) in items.enumerated() where try readNormalizer(item, "\(key).normalizers[\(i)]") { nfc = true }
            return nfc
        default:
            throw fail(key + ".type", "normalizer \"\(type)\" is not supported; supported: null, NFC, or a Sequence of NFC")
        }
    }

    // MARK: - Post-processor

    struct PostProcessing {
        var trimOffsets = false
        var keepsPrefixSpace = false
        var prefixIDs: [Int32] = []
        var suffixIDs: [Int32] = []
    }

    func readPostProcessor(_ value: JSONValue, _ key: String, added: [AddedToken], vocab: BPEModelReader.Vocabulary,
                           into result: PostProcessing = PostProcessing()) throws -> PostProcessing {
        var result = result
        if value.isNull { return result }
        let type = try typeName(value, key)
        switch type {
        case "ByteLevel":
            _ = try object(value, key, allowed: ["type", "add_prefix_space", "trim_offsets", "use_regex"])
            result.trimOffsets = try bool(value["trim_offsets"], key + ".trim_offsets", default: true)
            result.keepsPrefixSpace = try bool(value["add_prefix_space"], key + ".add_prefix_space", default: true)
        case "TemplateProcessing":
            _ = try object(value, key, allowed: ["type", "single", "pair", "special_tokens"])
            (result.prefixIDs, result.suffixIDs) = try readTemplate(value, key)
        case "Sequence":
            _ = try object(value, key, allowed: ["type", "processors"])
            guard let items = value["processors"]?.arrayValue else {
                throw fail(key + ".processors", "expected an array of post-processors")
            }
            for (i, item) in items.enumerated() {
                result = try readPostProcessor(item, "\(key).processors[\(i)]", added: added, vocab: vocab, into: result)
            }
        default:
            throw fail(key + ".type", "post-processor \"\(type)\" is not supported; supported: null, ByteLevel, TemplateProcessing, or a Sequence of these")
        }
        return result
    }

    /// The special tokens TemplateProcessing's `single` puts before and after `$A`.
    func readTemplate(_ value: JSONValue, _ key: String) throws -> ([Int32], [Int32]) {
        guard let single = value["single"]?.arrayValue else { throw fail(key + ".single", "expected an array of template pieces") }
        var specials: [String: [Int32]] = [:]
        if let table = value["special_tokens"]?.objectValue {
            for (name, entry) in table {
                guard let ids = entry["ids"]?.arrayValue else {
                    throw fail("\(key).special_tokens.\(name).ids", "expected an array of token ids")
                }
                specials[name] = try ids.enumerated().map { try id($1, "\(key).special_tokens.\(name).ids[\($0)]") }
            }
        }
        var prefix: [Int32] = [], suffix: [Int32] = []
        var seenSequence = false
        for (i, piece) in single.enumerated() {
            let pieceKey = "\(key).single[\(i)]"
            if let special = piece["SpecialToken"] {
                let name = try string(special["id"], pieceKey + ".SpecialToken.id")
                guard let ids = specials[name] else {
                    throw fail(pieceKey + ".SpecialToken.id", "\"\(name)\" is not in \(key).special_tokens")
                }
                if seenSequence { suffix += ids } else { prefix += ids }
            } else if let sequence = piece["Sequence"] {
                let name = try string(sequence["id"], pieceKey + ".Sequence.id")
                guard name == "A", !seenSequence else {
                    throw fail(pieceKey + ".Sequence.id", "a single-sequence template holds sequence A exactly once")
                }
                seenSequence = true
            } else {
                throw fail(pieceKey, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}")
            }
        }
        guard seenSequence else { throw fail(key + ".single", "the template never places sequence $A") }
        return (prefix, suffix)
    }

    // MARK: - Decoder

    func readDecoder(_ value: JSONValue, _ key: String) throws {
        let supported = "supported: ByteLevel, or a Sequence holding ByteLevel"
        guard !value.isNull else { throw fail(key, "missing; byte-level BPE needs the ByteLevel decoder (\(supported))") }
        let type = try typeName(value, key)
        switch type {
        case "ByteLevel":
            _ = try object(value, key, allowed: ["type", "add_prefix_space", "trim_offsets", "use_regex"])
        case "Sequence":
            _ = try object(value, key, allowed: ["type", "decoders"])
            guard let items = value["decoders"]?.arrayValue, !items.isEmpty else {
                throw fail(key + ".decoders", "expected a non-empty array of decoders")
            }
            for (i, item) in items.enumerated() { try readDecoder(item, "\(key).decoders[\(i)]") }
        default:
            throw fail(key + ".type", "decoder \"\(type)\" is not supported; \(supported)")
        }
    }
}
