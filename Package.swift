// swift-tools-version:6.0
import PackageDescription

// AVX-512 code generation (skylake-avx512: the AVX-512 subset every such CPU has) for the hot kernels: this project runs on x86-64 machines with AVX-512
// (../shared/DESIGN.md). Without it Swift targets baseline SSE2 and the SIMD kernels run 2-3x slower.
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-wmo", "-Xcc", "-march=skylake-avx512", "-target-cpu", "skylake-avx512"],
                 .when(configuration: .release)),
    .swiftLanguageMode(.v5),
]
let plain: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "TraceDistill",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "distill", targets: ["DistillCLI"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Model", targets: ["Model"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/attaswift/BigInt", exact: "6.0.1"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        .target(name: "Tensor", dependencies: ["CBLAS"], swiftSettings: fastMath),
        .target(name: "Model", dependencies: ["Tensor"], swiftSettings: fastMath),
        .target(name: "Checkpoint",
                dependencies: ["Model", "Tensor", "CHDF5", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fastMath),
        // Data -> Reward: cleaning keeps only traces whose steps the Reward verifier accepts, and the
        // MATH adapter uses Reward's answer normaliser. Neither knows about models.
        .target(name: "Data", dependencies: ["Reward"], swiftSettings: plain),
        .target(name: "Reward", dependencies: [.product(name: "BigInt", package: "BigInt")], swiftSettings: plain),
        .target(name: "PPO", dependencies: ["Model", "Reward", "Tensor"], swiftSettings: fastMath),
        .target(name: "Eval", dependencies: ["Model", "Data", "Reward", "Tensor"], swiftSettings: plain),
        .target(name: "Stages",
                dependencies: ["Tensor", "Model", "Checkpoint", "Data", "Reward", "PPO", "Eval",
                               .product(name: "Yams", package: "Yams"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: plain),
        .executableTarget(
            name: "DistillCLI",
            dependencies: [
                "Tensor", "Model", "Checkpoint", "Stages", "Eval", "Data", "Reward", "PPO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fastMath),
        .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport",
                swiftSettings: plain),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: plain),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Tensor", "TestSupport"],
                    resources: [.copy("Fixtures")],
                    swiftSettings: plain),
        // CHDF5: the tests write deliberately wrong files with the C API (release test builds cannot
        // use `@testable import Checkpoint` to reach the internal wrapper).
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "Model", "Tensor", "TestSupport", "CHDF5"],
                    swiftSettings: plain),
        .testTarget(name: "DataTests", dependencies: ["Data", "Reward", "TestSupport"], swiftSettings: plain),
        .testTarget(name: "RewardTests", dependencies: ["Reward"], swiftSettings: plain),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Checkpoint", "Model", "Tensor", "Data", "PPO", "TestSupport"],
                    swiftSettings: plain),
        .testTarget(name: "PPOTests", dependencies: ["PPO", "Model", "Tensor", "Reward", "Data", "TestSupport"],
                    swiftSettings: plain),
        // Checkpoint: the tests write tiny checkpoints and run folders for the `distill eval` / `report` commands.
        .testTarget(name: "EvalTests", dependencies: ["Eval", "Data", "Reward", "Model", "Tensor", "Checkpoint", "TestSupport"],
                    swiftSettings: plain),
    ]
)
