/// Everything a tokenizer description says, checked and ready to run: HF's four steps (normalizer,
/// pre-tokenizer, model, decoder) plus the added tokens and the post-processor.
struct TokenizerComponents {
    // Step 1: normalizer.
    /// Whether text is put in NFC before pre-tokenization (HF `NFC`, alone or in a `Sequence`).
    var nfc: Bool
    // Step 2: pre-tokenizer.
    var preTokenizer: PreTokenizer
    // Step 3: model.
    var model: BytePairModel
    // Step 4: decoder (ByteLevel): each id's bytes.
    /// The bytes of id i are `decodeBytes[decodeStarts[i]..<decodeStarts[i + 1]]`.
    var decodeBytes: [UInt8]
    var decodeStarts: [Int32]

    /// Added tokens matched in the raw text, before normalization.
    var rawMatcher: AddedTokenMatcher
    /// Added tokens matched in the normalized text.
    var normalizedMatcher: AddedTokenMatcher

    /// ByteLevel post-processor's `trim_offsets`: spans lose the spaces at their ends.
    var trimOffsets: Bool
    /// ByteLevel post-processor's `add_prefix_space` (keeps the first span's added space).
    var trimKeepsPrefixSpace: Bool
    /// TemplateProcessing's special tokens before and after the text.
    var prefixIDs: [Int32]
    var suffixIDs: [Int32]

    /// The token text of each id (added tokens' content where they have one, else the vocab's), nil for
    /// unused ids.
    var tokenTexts: [String?]
    /// Token text (UTF-8) -> id: added tokens first, then the vocab (HF's `token_to_id`).
    var idsByText: ByteSequenceTable
    /// Whether each id's text is a special added token (skipped by `decode(skipSpecialTokens: true)`).
    var isSpecial: [Bool]

    var vocabularySize: Int { tokenTexts.count }
}
