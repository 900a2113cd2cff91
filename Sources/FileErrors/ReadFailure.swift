import Foundation

/// Why a file or folder could not be read, in words a user can act on: the path, the cause (nothing there, a
/// folder where a file is expected or the reverse, a file above the path, permission denied) and the fix. The read
/// side of `WriteFailure`, worked out the same way: from the file system and the error number, not from
/// Foundation's texts ("The file couldn't be opened. (NSCocoaErrorDomain error 257.)").
///
///     do { data = try Data(contentsOf: url) } catch {
///         throw MyError.unreadable(path: path, reason: ReadFailure.diagnose(path: path, target: .file, error: error).reason)
///     }
public struct ReadFailure: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was to be read at `path`.
    public enum Target: Sendable {
        /// A file's bytes.
        case file
        /// A folder's entries.
        case folder
    }

    /// What stood in the way.
    public enum Cause: Equatable, Sendable {
        /// Nothing exists at the path.
        case missing
        /// A file was expected where a folder is.
        case isDirectory
        /// A folder was expected where a regular file is.
        case isFile
        /// A folder above the path is a regular file (`notes.txt/x.jsonl`).
        case notDirectory(file: String)
        /// This user may not read the path (or search a folder above it).
        case permissionDenied
        /// Anything else, as the system describes it.
        case other(String)
    }

    /// The path that could not be read.
    public let path: String
    /// Why.
    public let cause: Cause

    public init(path: String, cause: Cause) {
        self.path = path
        self.cause = cause
    }

    /// The cause and what to do, without the path (for errors that print the path themselves).
    public var reason: String {
        switch cause {
        case .missing:
            return "does not exist; check the path (relative paths start at the current folder)"
        case .isDirectory:
            return "is a directory, not a file; give the path of a file (inside it, or elsewhere)"
        case .isFile:
            return "is a file, not a directory; give the path of a folder"
        case .notDirectory(let file):
            return "\(file) is a file, not a directory, so nothing can be under it; check the path"
        case .permissionDenied:
            return "permission denied: this user cannot read it; change its permissions (chmod u+r, and u+x on the folders above) or read it as its owner"
        case .other(let text):
            return "\(text); check the path and that it can be read"
        }
    }

    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }

    /// The cause of a failed (or impossible) read of `target` at `path`.
    /// - Parameters:
    ///   - code: the `errno` of the failed call, when it was a POSIX call.
    ///   - error: the error a Foundation call threw (its POSIX code is used when it carries one).
    public static func diagnose(path: String, target: Target, errno code: Int32? = nil, error: Error? = nil) -> ReadFailure {
        func failure(_ cause: Cause) -> ReadFailure { ReadFailure(path: path, cause: cause) }
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        if !manager.fileExists(atPath: path, isDirectory: &isFolder) {
            // A regular file above the path, or a folder above it this user may not search, explains a missing path.
            var above = WriteFailure.parentPath(path)
            while true {
                if manager.fileExists(atPath: above, isDirectory: &isFolder) {
                    if !isFolder.boolValue { return failure(.notDirectory(file: above)) }
                    if access(above, X_OK) != 0 { return failure(.permissionDenied) }
                    break
                }
                let up = WriteFailure.parentPath(above)
                if up == above { break }
                above = up
            }
            return failure(.missing)
        }
        if target == .file && isFolder.boolValue { return failure(.isDirectory) }
        if target == .folder && !isFolder.boolValue { return failure(.isFile) }
        let posix = code ?? error.flatMap(WriteFailure.posixCode)
        if posix == EACCES || posix == EPERM || access(path, target == .folder ? R_OK | X_OK : R_OK) != 0 {
            return failure(.permissionDenied)
        }
        if let posix { return failure(.other(String(cString: strerror(posix)))) }
        return failure(.other(error.map { ($0 as NSError).localizedDescription } ?? "the read failed"))
    }

    /// The bytes of the file at `path`.
    /// - Throws: `ReadFailure` naming the cause (a directory, missing, permission denied, ...).
    public static func contents(of path: String) throws -> Foundation.Data {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw ReadFailure(path: path, cause: .isDirectory)
        }
        do { return try Foundation.Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw diagnose(path: path, target: .file, error: error)
        }
    }

    /// The entries of the folder at `path`.
    /// - Throws: `ReadFailure` naming the cause (a file, missing, permission denied, ...).
    public static func entries(of path: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw diagnose(path: path, target: .folder, error: error)
        }
    }
}
