// swift-tools-version:6.0
import PackageDescription
import Foundation

// SIMD code generation for the hot kernels, chosen from the CPU that builds (the build machine is the one that
// runs: `make` builds and tests in place): AVX-512 (skylake-avx512, the subset every AVX-512 CPU has) where the
// CPU has it, else AVX2 + FMA (haswell: the x86-64-v3 level, a name swiftc does not take), else Swift's
// baseline. Without them the SIMD kernels run 2-3x slower; with a level the CPU lacks, every process dies of an
// illegal instruction. TRACEDISTILL_TARGET_CPU overrides (a CPU name swiftc knows, or "baseline"), e.g. to
// build on one machine for another.
func hostCPUFlags() -> Set<Substring> {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    return Set(line.split(separator: " "))
}
func targetCPU() -> String? {
    if let chosen = ProcessInfo.processInfo.environment["TRACEDISTILL_TARGET_CPU"], !chosen.isEmpty {
        return chosen == "baseline" ? nil : chosen
    }
    let flags = hostCPUFlags()
    if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "skylake-avx512" }
    if ["avx2", "fma", "bmi2", "movbe"].allSatisfy(flags.contains) { return "haswell" }
    return nil
}
let cpuFlags: [String] = targetCPU().map { ["-Xcc", "-march=\($0)", "-target-cpu", $0] } ?? []
// SwiftPM refuses `unsafeFlags` in a dependency pinned to a version (a user's `.package(url:exact:)`), so the CPU level
// is set only where this package is not such a checkout: built itself, or by path (Examples/, Fuzz/). A dependent
// package gets Swift's baseline code unless it passes the level for every package itself:
// `swift build -c release -Xswiftc -target-cpu -Xswiftc skylake-avx512 -Xcc -march=skylake-avx512` (README, "Build facts").
// (`-wmo` is SwiftPM's default for release builds anyway; it stays here so that the root build's flags do not change.)
let isVersionedCheckout = Context.packageDirectory.split(separator: "/").contains("checkouts")
let fastMath: [SwiftSetting] = (isVersionedCheckout ? [] : [.unsafeFlags(["-wmo"] + cpuFlags, .when(configuration: .release))])
    + [.swiftLanguageMode(.v5)]
let plain: [SwiftSetting] = [.swiftLanguageMode(.v5)]
// OpenBLAS: Debian's 0.3.21 (libopenblas-dev, through pkg-config) unless TRACEDISTILL_BLAS=wheel (`make BLAS=wheel`)
// and `make setup` has unpacked PyPI's scipy-openblas32 wheel (0.3.34) into .cache/scipy-openblas32: then that one
// (Sources/CBLAS/scipy-openblas maps its `scipy_`-prefixed names to the plain ones; the binaries find it through an
// rpath, no LD_LIBRARY_PATH). A versioned checkout cannot pass the linker flags (unsafeFlags) and always takes
// Debian's. README ("OpenBLAS: Debian's 0.3.21 or the scipy-openblas32 wheel's 0.3.34") has why Debian's is the default.
let blasChoice = ProcessInfo.processInfo.environment["TRACEDISTILL_BLAS"].flatMap { $0.isEmpty ? nil : $0 } ?? "debian"
precondition(["wheel", "debian"].contains(blasChoice), "TRACEDISTILL_BLAS=\(blasChoice): use debian (the default) or wheel")
let wheelBLASLib = Context.packageDirectory + "/.cache/scipy-openblas32/scipy_openblas32/lib"
let useWheelBLAS = blasChoice == "wheel" && !isVersionedCheckout
    && FileManager.default.fileExists(atPath: Context.packageDirectory + "/.cache/scipy-openblas32/unprefixed.h")
    && FileManager.default.fileExists(atPath: wheelBLASLib + "/libscipy_openblas.so")
let cblas: Target = useWheelBLAS
    ? .systemLibrary(name: "CBLAS", path: "Sources/CBLAS/scipy-openblas")
    : .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])])
let blasLinking: [LinkerSetting] = useWheelBLAS
    ? [.unsafeFlags(["-L" + wheelBLASLib, "-Xlinker", "-rpath", "-Xlinker", wheelBLASLib])] : []
