import CBLAS

/// Facts about the OpenBLAS build this process runs on.
public enum BLAS {
    /// The CPU core kernel set OpenBLAS chose (e.g. "SkylakeX"; "Prescott" means the slow fallback that
    /// OpenBLAS 0.3.21 picks on this CPU unless OPENBLAS_CORETYPE is set before the process starts).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Threads OpenBLAS uses for one product.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets the OpenBLAS thread count.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The OpenBLAS build configuration string.
    public static var configuration: String { String(cString: openblas_get_config()) }
}
