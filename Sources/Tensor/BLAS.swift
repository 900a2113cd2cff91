import CBLAS

/// Facts about the OpenBLAS build this process runs on.
public enum BLAS {
    /// The CPU core kernel set OpenBLAS chose (e.g. "SkylakeX"; "Prescott" means the slow fallback that
    /// OpenBLAS 0.3.21 picks on this CPU unless OPENBLAS_CORETYPE is set before the process starts).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Threads OpenBLAS itself uses for one product (1: products are split by `sgemm` instead).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    private static let singleThreaded: Void = openblas_set_num_threads(1)

    /// Puts OpenBLAS in single-threaded mode once per process; `sgemm` parallelises products itself.
    @inline(__always) public static func useSingleThread() { _ = singleThreaded }

    /// Lets OpenBLAS thread products itself with `threads` workers and stops `sgemm` from splitting them
    /// (the alternative to the default; `distill bench --blas-threads N` compares the two).
    public static func useOpenBLASThreading(_ threads: Int) {
        useSingleThread()
        openblas_set_num_threads(Int32(threads))
        Parallel.splitProducts = false
    }

    /// The OpenBLAS build configuration string.
    public static var configuration: String { String(cString: openblas_get_config()) }
}
