import CBLAS
import Foundation

/// Facts about the OpenBLAS build this process runs on.
public enum BLAS {
    /// The CPU core kernel set OpenBLAS chose (e.g. "SkylakeX"; "Prescott" means the slow fallback that
    /// OpenBLAS 0.3.21 picks on the AVX-512 machines this was built on unless OPENBLAS_CORETYPE is set before
    /// the process starts).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The OPENBLAS_CORETYPE that fits a CPU with these /proc/cpuinfo flags: "SkylakeX" with AVX-512 (F, CD,
    /// BW, DQ, VL: what its kernels use), "Haswell" with AVX2 and FMA, nil otherwise (OpenBLAS's own choice
    /// stands). Naming a core whose instructions the CPU lacks kills every BLAS call with SIGILL, so a fixed
    /// name is wrong on some machine (an AMD EPYC without AVX-512 is one of this project's).
    public static func coreType(cpuFlags: Set<String>) -> String? {
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(cpuFlags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(cpuFlags.contains) { return "Haswell" }
        return nil
    }

    /// `coreType(cpuFlags:)` for the CPU this runs on (its first "flags" line in /proc/cpuinfo).
    public static var coreTypeForThisCPU: String? { coreType(cpuFlags: thisCPUFlags) }

    /// The feature flags /proc/cpuinfo lists for this CPU; empty where there is no such file.
    public static var thisCPUFlags: Set<String> {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

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

    /// OpenBLAS's version as its configuration string names it ("0.3.34.481.3" for the scipy-openblas32 wheel,
    /// "0.3.21" for Debian's); the whole string when it does not start with "OpenBLAS <version>".
    public static var version: String { version(configuration: configuration) }

    /// The version word of an `openblas_get_config()` string ("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." gives
    /// "0.3.21"), or the whole string when it does not start with "OpenBLAS".
    public static func version(configuration: String) -> String {
        let words = configuration.split(separator: " ")
        return words.count >= 2 && words[0] == "OpenBLAS" ? String(words[1]) : configuration
    }

    /// The file the OpenBLAS functions run from (the mapping of this process, in /proc/self/maps, that holds
    /// `openblas_get_config`: the wheel's libscipy_openblas.so or Debian's libopenblasp-r0.3.21.so), "" when it
    /// cannot say.
    public static var libraryPath: String {
        let function: @convention(c) () -> UnsafeMutablePointer<CChar>? = openblas_get_config
        let address = UInt(bitPattern: unsafeBitCast(function, to: UnsafeRawPointer.self))
        // line by line with getline: Foundation's whole-file read stops at the first 4 KB of a /proc file
        guard let maps = fopen("/proc/self/maps", "r") else { return "" }
        defer { fclose(maps) }
        var buffer: UnsafeMutablePointer<CChar>? = nil, capacity = 0
        defer { free(buffer) }
        // "start-end perms offset dev inode path", addresses in hex
        while getline(&buffer, &capacity, maps) > 0, let buffer {
            let line = String(cString: buffer).trimmingCharacters(in: .newlines)
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, let dash = fields[0].firstIndex(of: "-"),
                  let start = UInt(fields[0][..<dash], radix: 16),
                  let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16),
                  start <= address, address < end else { continue }
            return fields[5...].joined(separator: " ")
        }
        return ""
    }
}
