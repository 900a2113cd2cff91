import FileErrors
import Foundation

/// An exclusive hold on a run folder, so two processes (`distill run` and `distill resume`, or two resumes) never
/// write the same run at once: `flock(2)` on `DIR/run.lock`. The kernel drops the lock when the holder's descriptor
/// closes, which includes the process dying of SIGKILL, so a crashed run never leaves a stale lock behind. The
/// holder writes its pid into the file, so a refused process can name it. The file itself stays (removing it would
/// let a third process lock a new file while the second still holds the old one).
public final class RunFolderLock {
    /// The lock file's name inside a run folder.
    public static let fileName = "run.lock"

    /// The lock file.
    public let path: String
    private let descriptor: Int32

    /// Takes the lock of `runDirectory` (which must exist), or throws `RunError.locked` naming the holder's pid.
    public init(runDirectory: String) throws {
        path = runDirectory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RunError.cannotWrite(path: path, reason: WriteFailure.diagnose(path: path, target: .file, errno: errno).reason)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.holderPid(fd)
            close(fd)
            if code == EWOULDBLOCK { throw RunError.locked(directory: runDirectory, lockFile: path, pid: holder) }
            throw RunError.cannotWrite(path: path, reason: "cannot lock the run folder: \(String(cString: strerror(code)))")
        }
        descriptor = fd
        let text = Array("\(getpid())\n".utf8)
        let written = ftruncate(fd, 0) == 0 ? pwrite(fd, text, text.count, 0) : -1
        if written != text.count {
            let code = errno
            close(fd)
            throw RunError.cannotWrite(path: path, reason: WriteFailure.diagnose(path: path, target: .file, errno: code).reason)
        }
    }

    deinit { close(descriptor) }

    /// The pid the holder wrote into the lock file (nil when it has not written it yet).
    private static func holderPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
