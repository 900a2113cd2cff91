/// The classes the pre-tokenizer patterns tell apart: `\p{L}`, `\p{N}`, `\s` (Unicode White_Space, as
/// Oniguruma and ICU read `\s`) and everything else. One byte per Basic Multilingual Plane scalar, built once
/// from the standard library's Unicode tables; other planes are looked up directly.
enum ScalarClass {
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 3

    /// The class of each scalar below U+10000.
    /// (Allocated once for the process and never freed, so lookups need no array bounds or ownership checks.)
    private static let bmp: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        for v in 0..<0x10000 {
            table[v] = Unicode.Scalar(UInt32(v)).map(compute) ?? other
        }
        return UnsafePointer(table)
    }()

    private static func compute(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return other
        }
    }

    /// The class of scalar value `v`.
    @inline(__always)
    static func of(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return bmp[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return other }
        return compute(s)
    }

    /// Whether `v` is a word character for the regex crate's `\w` (Alphabetic, marks, decimal digits,
    /// connector punctuation, join controls): how HF decides `single_word` added tokens.
    static func isWordCharacter(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .decimalNumber, .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation: return true
        default: return false
        }
    }
}
