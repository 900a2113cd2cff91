import Foundation
import Tensor
import TestSupport
import Testing

/// `distill` started without OPENBLAS_CORETYPE or OPENBLAS_NUM_THREADS: it re-executes itself with the core type
/// StagesTests' BLASCoreTypeTests checks the rule of and with OPENBLAS_NUM_THREADS=1 (no OpenBLAS worker spinning
/// on the other core at the start); a user's own values win.
@Suite("OpenBLAS environment through distill")
struct BLASReexecTests {
    /// `distill bench --phases kernels --json` in `env`: its report.
    private func report(_ distill: String, _ env: [String: String], _ extra: [String] = []) throws -> [String: Any] {
        let result = try runProcess(distill, ["bench", "--phases", "kernels", "--reps", "1", "--json"] + extra,
                                    environment: env, timeout: 300)
        #expect(result.succeeded, "\(result)")
        let last = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] ?? [:]
    }

    @Test("distill started without OPENBLAS_CORETYPE re-executes itself on this CPU's core type and one OpenBLAS thread")
    func cliReexecutes() throws {
        guard let distill = requireDistill() else { return }
        var env = childEnvironment()
        env["OPENBLAS_CORETYPE"] = nil
        env["OPENBLAS_NUM_THREADS"] = nil
        env["GOTO_NUM_THREADS"] = nil
        let figures = try report(distill, env)
        let expected = BLAS.coreTypeForThisCPU ?? ""
        #expect(figures["openblas_coretype_env"] as? String == expected, "\(figures)")
        if !expected.isEmpty { #expect(figures["blas_core"] as? String == expected, "\(figures)") }
        #expect(figures["openblas_num_threads_env"] as? String == "1", "\(figures)")
        #expect(figures["openblas_internal_threads"] as? Int == 1, "\(figures)")
    }

    @Test("a user's OPENBLAS_NUM_THREADS or GOTO_NUM_THREADS is kept, and --blas-threads still gets its threads")
    func userThreadsWin() throws {
        guard let distill = requireDistill() else { return }
        var env = childEnvironment()
        env["OPENBLAS_NUM_THREADS"] = "2"
        #expect(try report(distill, env)["openblas_num_threads_env"] as? String == "2")
        env["OPENBLAS_NUM_THREADS"] = nil
        env["GOTO_NUM_THREADS"] = "2"
        #expect(try report(distill, env)["openblas_num_threads_env"] as? String == "")
        // started with OPENBLAS_NUM_THREADS=1 (as the re-execution leaves it), OpenBLAS starts a worker when asked
        env["GOTO_NUM_THREADS"] = nil
        let threaded = try report(distill, env, ["--blas-threads", "2"])
        #expect(threaded["openblas_num_threads_env"] as? String == "1", "\(threaded)")
        #expect(threaded["openblas_internal_threads"] as? Int == 2, "\(threaded)")
        #expect(threaded["blas_threads"] as? Int == 2, "\(threaded)")
    }
}
