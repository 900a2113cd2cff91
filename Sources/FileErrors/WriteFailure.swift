import Foundation

/// Why a file or folder could not be written, in words a user can act on: the path, the cause (a directory where a
/// file goes, a file where a folder goes, no such folder, permission denied, disk full, read-only) and the fix.
///
/// The cause is worked out from the file system itself (what exists at the path and above it) and from the
/// operating system's error number when there is one, so it does not depend on Foundation's error texts
/// ("The operation could not be completed. (NSCocoaErrorDomain error 512.)").
///
///     do { try data.write(to: url) } catch {
///         throw MyError.writeFailed(path: path, reason: WriteFailure.diagnose(path: path, target: .file, error: error).reason)
///     }
public struct WriteFailure: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was being written at `path`.
    public enum Target: Sendable {
        /// A file (its parent folder must exist or be creatable).
        case file
        /// A folder (created with its parents).
        case folder
    }

    /// What stood in the way.
    public enum Cause: Equatable, Sendable {
        /// A file was to be written where a folder is.
        case isDirectory
        /// A folder was to be made where a regular file is.
        case isFile
        /// A folder above the path is a regular file (`notes.txt/x.h5`).
        case notDirectory(file: String)
        /// The folder the file goes in does not exist.
        case noSuchFolder(folder: String)
        /// This user may not write in `folder`.
        case permissionDenied(folder: String)
        /// No space left on the device (or the quota is used up).
        case diskFull
        /// The file system is mounted read-only.
        case readOnly
        /// The file would grow past this process's file-size limit (`RLIMIT_FSIZE`, `ulimit -f`; `limit` bytes when finite).
        case fileTooLarge(limit: UInt64?)
        /// Something other than a regular file or a folder is at the path (`kind`: "a character device", ...); a file
        /// written under a temporary name and renamed into place would replace it (`/dev/null` would become a file).
        case notRegularFile(kind: String)
        /// Anything else, as the system describes it.
        case other(String)
    }

    /// The path that could not be written.
    public let path: String
    /// Why.
    public let cause: Cause
    /// A file name to suggest inside `path` when it is a directory (nil: the path is not the user's choice).
    public let exampleName: String?

    public init(path: String, cause: Cause, exampleName: String? = nil) {
        self.path = path
        self.cause = cause
        self.exampleName = exampleName
    }

    /// The cause and what to do, without the path (for errors that print the path themselves).
    public var reason: String {
        switch cause {
        case .isDirectory:
            let fix = exampleName.map { "give a file path such as \(Self.joined(path, $0))" }
                ?? "remove or rename that folder, or write somewhere else"
            return "is a directory, not a file; \(fix)"
        case .isFile:
            return "is a file, not a directory; give a folder (an existing folder or a path that does not exist yet), or move the file away"
        case .notDirectory(let file):
            return "\(file) is a file, not a directory, so nothing can be created under it; choose a path whose folders are folders, or move \(file) away"
        case .noSuchFolder(let folder):
            return "the folder \(folder) does not exist; create it first (mkdir -p \(folder)) or choose another path"
        case .permissionDenied(let folder):
            return "permission denied: this user cannot write in \(folder); choose a folder you can write to, or change its owner or permissions"
        case .diskFull:
            return "no space left on the device; free some space or write to another disk"
        case .readOnly:
            return "the file system is read-only; write to another location"
        case .fileTooLarge(let limit):
            let size = limit.map { "of \($0) bytes " } ?? ""
            return "file too large: it would grow past this process's file-size limit \(size)(RLIMIT_FSIZE, set by `ulimit -f`); "
                + "raise or remove the limit (`ulimit -f unlimited`) and write again"
        case .notRegularFile(let kind):
            let fix = exampleName.map { "give a path to a regular file, such as \(Self.joined(Self.parentPath(path), $0))" }
                ?? "give a path to a regular file"
            return "is \(kind), not a regular file; the file is written under a temporary name and renamed into place, which "
                + "would replace \(kind) itself, so nothing was written; \(fix)"
        case .other(let text):
            return "\(text); check the path and that its folder can be written"
        }
    }

    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }

    /// What stands where a file is to be renamed into place at `path`, before anything is written: a folder
    /// (`.isDirectory`) or something that is not a regular file (`.notRegularFile`: a device, a pipe, a socket; the rename
    /// would replace it). Nil when the path is free or holds a regular file (or a link to one).
    public static func inTheWay(ofFileAt path: String, exampleName: String? = nil) -> WriteFailure? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return WriteFailure(path: path, cause: .isDirectory, exampleName: exampleName)
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFIFO: kind = "a named pipe (FIFO)"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a file or a folder"
        }
        return WriteFailure(path: path, cause: .notRegularFile(kind: kind), exampleName: exampleName)
    }

    /// The cause of a failed write of `target` at `path`.
    /// - Parameters:
    ///   - code: the `errno` of the failed call, when it was a POSIX call.
    ///   - error: the error a Foundation call threw (its POSIX code is used when it carries one).
    ///   - createsFolders: whether the writer creates missing parent folders (then a missing one is not the cause).
    ///   - exampleName: a file name to suggest when `path` is a directory.
    public static func diagnose(path: String, target: Target, errno code: Int32? = nil, error: Error? = nil,
                                createsFolders: Bool = false, exampleName: String? = nil) -> WriteFailure {
        func failure(_ cause: Cause) -> WriteFailure { WriteFailure(path: path, cause: cause, exampleName: exampleName) }
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isFolder) {
            if target == .file, let inTheWay = inTheWay(ofFileAt: path), case .notRegularFile = inTheWay.cause { return failure(inTheWay.cause) }
            if target == .file && isFolder.boolValue { return failure(.isDirectory) }
            if target == .folder && !isFolder.boolValue { return failure(.isFile) }
        }
        // The nearest folder above `path` that exists, and whether a regular file stands in the way.
        let parent = parentPath(path)
        var existing = parent
        while !manager.fileExists(atPath: existing, isDirectory: &isFolder) {
            let up = parentPath(existing)
            if up == existing { break }
            existing = up
        }
        if manager.fileExists(atPath: existing, isDirectory: &isFolder), !isFolder.boolValue {
            return failure(.notDirectory(file: existing))
        }
        switch code ?? error.flatMap(posixCode) {
        case EACCES?, EPERM?: return failure(.permissionDenied(folder: existing))
        case ENOSPC?, EDQUOT?: return failure(.diskFull)
        case EFBIG?: return failure(.fileTooLarge(limit: fileSizeLimit()))
        case EROFS?: return failure(.readOnly)
        case EISDIR?: return failure(.isDirectory)
        case ENOENT? where existing != parent && !createsFolders: return failure(.noSuchFolder(folder: parent))
        default: break
        }
        if existing != parent && !createsFolders && target == .file { return failure(.noSuchFolder(folder: parent)) }
        if access(existing, W_OK) != 0 { return failure(.permissionDenied(folder: existing)) }
        if let code { return failure(.other(String(cString: strerror(code)))) }
        if let error, let code = posixCode(error) { return failure(.other(String(cString: strerror(code)))) }
        return failure(.other(error.map { ($0 as NSError).localizedDescription } ?? "the write failed"))
    }

    /// This process's file-size limit in bytes (`RLIMIT_FSIZE`), nil when there is none.
    public static func fileSizeLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return UInt64(limit.rlim_cur)
    }

    /// The folder holding `path` ("." for a bare name, "/" for the root).
    public static func parentPath(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    private static func joined(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// The POSIX error number a Foundation error carries (directly, as its underlying error, or by its Cocoa code).
    public static func posixCode(_ error: Error) -> Int32? {
        if let posix = error as? POSIXError { return posix.code.rawValue }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Int32(underlying.code)
        }
        guard ns.domain == NSCocoaErrorDomain else { return nil }
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileWriteNoPermission, .fileReadNoPermission: return EACCES
        case .fileWriteOutOfSpace: return ENOSPC
        case .fileWriteVolumeReadOnly: return EROFS
        case .fileNoSuchFile, .fileReadNoSuchFile: return ENOENT
        default: return nil
        }
    }
}
