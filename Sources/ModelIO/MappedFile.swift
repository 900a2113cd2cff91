#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory (`mmap(PROT_READ, MAP_PRIVATE)`), unmapped when the object goes away.
/// Nothing is copied: tensor data is read straight from the page cache. Every read is bounds-checked and throws
/// `ModelFileError.malformed` naming the file and offset when it would pass the end, so a truncated or hostile
/// file cannot make a reader touch memory outside the mapping.
///
/// Immutable after `init`, so it is safe to read from several threads at once. If another process truncates the
/// file while it is mapped, reading the lost pages raises SIGBUS; that is the one thing mapping cannot guard.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with (used in every error message).
    public let path: String
    /// The file's size in bytes.
    public let count: Int
    /// Start of the mapping; nil for an empty file (mmap refuses zero-length mappings).
    private let base: UnsafeRawPointer?

    /// Maps the regular file at `path`.
    /// - Throws: `ModelFileError.unreadable` when it does not exist, is a directory or cannot be opened or mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ModelFileError.unreadable(file: path, reason: MappedFile.systemError(errno))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelFileError.unreadable(file: path, reason: MappedFile.systemError(errno))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw ModelFileError.unreadable(file: path, reason: "is a directory, not a file; pass the model file inside it")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFileError.unreadable(file: path, reason: "is not a regular file (a device, socket or pipe cannot be mapped)")
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw ModelFileError.unreadable(file: path, reason: "cannot map \(count) bytes: \(MappedFile.systemError(errno))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The whole file as bytes (valid while this object lives).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Throws unless `length` bytes starting at `offset` lie inside the file; `what` names them for the message.
    public func checkRange(offset: Int, length: Int, _ what: @autoclosure () -> String) throws {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard offset >= 0, length >= 0, !overflow, end <= count else {
            throw ModelFileError.malformed(
                file: path, offset: offset,
                reason: "\(what()) (\(length) bytes) runs past the end of the file (\(count) bytes): the file is truncated or damaged; download or convert it again")
        }
    }

    /// A pointer to byte `offset`, after checking that `length` bytes from there lie inside the file.
    public func pointer(at offset: Int, length: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        try checkRange(offset: offset, length: length, what())
        // A zero-length range in an empty file has no mapping to point into; any non-null pointer will do
        // because nothing is read through it.
        guard let base else { return UnsafeRawPointer(bitPattern: 1)! }
        return base + offset
    }

    /// Reads a little-endian integer of type `T` at `offset`.
    public func read<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, _ what: @autoclosure () -> String) throws -> T {
        let p = try pointer(at: offset, length: MemoryLayout<T>.size, what())
        return T(littleEndian: p.loadUnaligned(as: T.self))
    }

    /// Reads a little-endian IEEE float32 at `offset`.
    public func readFloat(at offset: Int, _ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, at: offset, what()))
    }

    /// Reads a little-endian IEEE float64 at `offset`.
    public func readDouble(at offset: Int, _ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, at: offset, what()))
    }

    /// The C library's message for `code` ("No such file or directory").
    static func systemError(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "error \(code)" }
        return String(cString: message)
    }
}
