/// Values as 8-byte little-endian words and UTF-8 strings with their length, appended to a byte array: what one
/// process sends another for an item of work (MPI gathers bytes). Floating-point values go as their bit patterns, so
/// they come back exact. `WordReader` reads them back.
public struct WordWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// One 8-byte little-endian word.
    public mutating func word(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }

    /// A string: its UTF-8 length as a word, then its UTF-8.
    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        word(UInt64(utf8.count))
        bytes += utf8
    }
}

/// Reads what a `WordWriter` wrote, front to back; every read returns nil when the bytes end too soon or a length
/// claims more than is left, so a damaged record is refused, never read past its end.
public struct WordReader {
    private let bytes: [UInt8]
    private var at = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Whether every byte has been read.
    public var atEnd: Bool { at >= bytes.count }

    /// The next 8-byte little-endian word.
    public mutating func word() -> UInt64? {
        guard at + 8 <= bytes.count else { return nil }
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: bytes[at ..< at + 8]) }
        at += 8
        return UInt64(littleEndian: v)
    }

    /// The next word as a non-negative Int.
    public mutating func int() -> Int? { word().flatMap { Int(exactly: $0) } }

    /// The next word as a count of things that follow, each taking at least one byte: refused when it exceeds the
    /// bytes left, before anyone allocates for it.
    public mutating func count() -> Int? { word().flatMap { $0 <= UInt64(bytes.count - at) ? Int($0) : nil } }

    /// The next string (`WordWriter.string`).
    public mutating func string() -> String? {
        guard let n = count() else { return nil }
        defer { at += n }
        return String(decoding: bytes[at ..< at + n], as: UTF8.self)
    }
}
