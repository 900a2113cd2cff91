/// Hashes that never change between runs, machines or Swift versions (Swift's `Hasher` is seeded per
/// process, so it cannot assign splits).
public enum StableHash {
    /// 64-bit FNV-1a over the UTF-8 bytes of `text`.
    public static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// The canonical form of a question for hashing: lowercased, whitespace runs collapsed to one space, trimmed.
    /// Two questions differing only in spacing or case are the same question.
    public static func canonicalQuestion(_ question: String) -> String {
        question.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The hash of a question's canonical form.
    public static func question(_ question: String) -> UInt64 {
        fnv1a64(canonicalQuestion(question))
    }
}
