import Foundation

/// Makes sure OpenBLAS starts with a core type that matches this CPU.
enum BLASEnvironment {
    /// The core type set when the user has not chosen one (AVX-512 kernels; see DESIGN.md).
    static let defaultCoreType = "SkylakeX"

    /// When OPENBLAS_CORETYPE is unset, sets it and replaces this process with a fresh copy of itself
    /// (same arguments), so the library loads again with the right kernels. Runs at most once: the
    /// child sees the variable set. If exec fails the process continues on the slow kernels.
    static func reexecIfNeeded() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else { return }
        setenv("OPENBLAS_CORETYPE", defaultCoreType, 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        let message = "distill: warning: could not re-execute with OPENBLAS_CORETYPE=\(defaultCoreType) "
            + "(\(String(cString: strerror(errno)))); set it yourself for full BLAS speed\n"
        FileHandle.standardError.write(message.data(using: .utf8)!)
    }
}
