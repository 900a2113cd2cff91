import FileErrors
import Foundation

/// Writes a JSONL file line by line as rows are made, so a writer never holds them all: the lines go to a
/// temporary file beside `path` and `commit()` moves it to `path` (fsynced, then renamed), so a failure or a
/// crash leaves the old file or none, never half of one. `discard()` removes the temporary file.
public final class JSONLinesWriter {
    /// The file the lines end up in.
    public let path: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    /// Lines written so far.
    public private(set) var lineCount = 0

    /// Opens a temporary file beside `path`.
    /// - Throws: `DataError.writeFailed` naming the path, the cause in words and the fix (a directory at `path`,
    ///   a missing folder, no permission), before anything is written.
    public init(path: String) throws {
        self.path = path
        if let inTheWay = WriteFailure.inTheWay(ofFileAt: path, exampleName: "rows.jsonl") {
            throw DataError.writeFailed(path: path, reason: inTheWay.reason)
        }
        var isFolder: ObjCBool = false
        let folder = WriteFailure.parentPath(path)
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            let diagnosed = WriteFailure.diagnose(path: path, target: .file)
            if case .notDirectory = diagnosed.cause { throw DataError.writeFailed(path: path, reason: diagnosed.reason) }
            throw DataError.writeFailed(path: path, reason: "the folder \(folder) does not exist; create it first")
        }
        temporaryPath = path + ".partial-\(getpid())"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DataError.writeFailed(path: path, reason: WriteFailure.diagnose(path: path, target: .file, errno: errno, exampleName: "rows.jsonl").reason)
        }
        buffer.reserveCapacity(1 << 20)
    }

    deinit { if descriptor >= 0 { discard() } }

    /// Appends one line (without its newline).
    /// - Throws: `DataError.writeFailed` (disk full, ...); the temporary file is then removed.
    public func append(_ line: String) throws {
        buffer.append(contentsOf: line.utf8)
        buffer.append(10)
        lineCount += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { write(descriptor, $0.baseAddress! + done, buffer.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                discard()
                throw DataError.writeFailed(path: path, reason: WriteFailure.diagnose(path: path, target: .file, errno: code).reason)
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, fsyncs and renames the temporary file to `path`.
    public func commit() throws {
        try flush()
        if fsync(descriptor) != 0 || close(descriptor) != 0 {
            let code = errno
            discard()
            throw DataError.writeFailed(path: path, reason: WriteFailure.diagnose(path: path, target: .file, errno: code).reason)
        }
        descriptor = -1
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw DataError.writeFailed(path: path, reason: WriteFailure.diagnose(path: path, target: .file, errno: code, exampleName: "rows.jsonl").reason)
        }
    }

    /// Closes and removes the temporary file; `path` is left as it was.
    public func discard() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlink(temporaryPath)
    }
}
