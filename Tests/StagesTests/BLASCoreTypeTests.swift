import Foundation
import Testing
import Tensor
import TestSupport

/// The OpenBLAS core type: the rule that picks it from the CPU's flags, and the two places that apply it
/// before a process starts (the Makefile for tests here; `distill` re-executing itself is DistillCLITests'
/// BLASReexecTests).
@Suite("OpenBLAS core type")
struct BLASCoreTypeTests {
    /// The flags of the AMD EPYC (Zen 3) machines this project also runs on, as /proc/cpuinfo lists them.
    static let epycZen3 = Set("""
        fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall \
        nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid extd_apicid \
        tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes \
        xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw \
        topoext vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni \
        xsaveopt xsavec xgetbv1 xsaves clzero xsaveerptr arat umip vaes vpclmulqdq rdpid fsrm
        """.split(separator: " ").map(String.init))

    @Test("AVX-512 (F, CD, BW, DQ, VL) gives SkylakeX, AVX2 + FMA Haswell, less nothing")
    func rule() {
        let skylake = Self.epycZen3.union(["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])
        #expect(BLAS.coreType(cpuFlags: skylake) == "SkylakeX")
        // the EPYC has no AVX-512: SkylakeX kernels would die of SIGILL there
        #expect(BLAS.coreType(cpuFlags: Self.epycZen3) == "Haswell")
        // Knights Landing's AVX-512 lacks BW, DQ and VL, which the SkylakeX kernels use
        let knightsLanding = Self.epycZen3.union(["avx512f", "avx512cd", "avx512er", "avx512pf"])
        #expect(BLAS.coreType(cpuFlags: knightsLanding) == "Haswell")
        #expect(BLAS.coreType(cpuFlags: Self.epycZen3.subtracting(["fma"])) == nil)
        #expect(BLAS.coreType(cpuFlags: ["fpu", "sse", "sse2", "sse3"]) == nil)
        #expect(BLAS.coreType(cpuFlags: []) == nil)
    }

    @Test("this machine's flags are read from /proc/cpuinfo")
    func thisCPU() {
        let flags = BLAS.thisCPUFlags
        #expect(flags.contains("sse2"), "x86-64 always has SSE2; read: \(flags.sorted().prefix(10))")
        #expect(!flags.contains { $0.contains(":") || $0.contains("\t") || $0.isEmpty })
    }

    @Test("the Makefile exports the core type the Swift rule gives for this CPU, and a user's own value wins")
    func makefileAgrees() throws {
        guard let make = toolPath("make") else { Issue.record("make is not on PATH"); return }
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_CORETYPE"] = nil
        env["MAKEFLAGS"] = nil
        env["MAKELEVEL"] = nil
        let chosen = try runProcess(make, ["-s", "print-coretype"], environment: env, currentDirectory: packageRoot)
        #expect(chosen.succeeded, "\(chosen)")
        #expect(chosen.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == BLAS.coreTypeForThisCPU ?? "")
        env["OPENBLAS_CORETYPE"] = "Zen"
        let own = try runProcess(make, ["-s", "print-coretype"], environment: env, currentDirectory: packageRoot)
        #expect(own.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "Zen", "\(own)")
    }
}
