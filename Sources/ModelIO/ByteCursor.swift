/// Sequential little-endian reads through a `MappedFile` (the GGUF header, metadata and tensor infos), each
/// checked against the bytes left. Lengths and counts read from the file are checked before anything is
/// allocated for them, so a hostile count fails with an error instead of a terabyte allocation.
struct ByteCursor {
    let file: MappedFile
    /// The next byte to read.
    var offset: Int
    /// Metadata array elements still allowed (see `GGUFValue.maximumArrayElements`).
    var arrayElementBudget = GGUFValue.maximumArrayElements

    init(_ file: MappedFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    /// Bytes between the cursor and the end of the file.
    var remaining: Int { max(0, file.count - offset) }

    /// Reads an integer and advances past it.
    mutating func integer<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let value = try file.read(T.self, at: offset, what())
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try integer(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try integer(UInt64.self, what()) }

    /// Reads a u64 count of items of at least `minimumBytes` each, refusing counts the rest of the file cannot
    /// hold (a count of 2^60 is malformed, not an allocation).
    mutating func count(_ what: @autoclosure () -> String, minimumBytes: Int) throws -> Int {
        let at = offset
        let raw = try u64(what())
        let (needed, overflow) = (raw > UInt64(Int.max) ? UInt64.max : raw).multipliedReportingOverflow(by: UInt64(minimumBytes))
        guard raw <= UInt64(Int.max), !overflow, needed <= UInt64(remaining) else {
            throw ModelFileError.malformed(
                file: file.path, offset: at,
                reason: "\(what()) is \(raw), which needs at least \(overflow ? "more than 2^64" : String(needed)) bytes, but only \(remaining) remain in the file: the count is corrupt or the file is truncated")
        }
        return Int(raw)
    }

    /// Reads a GGUF string (u64 byte length, then UTF-8 bytes without a terminator).
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let at = offset
        let raw = try u64("the length of \(what())")
        guard raw <= UInt64(remaining) else {
            throw ModelFileError.malformed(
                file: file.path, offset: at,
                reason: "\(what()) has length \(raw), more than the \(remaining) bytes left in the file: the length is corrupt or the file is truncated")
        }
        let length = Int(raw)
        let p = try file.pointer(at: offset, length: length, what())
        let bytes = UnsafeRawBufferPointer(start: p, count: length)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ModelFileError.malformed(
                file: file.path, offset: offset,
                reason: "\(what()) is not valid UTF-8 (GGUF strings are UTF-8); the file is damaged or was written by a broken converter")
        }
        offset += length
        return text
    }
}
