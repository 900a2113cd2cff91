/// Reads tokenizer.json's `model` (type BPE) and assembles the components around it.
struct BPEModelReader {
    let reader: TokenizerDescriptionReader

    /// The checked vocab and merges.
    struct Vocabulary {
        /// Token text by id (nil for ids the vocab skips).
        var texts: [String?]
        /// Token text (UTF-8) -> id.
        var idsByText: ByteSequenceTable
        var model: BytePairModel
    }

    func read(_ value: JSONValue) throws -> Vocabulary {
        let members = try reader.object(value, "model", allowed: [
            "type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
            "byte_fallback", "ignore_merges", "vocab", "merges"])
        let type = try reader.string(value["type"], "model.type")
        guard type == "BPE" else {
            throw reader.fail("model.type", "model \"\(type)\" is not supported; supported: BPE (byte-level)")
        }
        if let dropout = value["dropout"], !dropout.isNull, dropout.doubleValue != 0 {
            throw reader.fail("model.dropout", "BPE dropout is not supported (encoding would be random); set it to null")
        }
        try reader.requireNull(value["unk_token"], "model.unk_token",
                               "an unknown token is not supported (byte-level BPE has a token for every byte); set it to null")
        // transformers writes "" for these (no prefix, no suffix), which is the same as null.
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where value[key]?.stringValue != "" {
            try reader.requireNull(value[key], "model." + key, "\(key) is not supported for byte-level BPE; set it to null")
        }
        if try reader.bool(value["byte_fallback"], "model.byte_fallback", default: false) {
            throw reader.fail("model.byte_fallback", "byte_fallback is for SentencePiece-style BPE; byte-level BPE needs false")
        }
        _ = try reader.bool(value["fuse_unk"], "model.fuse_unk", default: false)
        let ignoreMerges = try reader.bool(value["ignore_merges"], "model.ignore_merges", default: false)
        _ = members

        // Vocab: text -> id, every id once.
        guard let vocabValue = value["vocab"], let entries = vocabValue.objectValue else {
            throw reader.fail("model.vocab", "missing or not an object of token -> id")
        }
        var idsByText = ByteSequenceTable(expectedCount: entries.count)
        var texts: [String?] = []
        var maxID = -1
        var ids: [Int32] = []
        ids.reserveCapacity(entries.count)
        func key(_ text: String) -> String { "model.vocab[\(quoted(text))]" }  // only made for an error
        for (text, idValue) in entries {
            let id = try reader.id(idValue, key(text))
            ids.append(id)
            maxID = max(maxID, Int(id))
        }
        texts = [String?](repeating: nil, count: maxID + 1)
        var byteIDs = [Int32](repeating: -1, count: 256)
        var idsByBytes = ByteSequenceTable(expectedCount: entries.count)
        for (i, (text, _)) in entries.enumerated() {
            let id = ids[i]
            if let other = texts[Int(id)] {
                throw reader.fail(key(text), "id \(id) is also the id of \(quoted(other)); every vocab token needs its own id")
            }
            guard idsByText.insert(text, id: id) else { throw reader.fail(key(text), "the token appears twice in model.vocab") }
            texts[Int(id)] = text
            if let bytes = ByteLevelAlphabet.bytes(of: text), !bytes.isEmpty {
                if bytes.count == 1 { byteIDs[Int(bytes[0])] = id }
                bytes.withUnsafeBufferPointer { _ = idsByBytes.insert($0, id: id) }
            }
        }

        // Merges: "a b" strings or ["a", "b"] pairs; rank = position.
        guard let mergeValues = (value["merges"] ?? .array([])).arrayValue else {
            throw reader.fail("model.merges", "expected an array of merges")
        }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeValues.count)
        for (rank, merge) in mergeValues.enumerated() {
            let key = "model.merges[\(rank)]"
            let left: String, right: String
            if let s = merge.stringValue {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw reader.fail(key, "expected two tokens separated by one space, found \(quoted(s))")
                }
                (left, right) = (String(parts[0]), String(parts[1]))
            } else if let pair = merge.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                (left, right) = (a, b)
            } else {
                throw reader.fail(key, "expected \"a b\" or [\"a\", \"b\"], found \(merge.kindName)")
            }
            guard let a = idsByText.first(left) else { throw reader.fail(key, "merge token \(quoted(left)) is not in model.vocab") }
            guard let b = idsByText.first(right) else { throw reader.fail(key, "merge token \(quoted(right)) is not in model.vocab") }
            guard let merged = idsByText.first(left + right) else {
                throw reader.fail(key, "the merged token \(quoted(left + right)) is not in model.vocab")
            }
            merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] = UInt64(rank) << 32 | UInt64(UInt32(merged))
        }
        let model = BytePairModel(byteIDs: byteIDs, idsByBytes: idsByBytes, merges: merges, ignoreMerges: ignoreMerges)
        return Vocabulary(texts: texts, idsByText: idsByText, model: model)
    }

    private func quoted(_ s: String) -> String { JSONValue.string(s).serialized() }
}

