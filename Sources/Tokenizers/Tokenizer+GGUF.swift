extension Tokenizer {
    /// The character tokenizer as llama.cpp `tokenizer.ggml.*` metadata: a byte-level BPE vocabulary ("gpt2") with
    /// no merges, in which every symbol is one byte and so one token: without merges, byte-level BPE encodes text
    /// byte by byte, which is this tokenizer's character by character with the same ids. `<pad>`, `<bos>`, `<eos>`
    /// are control tokens (type 3) as written; the other symbols are spelled in the byte alphabet (space `Ġ`,
    /// newline `Ċ`). BOS is added to every encoding, as `encode` does by default.
    /// - Parameters:
    ///   - vocabularySize: the model's vocabulary; ids past the symbols are `[PAD<id>]` of type 5 (unused).
    ///   - eos: the id that ends a completion.
    /// - Throws: `TokenizerFileError` naming the symbol when one is more than one byte of UTF-8 (it would need
    ///   merges this vocabulary does not have).
    public func ggufSpec(vocabularySize: Int, eos: Int32, chatTemplate: String?, file: String) throws -> GGUFTokenizerSpec {
        precondition(vocabularySize >= symbols.count, "the model's vocabulary \(vocabularySize) is smaller than the tokenizer's \(symbols.count)")
        var tokens: [String] = [], types: [Int32] = []
        for (id, symbol) in symbols.enumerated() {
            if id < Self.specials.count {
                tokens.append(symbol)
                types.append(3)
                continue
            }
            let bytes = Array(symbol.utf8)
            guard bytes.count == 1 else {
                throw TokenizerFileError(file: file, key: "tokenizer symbol \(id) \(String(reflecting: symbol))",
                                         message: "is \(bytes.count) bytes of UTF-8; a GGUF byte-level vocabulary without merges holds only one-byte (ASCII) characters. Export with --format hf instead, whose tokenizer.json has no such limit")
            }
            tokens.append(ByteLevelAlphabet.spelling(of: bytes))
            types.append(1)
        }
        for id in symbols.count..<vocabularySize {
            tokens.append("[PAD\(id)]")
            types.append(5)
        }
        return GGUFTokenizerSpec(file: file, model: "gpt2", pre: GGUFPreTokenizer.gpt2.llamaCppName, tokens: tokens, merges: [],
                                 tokenTypes: types, bosID: Self.bos, eosID: eos, padID: Self.pad, addBOS: true, addEOS: false,
                                 chatTemplate: chatTemplate)
    }
}
