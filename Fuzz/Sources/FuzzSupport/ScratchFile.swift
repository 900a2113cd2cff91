import Foundation

/// One file per harness process that each input is written to, for readers that take a path (JSONL, HDF5,
/// mapped safetensors and GGUF files). The name carries the process id so harnesses run side by side.
public final class ScratchFile {
    /// The file's path.
    public let path: String

    /// A scratch path in the temporary directory ending in `suffix` (e.g. ".h5").
    public init(suffix: String) {
        path = NSTemporaryDirectory() + "tracedistill-fuzz-\(getpid())\(suffix)"
    }

    /// Replaces the file's contents with `count` bytes at `bytes`. A failed write stops the run: it is the
    /// machine, not the reader, that is broken then.
    public func write(_ bytes: UnsafePointer<UInt8>, _ count: Int) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot open \(path): \(String(cString: strerror(errno)))")
        var written = 0
        while written < count {
            let n = Foundation.write(fd, bytes + written, count - written)
            precondition(n > 0, "cannot write \(path): \(String(cString: strerror(errno)))")
            written += n
        }
        close(fd)
    }
}

/// The input as text the way the readers decode files: UTF-8 with invalid bytes repaired, so every input
/// reaches the parser (the file readers refuse invalid UTF-8 before parsing; that refusal is tested elsewhere).
public func fuzzText(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> String {
    String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
}
