import FileErrors
import Foundation

/// A file opened for appending with POSIX calls: each `write` is one `write(2)` of a whole line or
/// record (so a SIGKILL leaves at most one torn tail, which the readers detect), and `close` fsyncs.
final class AppendOnlyFile {
    /// Where the file is.
    let path: String
    private var descriptor: Int32

    /// Opens (creating, and emptying when `truncate`) `path` for appending.
    init(path: String, truncate: Bool = false) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard descriptor >= 0 else {
            throw TelemetryError.io(path: path, reason: "cannot open for writing: " + WriteFailure.diagnose(path: path, target: .file, errno: errno).reason)
        }
    }

    deinit { if descriptor >= 0 { _ = Foundation.close(descriptor) } }

    /// Appends `bytes`, retrying short writes and interrupted calls.
    func write(_ bytes: [UInt8]) throws {
        guard descriptor >= 0 else { throw TelemetryError.io(path: path, reason: "written after close") }
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(descriptor, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TelemetryError.io(path: path, reason: "write failed: " + WriteFailure.diagnose(path: path, target: .file, errno: errno).reason)
                }
                done += n
            }
        }
    }

    /// Appends the UTF-8 of `text`.
    func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Flushes to disk and closes; later writes fail.
    func close() throws {
        guard descriptor >= 0 else { return }
        let fd = descriptor
        descriptor = -1
        if fsync(fd) != 0 {
            let reason = errnoText()
            _ = Foundation.close(fd)
            throw TelemetryError.io(path: path, reason: "fsync failed: \(reason)")
        }
        guard Foundation.close(fd) == 0 else { throw TelemetryError.io(path: path, reason: "close failed: \(errnoText())") }
    }
}

/// The text of the current `errno`.
func errnoText() -> String { String(cString: strerror(errno)) }

/// Whole-file operations the monitor needs: atomic replacement and reading.
enum FileOperations {
    /// Writes `bytes` to a temporary file in the same folder, fsyncs it and renames it over `path`, so a
    /// crash leaves either the old file or the new one, never a mixture.
    /// - Parameter temporaryName: the temporary file's name (TensorBoard must never see it: its name must not
    ///   contain "tfevents").
    static func replace(_ path: String, with bytes: [UInt8], temporaryName: String) throws {
        if let inTheWay = WriteFailure.inTheWay(ofFileAt: path) {
            throw TelemetryError.io(path: path, reason: "cannot replace the file: " + inTheWay.reason)
        }
        let folder = (path as NSString).deletingLastPathComponent
        let temporary = (folder.isEmpty ? "." : folder) + "/" + temporaryName
        let file = try AppendOnlyFile(path: temporary, truncate: true)
        do {
            try file.write(bytes)
            try file.close()
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw TelemetryError.io(path: path, reason: "cannot replace the file: " + WriteFailure.diagnose(path: path, target: .file, errno: code).reason)
        }
    }

    /// The bytes of `path`.
    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TelemetryError.io(path: path, reason: "cannot read the file (missing or unreadable)")
        }
        return [UInt8](data)
    }

    /// True when `path` exists and is a folder.
    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
