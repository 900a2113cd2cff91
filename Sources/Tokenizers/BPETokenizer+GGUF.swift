extension BPETokenizer {
    /// Builds the tokenizer a GGUF file's `tokenizer.ggml.*` metadata describes. The metadata is first turned
    /// into the equivalent tokenizer.json (so `tokenizerJSON()` exports exactly what runs), as `transformers`
    /// does when it loads a GGUF: tokens not written in the byte alphabet are respelled in it, control tokens
    /// (type 3) become special added tokens and user-defined ones (type 4) plain added tokens, matched whole.
    /// - Throws: `TokenizerFileError` naming the metadata key: a model other than "gpt2" (byte-level BPE), an
    ///   unknown pre-tokenizer name, a malformed merge or one naming a missing token, bad special token ids.
    public convenience init(gguf spec: GGUFTokenizerSpec) throws {
        let file = "GGUF metadata of \(spec.file)"
        func fail(_ key: String, _ message: String) -> TokenizerFileError {
            TokenizerFileError(file: file, key: key, message: message)
        }
        guard spec.model == "gpt2" else {
            throw fail("tokenizer.ggml.model", "tokenizer model \"\(spec.model)\" is not supported; supported: \"gpt2\" (byte-level BPE). SentencePiece (\"llama\") and other models need another tokenizer")
        }
        let preName = spec.pre ?? "default"
        guard let pre = GGUFPreTokenizer(name: preName) else {
            throw fail("tokenizer.ggml.pre", "pre-tokenizer \"\(preName)\" is not supported; supported: \(GGUFPreTokenizer.names.map { "\"\($0.0)\"" }.joined(separator: ", "))")
        }
        guard !spec.tokens.isEmpty else { throw fail("tokenizer.ggml.tokens", "the vocabulary is empty") }
        if let types = spec.tokenTypes, types.count != spec.tokens.count {
            throw fail("tokenizer.ggml.token_type", "has \(types.count) entries for \(spec.tokens.count) tokens; they must match")
        }
        for (key, id) in [("tokenizer.ggml.bos_token_id", spec.bosID), ("tokenizer.ggml.eos_token_id", spec.eosID),
                          ("tokenizer.ggml.padding_token_id", spec.padID)] {
            if let id, id < 0 || Int(id) >= spec.tokens.count {
                throw fail(key, "id \(id) is outside the vocabulary (0..<\(spec.tokens.count))")
            }
        }
        if spec.addBOS && spec.bosID == nil { throw fail("tokenizer.ggml.add_bos_token", "is true but tokenizer.ggml.bos_token_id is missing") }
        if spec.addEOS && spec.eosID == nil { throw fail("tokenizer.ggml.add_eos_token", "is true but tokenizer.ggml.eos_token_id is missing") }

        // Vocab in the byte alphabet (added tokens keep their text, so HF finds them in the vocab under the
        // same id); the first id wins if two tokens spell the same.
        let types = spec.tokenTypes ?? []
        func isAdded(_ id: Int) -> Bool { id < types.count && (types[id] == 3 || types[id] == 4) }
        var vocab: [(key: String, value: JSONValue)] = []
        vocab.reserveCapacity(spec.tokens.count)
        var seen = Set<[UInt8]>()
        for (id, token) in spec.tokens.enumerated() {
            let spelled = isAdded(id) || ByteLevelAlphabet.bytes(of: token) != nil
                ? token : ByteLevelAlphabet.spelling(of: token.utf8)
            guard seen.insert(Array(spelled.utf8)).inserted else { continue }
            vocab.append((spelled, .number(String(id))))
        }
        var merges: [JSONValue] = []
        merges.reserveCapacity(spec.merges.count)
        for (rank, merge) in spec.merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw fail("tokenizer.ggml.merges[\(rank)]", "expected two tokens separated by one space, found \(JSONValue.string(merge).serialized())")
            }
            merges.append(.array([.string(String(parts[0])), .string(String(parts[1]))]))
        }
        var added: [JSONValue] = []
        for (id, type) in types.enumerated() where isAdded(id) {
            added.append(.object([
                ("id", .number(String(id))), ("content", .string(spec.tokens[id])), ("single_word", .bool(false)),
                ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)),
                ("special", .bool(type == 3)),
            ]))
        }
        let byteLevel = JSONValue.object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                                          ("trim_offsets", .bool(false)), ("use_regex", .bool(true))])
        var post = byteLevel
        if spec.addBOS || spec.addEOS {
            var single: [JSONValue] = []
            var specials: [(key: String, value: JSONValue)] = []
            func special(_ id: Int32) -> JSONValue {
                let text = spec.tokens[Int(id)]
                if !specials.contains(where: { $0.key == text }) {
                    specials.append((text, .object([("id", .string(text)), ("ids", .array([.number(String(id))])),
                                                    ("tokens", .array([.string(text)]))])))
                }
                return .object([("SpecialToken", .object([("id", .string(text)), ("type_id", .number("0"))]))])
            }
            if spec.addBOS, let bos = spec.bosID { single.append(special(bos)) }
            single.append(.object([("Sequence", .object([("id", .string("A")), ("type_id", .number("0"))]))]))
            if spec.addEOS, let eos = spec.eosID { single.append(special(eos)) }
            let template = JSONValue.object([("type", .string("TemplateProcessing")), ("single", .array(single)),
                                             ("pair", .array(single)), ("special_tokens", .object(specials))])
            post = .object([("type", .string("Sequence")), ("processors", .array([byteLevel, template]))])
        }
        let root = JSONValue.object([
            ("version", .string("1.0")),
            ("truncation", .null),
            ("padding", .null),
            ("added_tokens", .array(added)),
            ("normalizer", .null),
            ("pre_tokenizer", pre.json),
            ("post_processor", post),
            ("decoder", byteLevel),
            ("model", .object([
                ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
                ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)),
                ("byte_fallback", .bool(false)), ("ignore_merges", .bool(pre.ignoreMerges)),
                ("vocab", .object(vocab)), ("merges", .array(merges)),
            ])),
        ])
        var reader = TokenizerDescriptionReader(file: file)
        reader.keyNames = [("model.merges", "tokenizer.ggml.merges"), ("model.vocab", "tokenizer.ggml.tokens"),
                           ("added_tokens", "tokenizer.ggml.token_type")]
        let components = try reader.read(root)
        self.init(components: components, description: root, originalText: nil,
                  bos: spec.bosID, eos: spec.eosID, pad: spec.padID)
    }
}

