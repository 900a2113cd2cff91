/// Reads tokenizer.json's `pre_tokenizer`: `ByteLevel` alone, or a `Sequence` of `Split` / `Digits` steps
/// ending in `ByteLevel`.
struct PreTokenizerReader {
    let reader: TokenizerDescriptionReader

    private static let supported = "supported: ByteLevel, Split, Digits, and a Sequence of them ending in ByteLevel"

    func read(_ value: JSONValue) throws -> PreTokenizer {
        var flat: [(value: JSONValue, key: String)] = []
        try flatten(value, "pre_tokenizer", into: &flat)
        guard let last = flat.last, try reader.typeName(last.value, last.key) == "ByteLevel" else {
            throw reader.fail(flat.last?.key ?? "pre_tokenizer",
                              "byte-level BPE needs ByteLevel as the pre-tokenizer or as the last step of its Sequence")
        }
        var steps: [SplitStep] = []
        for (value, key) in flat.dropLast() {
            let type = try reader.typeName(value, key)
            switch type {
            case "Split": steps.append(try readSplit(value, key))
            case "Digits":
                _ = try reader.object(value, key, allowed: ["type", "individual_digits"])
                steps.append(.digits(individual: try reader.bool(value["individual_digits"], key + ".individual_digits", default: false)))
            case "ByteLevel":
                throw reader.fail(key + ".type", "ByteLevel must be the last pre-tokenizer step (it turns text into bytes)")
            default:
                throw reader.fail(key + ".type", "pre-tokenizer \"\(type)\" is not supported; \(PreTokenizerReader.supported)")
            }
        }
        _ = try reader.object(last.value, last.key, allowed: ["type", "add_prefix_space", "trim_offsets", "use_regex"])
        return PreTokenizer(
            steps: steps,
            addPrefixSpace: try reader.bool(last.value["add_prefix_space"], last.key + ".add_prefix_space", default: true),
            useRegex: try reader.bool(last.value["use_regex"], last.key + ".use_regex", default: true))
    }

    private func flatten(_ value: JSONValue, _ key: String, into out: inout [(value: JSONValue, key: String)]) throws {
        let type = try reader.typeName(value, key)
        switch type {
        case "Sequence":
            _ = try reader.object(value, key, allowed: ["type", "pretokenizers"])
            guard let items = value["pretokenizers"]?.arrayValue else {
                throw reader.fail(key + ".pretokenizers", "expected an array of pre-tokenizers")
            }
            for (i, item) in items.enumerated() { try flatten(item, "\(key).pretokenizers[\(i)]", into: &out) }
        case "ByteLevel", "Split", "Digits":
            out.append((value, key))
        default:
            throw reader.fail(key + ".type", "pre-tokenizer \"\(type)\" is not supported; \(PreTokenizerReader.supported)")
        }
    }

    private func readSplit(_ value: JSONValue, _ key: String) throws -> SplitStep {
        _ = try reader.object(value, key, allowed: ["type", "pattern", "behavior", "invert"])
        guard let patternValue = value["pattern"] else { throw reader.fail(key + ".pattern", "missing; expected {\"Regex\": ...} or {\"String\": ...}") }
        let pattern: SplitPattern
        if let regex = patternValue["Regex"] {
            let text = try reader.string(regex, key + ".pattern.Regex")
            do {
                pattern = try SplitPattern.regex(text)
            } catch {
                throw reader.fail(key + ".pattern.Regex", "not a valid regular expression (ICU syntax): \(error)")
            }
        } else if let literal = patternValue["String"] {
            pattern = .literal(Array(try reader.string(literal, key + ".pattern.String").utf8))
        } else {
            throw reader.fail(key + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}")
        }
        let behaviorText = try reader.string(value["behavior"], key + ".behavior")
        guard let behavior = SplitBehavior(rawValue: behaviorText) else {
            throw reader.fail(key + ".behavior", "unknown behavior \"\(behaviorText)\"; supported: \(SplitBehavior.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return .split(pattern: pattern, behavior: behavior,
                      invert: try reader.bool(value["invert"], key + ".invert", default: false))
    }
}
