/// GPT-2's reversible map between bytes and printable characters (`bytes_to_unicode` in GPT-2's encoder.py,
/// `bytes_char` in HF tokenizers' byte_level.rs): the printable bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand
/// for themselves, the other 68 bytes become U+0100 + n in byte order (so space is `Ġ`, newline `Ċ`).
enum ByteLevelAlphabet {
    /// The character that stands for each byte.
    static let characterOfByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(0x100 + n)!
                n += 1
            }
        }
        return table
    }()

    /// The byte each alphabet character stands for, indexed by scalar value (0..<0x144); -1 elsewhere.
    static let byteOfCharacter: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, c) in characterOfByte.enumerated() { table[Int(c.value)] = Int16(b) }
        return table
    }()

    /// The bytes a token written in the alphabet stands for, or nil when a character is outside it.
    static func bytes(of token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let v = Int(scalar.value)
            guard v < byteOfCharacter.count, byteOfCharacter[v] >= 0 else { return nil }
            out.append(UInt8(byteOfCharacter[v]))
        }
        return out
    }

    /// `bytes` spelled in the alphabet.
    static func spelling(of bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(characterOfByte[Int(b)]) }
        return String(s)
    }
}
