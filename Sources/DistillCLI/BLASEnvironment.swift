import Foundation
import Tensor

/// Makes sure OpenBLAS starts with a core type that matches this CPU.
enum BLASEnvironment {
    /// When OPENBLAS_CORETYPE is unset and this CPU has a core type (`BLAS.coreTypeForThisCPU`: SkylakeX
    /// with AVX-512, Haswell with AVX2), sets it and replaces this process with a fresh copy of itself (same
    /// arguments), so the library loads again with the right kernels. Runs at most once: the child sees the
    /// variable set. If exec fails the process continues on the kernels OpenBLAS chose.
    static func reexecIfNeeded() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let coreType = BLAS.coreTypeForThisCPU else { return }
        setenv("OPENBLAS_CORETYPE", coreType, 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        let message = "distill: warning: could not re-execute with OPENBLAS_CORETYPE=\(coreType) "
            + "(\(String(cString: strerror(errno)))); set it yourself for full BLAS speed\n"
        FileHandle.standardError.write(message.data(using: .utf8)!)
    }
}