// The C kernels take the same level as -march (their AVX-512 / AVX2 / plain C path is chosen at compile time from it).
let cKernelFlags: [CSetting] = isVersionedCheckout ? []
    : [.unsafeFlags(targetCPU().map { ["-march=\($0)"] } ?? [], .when(configuration: .release))]

let package = Package(
    name: "TraceDistill",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "distill", targets: ["DistillCLI"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "ModelIO", targets: ["ModelIO"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "Data", targets: ["Data"]),
        .library(name: "Reward", targets: ["Reward"]),
        .library(name: "PPO", targets: ["PPO"]),
        .library(name: "Eval", targets: ["Eval"]),
        .library(name: "Telemetry", targets: ["Telemetry"]),
        .library(name: "Stages", targets: ["Stages"]),
        .library(name: "StrictConfig", targets: ["StrictConfig"]),
        .library(name: "Distributed", targets: ["Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/attaswift/BigInt", exact: "6.0.1"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
        cblas,
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        // OpenSSL's libcrypto, for SHA-256 (Checkpoint): already on the system, where swift-crypto compiled a copy
        // of BoringSSL into every build.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        // CPrefetch: a header of static inline functions (software prefetch and a vector square root, which Swift cannot
        // express); nothing to link.
        .systemLibrary(name: "CPrefetch", path: "Sources/CPrefetch"),
        // CInt8Kernels: the int8 matrix product behind Tensor's int8Linear (widening multiply-add intrinsics).
        .target(name: "CInt8Kernels", path: "Sources/CInt8Kernels", cSettings: cKernelFlags),
        // CFewRowKernels: the AVX2 few-row float product behind Tensor's fewRowProducts (8 x 8 register transposes).
        .target(name: "CFewRowKernels", path: "Sources/CFewRowKernels", cSettings: cKernelFlags),
        .target(name: "Tensor", dependencies: ["CBLAS", "CPrefetch", "CInt8Kernels", "CFewRowKernels"], swiftSettings: fastMath, linkerSettings: blasLinking),
        .target(name: "Model", dependencies: ["Tensor", "Tokenizers", "StrictConfig"], swiftSettings: fastMath),
        // Tokenizers: byte-level BPE (tokenizer.json, GGUF metadata) with character spans; no tensors.
        .target(name: "Tokenizers", dependencies: ["FileErrors"], swiftSettings: fastMath),
        // ModelIO: Hugging Face folders (config.json, safetensors) and GGUF files, read through mapped memory.
        .target(name: "ModelIO", dependencies: ["Model", "Tensor", "Tokenizers", "FileErrors"], swiftSettings: fastMath),
        // FileErrors: why a write failed (path, cause in words, fix), for every target that writes files. Foundation only.
        .target(name: "FileErrors", swiftSettings: plain),
        // StrictConfig: the one strict layer every settings family decodes through (unknown keys, wrong types, nulls,
        // ranges), over any Decoder: Yams' for curricula, Foundation's for JSON. No dependencies, so Model, Data and
        // Reward use it without taking Yams. It also holds JSONText, the one JSON text helper (Data's trace rows,
        // Telemetry's metrics.jsonl, the CLI's --json), as the lowest target those three share.
        .target(name: "StrictConfig", swiftSettings: plain),
        .target(name: "Checkpoint",
                dependencies: ["Model", "Tensor", "Tokenizers", "CHDF5", "FileErrors", "COpenSSL"],
                swiftSettings: fastMath),
        // Data -> Reward: cleaning keeps only traces whose steps the Reward verifier accepts, and the
        // MATH adapter uses Reward's answer normaliser. Neither knows about models.
        .target(name: "Data", dependencies: ["Reward", "FileErrors", "StrictConfig"], swiftSettings: plain),
        .target(name: "Reward", dependencies: ["StrictConfig", .product(name: "BigInt", package: "BigInt")], swiftSettings: plain),
        .target(name: "PPO", dependencies: ["Model", "Reward", "Tensor", "StrictConfig"], swiftSettings: fastMath),
        .target(name: "Eval", dependencies: ["Model", "Data", "Reward", "Tensor", "FileErrors"], swiftSettings: plain),
        // Telemetry: progress, logs, metrics files, TensorBoard events and SVG charts. Foundation, swift-log,
        // FileErrors and StrictConfig (for the one JSONText) only (no Tensor/Model), so the runner and the CLI both use
        // it without pulling in training code.
        .target(name: "Telemetry", dependencies: ["FileErrors", "StrictConfig", .product(name: "Logging", package: "swift-log")],
                swiftSettings: plain),
        .target(name: "Stages",
                dependencies: ["Tensor", "Model", "ModelIO", "Tokenizers", "Checkpoint", "Data", "Reward", "PPO", "Eval", "Telemetry",
                               "FileErrors", "StrictConfig", "Distributed",
                               .product(name: "Yams", package: "Yams"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: plain),
        .executableTarget(
            name: "DistillCLI",
            dependencies: [
                "Tensor", "Model", "ModelIO", "Tokenizers", "Checkpoint", "Stages", "Eval", "Data", "Reward", "PPO", "Telemetry", "FileErrors",
                "Distributed", "StrictConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fastMath),
        .target(name: "TestSupport", dependencies: ["Tensor", "Telemetry"], path: "Tests/TestSupport",
                swiftSettings: plain),
        // CFewRowKernels: the tests walk the 16-lane kernels' tiles both ways and share out blocks from both ends directly.
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport", "CFewRowKernels"],
                    resources: [.copy("Fixtures")], swiftSettings: plain),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")],
                    swiftSettings: plain),
        // CHDF5: the tests write deliberately wrong files with the C API (release test builds cannot
        // use `@testable import Checkpoint` to reach the internal wrapper).
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "Model", "Tensor", "TestSupport", "CHDF5"],
                    swiftSettings: plain),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: plain),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "Model", "Tensor", "Tokenizers", "Checkpoint", "CHDF5", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: plain),
        .testTarget(name: "DataTests", dependencies: ["Data", "Reward", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: plain),
        .testTarget(name: "RewardTests", dependencies: ["Reward"], swiftSettings: plain),
        .testTarget(name: "StrictConfigTests", dependencies: ["StrictConfig", .product(name: "Yams", package: "Yams")],
                    swiftSettings: plain),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Checkpoint", "Model", "ModelIO", "Tensor", "Data", "PPO", "FileErrors", "Eval",
                                                       "Reward", "StrictConfig", "Distributed", "TestSupport"],
                    swiftSettings: plain),
        .testTarget(name: "PPOTests", dependencies: ["PPO", "Model", "Tensor", "Reward", "Data", "TestSupport"],
                    swiftSettings: plain),
        // Checkpoint: the tests write tiny checkpoints and run folders for the `distill eval` / `report` commands.
        .testTarget(name: "EvalTests", dependencies: ["Eval", "Stages", "Data", "Reward", "Model", "Tensor", "Checkpoint", "TestSupport"],
                    swiftSettings: plain),
        .testTarget(name: "TelemetryTests",
                    dependencies: ["Telemetry", "TestSupport", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: plain),
        // The command tests: they run the built `distill` (run, resume, status, plot, init, eval, generate-data, the stages'
        // kill-and-resume runs) and check its exit codes, messages and files; the libraries they import write the
        // checkpoints and data they read.
        .testTarget(name: "DistillCLITests",
                    dependencies: ["Stages", "Checkpoint", "Data", "Eval", "FileErrors", "Model", "ModelIO", "Tensor", "Tokenizers", "Telemetry",
                                   "TestSupport", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: plain),
        // CMPI: Open MPI (Debian's libopenmpi-dev); only Distributed imports it.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        // Distributed: ranks, collectives and the order-fixed gradient reduction over MPI; a process not started by
        // mpirun never initialises MPI.
        .target(name: "Distributed", dependencies: ["CMPI", "Tensor"], swiftSettings: plain),
        // mpi-check: the checks `make test-mpi` runs under mpirun (exact sums, gather order, a killed rank).
        .executableTarget(name: "MPICheck", dependencies: ["Distributed", "Tensor"], path: "Tests/MPICheck",
                          swiftSettings: plain),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Tensor"], swiftSettings: plain),
    ]
)
