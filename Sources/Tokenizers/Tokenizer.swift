import Foundation

/// Text the tokenizer cannot encode: the character, where it is, and what to do.
public struct TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The character that has no token.
    public let character: Character
    /// Its offset (in characters) in the text.
    public let offset: Int
    public var description: String {
        "cannot encode character \(String(reflecting: String(character))) at offset \(offset): it is not in the "
            + "tokenizer's vocabulary (digits, letters, space, newline and the math symbols); remove or replace it"
    }
}

/// A character/symbol tokenizer for the built-in math domains, with PAD, BOS and EOS specials.
///
/// Each symbol is one token; the vocabulary is saved in every checkpoint so a model reads its own ids.
public struct Tokenizer: Codable, Sendable, Equatable {
    /// Symbols in id order; ids 0, 1, 2 are `<pad>`, `<bos>`, `<eos>`.
    public let symbols: [String]
    private let index: [Character: Int32]

    /// Padding id (never predicted; ignored by the losses).
    public static let pad: Int32 = 0
    /// Beginning-of-sequence id.
    public static let bos: Int32 = 1
    /// End-of-sequence id.
    public static let eos: Int32 = 2
    static let specials = ["<pad>", "<bos>", "<eos>"]

    /// The built-in math vocabulary: digits, lower and upper case letters, space, newline and
    /// `+ - * / ^ = ( ) . , : ; ? ! < > # % $ ' " [ ] { } \ _ | & ~`.
    public static let math = Tokenizer(characters: Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \n+-*/^=().,:;?!<>#%$'\"[]{}\\_|&~"))

    /// A tokenizer over the given single characters (after the three specials).
    public init(characters: [Character]) {
        precondition(Set(characters).count == characters.count, "tokenizer characters must be unique")
        self.init(symbols: Self.specials + characters.map { String($0) })
    }

    init(symbols: [String]) {
        self.symbols = symbols
        var idx: [Character: Int32] = [:]
        for (i, s) in symbols.enumerated() where i >= Self.specials.count {
            idx[Character(s)] = Int32(i)
        }
        index = idx
    }

    /// Number of ids.
    public var vocabularySize: Int { symbols.count }

    /// Token ids of `text`, optionally with BOS first and EOS last.
    /// - Throws: `TokenizerError` naming the first character with no token.
    public func encode(_ text: String, addBOS: Bool = true, addEOS: Bool = false) throws -> [Int32] {
        var ids: [Int32] = addBOS ? [Self.bos] : []
        ids.reserveCapacity(text.count + 2)
        for (i, ch) in text.enumerated() {
            guard let id = index[ch] else { throw TokenizerError(character: ch, offset: i) }
            ids.append(id)
        }
        if addEOS { ids.append(Self.eos) }
        return ids
    }

    /// The text of `ids`, dropping specials (or stopping at EOS when `stopAtEOS`).
    public func decode(_ ids: [Int32], stopAtEOS: Bool = true) -> String {
        var s = ""
        for id in ids {
            if id == Self.eos && stopAtEOS { break }
            guard id >= Int32(Self.specials.count), Int(id) < symbols.count else { continue }
            s += symbols[Int(id)]
        }
        return s
    }

    enum CodingKeys: String, CodingKey { case symbols }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let symbols = try c.decode([String].self, forKey: .symbols)
        guard Array(symbols.prefix(3)) == Self.specials else {
            throw DecodingError.dataCorruptedError(forKey: .symbols, in: c,
                debugDescription: "the first three symbols must be \(Self.specials), got \(Array(symbols.prefix(3)))")
        }
        for (i, s) in symbols.enumerated().dropFirst(3) where s.count != 1 {
            throw DecodingError.dataCorruptedError(forKey: .symbols, in: c,
                debugDescription: "symbol \(i) (\(String(reflecting: s))) must be exactly one character")
        }
        guard Set(symbols).count == symbols.count else {
            throw DecodingError.dataCorruptedError(forKey: .symbols, in: c, debugDescription: "symbols must be unique")
        }
        self.init(symbols: symbols)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(symbols, forKey: .symbols)
    }

    public static func == (a: Tokenizer, b: Tokenizer) -> Bool { a.symbols == b.symbols }
}
