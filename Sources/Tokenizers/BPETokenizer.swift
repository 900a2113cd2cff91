import FileErrors
import Foundation

/// A byte-level BPE tokenizer (GPT-2, Llama 3, Qwen2, SmolLM families) that encodes and decodes exactly as
/// the Hugging Face `tokenizers` library does with the same tokenizer.json.
///
/// Encoding runs HF's steps in order: added tokens are cut out of the raw text, the rest is normalized (NFC
/// or nothing), pre-tokenized (Split / Digits / ByteLevel), and each pre-token goes through the BPE model;
/// the post-processor then trims spans and adds template tokens. Immutable after init; the per-word BPE cache
/// inside is guarded by a lock, so one tokenizer can serve many threads.
public final class BPETokenizer: @unchecked Sendable {
    let components: TokenizerComponents
    /// The tokenizer.json this tokenizer was read from, or was made into (GGUF).
    let exportedDescription: JSONValue?
    private let originalText: String?

    /// The id of the beginning-of-sequence token: GGUF's `bos_token_id`, or the token a tokenizer.json
    /// TemplateProcessing puts before the text (nil when it puts none).
    public let bosID: Int32?
    /// The id of the end-of-sequence token: GGUF's `eos_token_id`, or the token a TemplateProcessing puts
    /// after the text (nil when it puts none).
    public let eosID: Int32?
    /// The padding token's id (GGUF's `padding_token_id`; tokenizer.json does not name one: nil).
    public let padID: Int32?
    /// Whether `encode(addSpecialTokens: true)` puts the BOS token first.
    public let addBOS: Bool

    /// Max id + 1 over the vocab and the added tokens.
    public var vocabularySize: Int { components.vocabularySize }

    // MARK: - Loading

    /// Reads a tokenizer.json text.
    /// - Parameters:
    ///   - json: the file's text.
    ///   - file: the name used in errors.
    /// - Throws: `TokenizerFileError` naming the JSON path of anything malformed or unsupported.
    public convenience init(json: String, file: String = "tokenizer.json") throws {
        let root: JSONValue
        do {
            root = try JSONValue.parse(json)
        } catch let e as JSONSyntaxError {
            throw TokenizerFileError(file: file, key: "line \(e.line), column \(e.column)",
                                     message: "not valid JSON: \(e.message)")
        }
        let components = try TokenizerDescriptionReader(file: file).read(root)
        self.init(components: components, description: root, originalText: json,
                  bos: components.prefixIDs.first, eos: components.suffixIDs.last, pad: nil)
    }

    /// Reads the tokenizer.json at `path`.
    /// - Throws: `TokenizerFileError` naming `path` when it cannot be read or is not a supported tokenizer.
    public static func load(path: String) throws -> BPETokenizer {
        let data: Data
        do {
            data = try ReadFailure.contents(of: path)
        } catch let e as ReadFailure {
            throw TokenizerFileError(file: path, key: "(file)", message: "cannot read the file: \(e.reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenizerFileError(file: path, key: "(file)", message: "the file is not UTF-8 text")
        }
        return try BPETokenizer(json: text, file: path)
    }

    init(components: TokenizerComponents, description: JSONValue?, originalText: String?,
         bos: Int32?, eos: Int32?, pad: Int32?) {
        self.components = components
        exportedDescription = description
        self.originalText = originalText
        bosID = bos
        eosID = eos
        padID = pad
        addBOS = !components.prefixIDs.isEmpty
    }

    // MARK: - Vocabulary

    /// The id of a token's text (an added token's content, or a vocab entry as written in the byte alphabet,
    /// e.g. `Ġthe`), or nil.
    public func id(of token: String) -> Int32? {
        var utf8 = Array(token.utf8)
        return utf8.withUnsafeMutableBufferPointer { buf in
            components.idsByText.first(buf.baseAddress ?? UnsafeMutablePointer(bitPattern: 1)!, buf.count)
        }
    }

    /// The text of token `id` (added tokens' content as written, vocab entries in the byte alphabet), or nil
    /// for an id outside the vocabulary.
    public func token(of id: Int32) -> String? {
        guard id >= 0, Int(id) < components.tokenTexts.count else { return nil }
        return components.tokenTexts[Int(id)]
    }

    // MARK: - Decoding

    /// The text of `ids` (HF's ByteLevel decoder): the tokens' bytes joined and read as UTF-8, with U+FFFD
    /// for invalid sequences. Unknown ids are skipped, as HF does.
    /// - Parameter skipSpecialTokens: leave out special added tokens (`<|im_end|>`, BOS, ...).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the bytes token `id` decodes to.
    func appendBytes(of id: Int32, skipSpecialTokens: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, Int(id) < components.tokenTexts.count, components.tokenTexts[Int(id)] != nil else { return }
        if skipSpecialTokens && components.isSpecial[Int(id)] { return }
        let start = Int(components.decodeStarts[Int(id)]), end = Int(components.decodeStarts[Int(id) + 1])
        bytes.append(contentsOf: components.decodeBytes[start..<end])
    }

    // MARK: - Export

    /// A tokenizer.json text that the HF `tokenizers` library loads and that encodes as this tokenizer does:
    /// the original text for a tokenizer read from JSON, the description built from the metadata for one
    /// made from GGUF (for checkpoints and export).
    public func tokenizerJSON() -> String {
        if let originalText { return originalText }
        return exportedDescription?.serialized(indent: 1) ?? "{}"
    }

    // MARK: - Spans

    /// Maps UTF-8 byte spans (from `encodeWithSpans`) to Character (extended grapheme cluster) offsets in
    /// `text`; a span covering part of a character covers that whole character, and an empty span stays empty
    /// at the character it starts in.
    public static func characterSpans(_ byteSpans: [Range<Int>], in text: String) -> [Range<Int>] {
        // characterAt[b] = index of the character containing byte b; one extra entry for the end.
        let utf8Count = text.utf8.count
        var characterAt = [Int](repeating: 0, count: utf8Count + 1)
        var index = 0, offset = 0
        for character in text {
            let n = character.utf8.count
            for k in 0..<n { characterAt[offset + k] = index }
            offset += n
            index += 1
        }
        characterAt[utf8Count] = index
        return byteSpans.map { span in
            let lower = characterAt[min(max(span.lowerBound, 0), utf8Count)]
            guard span.upperBound > span.lowerBound else { return lower..<lower }
            let upper = characterAt[min(span.upperBound - 1, utf8Count)] + 1
            return lower..<max(upper, lower)
        }
    }
}
