import Foundation
import Tensor

/// Makes sure OpenBLAS starts with a core type that matches this CPU and without a worker thread it never uses.
enum BLASEnvironment {
    /// What OpenBLAS must find in the environment when it loads, for the variables the user left unset:
    /// OPENBLAS_CORETYPE, this CPU's core type (`BLAS.coreTypeForThisCPU`: SkylakeX with AVX-512, Haswell with
    /// AVX2); OPENBLAS_NUM_THREADS, 1. Tensor's `sgemm` runs OpenBLAS single-threaded and splits products itself,
    /// but a library loaded without OPENBLAS_NUM_THREADS starts a worker for every other core, and each worker
    /// spins (calling sched_yield) for 2^28 time-stamp ticks before it sleeps, 0.13 s of CPU at the Sapphire
    /// Rapids machine's 2.1 GHz: the start of every process ran on one core (`distill bench --reps 5` measured
    /// sgemm at 270 GFLOP/s instead of 425 there). `--blas-threads N` still gets N threads: OpenBLAS starts them
    /// when asked. A user's own value wins, GOTO_NUM_THREADS (the name OpenBLAS also reads) counting as one.
    static func missing(_ environment: [String: String], coreType: String?) -> [(name: String, value: String)] {
        var settings: [(name: String, value: String)] = []
        if environment["OPENBLAS_CORETYPE"] == nil, let coreType { settings.append(("OPENBLAS_CORETYPE", coreType)) }
        if environment["OPENBLAS_NUM_THREADS"] == nil, environment["GOTO_NUM_THREADS"] == nil {
            settings.append(("OPENBLAS_NUM_THREADS", "1"))
        }
        return settings
    }

    /// Sets what `missing` names and replaces this process with a fresh copy of itself (same arguments), so the
    /// library loads again with them. Runs at most once: the child sees the variables set. If exec fails the
    /// process continues on what OpenBLAS chose.
    static func reexecIfNeeded() {
        let settings = missing(ProcessInfo.processInfo.environment, coreType: BLAS.coreTypeForThisCPU)
        guard !settings.isEmpty else { return }
        for (name, value) in settings { setenv(name, value, 1) }
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        let named = settings.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
        let message = "distill: warning: could not re-execute with \(named) "
            + "(\(String(cString: strerror(errno)))); set them yourself for full BLAS speed\n"
        FileHandle.standardError.write(message.data(using: .utf8)!)
    }
}