extension BPETokenizer {
    /// The `tokenizer.ggml.*` metadata that describes this tokenizer to llama.cpp, the inverse of `init(gguf:)`
    /// (as llama.cpp's convert_hf_to_gguf.py writes a byte-level BPE vocabulary): model "gpt2", every id's text
    /// (vocab entries in the byte alphabet, added tokens as written), token types (3 control for special added
    /// tokens, 4 user-defined for other added tokens, 1 normal), the merges by rank, and llama.cpp's name for the
    /// pre-tokenizer when it has one (nil otherwise: see `ggufPreTokenizerName`).
    /// - Parameters:
    ///   - vocabularySize: the model's vocabulary; ids past the tokenizer's are written as `[PAD<id>]` of type 5
    ///     (unused), as the converter pads, because llama.cpp needs one token per embedding row. Must be at least
    ///     `self.vocabularySize`.
    ///   - bos, eos: the ids that start and end a sequence (the checkpoint's prompt layout decides EOS).
    ///   - file: names the output in the spec (for messages when it is read back).
    public func ggufSpec(vocabularySize: Int, bos: Int32?, eos: Int32?, chatTemplate: String?, file: String) -> GGUFTokenizerSpec {
        precondition(vocabularySize >= self.vocabularySize, "the model's vocabulary \(vocabularySize) is smaller than the tokenizer's \(self.vocabularySize)")
        var types = [Int32](repeating: 1, count: vocabularySize)
        var tokens: [String] = (0..<vocabularySize).map { id in
            guard id < components.tokenTexts.count, let text = components.tokenTexts[id] else {
                types[id] = 5
                return "[PAD\(id)]"
            }
            return text
        }
        for entry in exportedDescription?["added_tokens"]?.arrayValue ?? [] {
            guard let id = entry["id"]?.intValue, id >= 0, id < vocabularySize, let content = entry["content"]?.stringValue else { continue }
            tokens[id] = content
            types[id] = entry["special"]?.boolValue == true ? 3 : 4
        }
        let merges = components.model.merges.sorted { $0.value >> 32 < $1.value >> 32 }.compactMap { pair -> String? in
            let left = Int(pair.key >> 32), right = Int(pair.key & 0xFFFF_FFFF)
            guard left < components.tokenTexts.count, right < components.tokenTexts.count,
                  let l = components.tokenTexts[left], let r = components.tokenTexts[right] else { return nil }
            return l + " " + r
        }
        return GGUFTokenizerSpec(file: file, model: "gpt2", pre: ggufPreTokenizerName, tokens: tokens, merges: merges, tokenTypes: types,
                                 bosID: bos, eosID: eos, padID: padID, addBOS: addBOS, addEOS: false, chatTemplate: chatTemplate)
    }

    /// llama.cpp's `tokenizer.ggml.pre` name for this tokenizer's pre-tokenizer (`gpt-2`, `llama-bpe`, `qwen2`,
    /// `smollm`), nil when it is none of the ones llama.cpp and `init(gguf:)` both know.
    public var ggufPreTokenizerName: String? {
        guard let json = exportedDescription?["pre_tokenizer"] else { return nil }
        return GGUFPreTokenizer(matching: json)?.llamaCppName
    }
}