extension BPEModelReader.Vocabulary {
    /// The runnable components: added tokens laid over the vocab, each id's decoded bytes, the matchers.
    func components(nfc: Bool, preTokenizer: PreTokenizer, added: [AddedToken],
                    post: TokenizerDescriptionReader.PostProcessing) -> TokenizerComponents {
        var texts = self.texts
        let size = max(texts.count, (added.map { Int($0.id) }.max() ?? -1) + 1)
        texts += [String?](repeating: nil, count: size - texts.count)
        var idsByText = ByteSequenceTable(expectedCount: size)
        var isSpecial = [Bool](repeating: false, count: size)
        // Added tokens take precedence over the vocab for id -> text and text -> id (HF's AddedVocabulary).
        var decodedTexts = texts
        // As HF does, an added token whose content is in the vocab takes the vocab's id.
        let added = added.map { token -> AddedToken in
            var token = token
            if let id = self.idsByText.first(token.content) { token.id = id }
            return token
        }
        for token in added {
            texts[Int(token.id)] = token.content
            decodedTexts[Int(token.id)] = token.normalized && nfc ? NFCNormalizer.normalize(token.content) : token.content
            if token.special { isSpecial[Int(token.id)] = true }
            idsByText.insert(token.content, id: token.id)
        }
        for (id, text) in self.texts.enumerated() { if let text { idsByText.insert(text, id: Int32(id)) } }

        // ByteLevel decoder: a text written in the byte alphabet stands for its bytes, any other for its UTF-8.
        var decodeBytes: [UInt8] = []
        var decodeStarts: [Int32] = [0]
        decodeStarts.reserveCapacity(size + 1)
        for text in decodedTexts {
            if let text { decodeBytes += ByteLevelAlphabet.bytes(of: text) ?? Array(text.utf8) }
            decodeStarts.append(Int32(decodeBytes.count))
        }

        let raw = added.filter { !$0.normalized }
        let normalized = added.filter { $0.normalized }
        return TokenizerComponents(
            nfc: nfc, preTokenizer: preTokenizer, model: model,
            decodeBytes: decodeBytes, decodeStarts: decodeStarts,
            rawMatcher: AddedTokenMatcher(tokens: raw, patterns: raw.map { Array($0.content.utf8) }),
            normalizedMatcher: AddedTokenMatcher(tokens: normalized, patterns: normalized.map {
                Array((nfc ? NFCNormalizer.normalize($0.content) : $0.content).utf8)
            }),
            trimOffsets: post.trimOffsets, trimKeepsPrefixSpace: post.keepsPrefixSpace,
            prefixIDs: post.prefixIDs, suffixIDs: post.suffixIDs,
            tokenTexts: texts, idsByText: idsByText, isSpecial: isSpecial)
    }
}
