import Foundation
import Tensor
import TestSupport
import Testing

/// `distill` started without OPENBLAS_CORETYPE: it re-executes itself with the core type StagesTests'
/// BLASCoreTypeTests checks the rule of.
@Suite("OpenBLAS core type through distill")
struct BLASReexecTests {
    @Test("distill started without OPENBLAS_CORETYPE re-executes itself on this CPU's core type")
    func cliReexecutes() throws {
        guard let distill = requireDistill() else { return }
        var env = childEnvironment()
        env["OPENBLAS_CORETYPE"] = nil
        let result = try runProcess(distill, ["bench", "--phases", "kernels", "--reps", "1", "--json"],
                                    environment: env, timeout: 300)
        #expect(result.succeeded, "\(result)")
        let last = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let report = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        let expected = BLAS.coreTypeForThisCPU ?? ""
        #expect(report?["openblas_coretype_env"] as? String == expected, "\(last)")
        if !expected.isEmpty { #expect(report?["blas_core"] as? String == expected, "\(last)") }
    }
}
