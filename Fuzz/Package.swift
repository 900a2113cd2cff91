// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for every reader of outside input. A package of its own, depending on TraceDistill by
// path, so the main package's `swift build` and `swift test` never see these targets (each one's entry point is
// libFuzzer's `LLVMFuzzerTestOneInput`, and it only links with `-sanitize=fuzzer`). Build and run them with
// `make fuzz` from the repository root; the flags are passed there (see the Makefile's fuzz target).
let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"]), .swiftLanguageMode(.v5)]

let package = Package(
    name: "TraceDistillFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "TraceDistill", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "fuzz-curriculum",
                          dependencies: ["FuzzSupport", .product(name: "Stages", package: "TraceDistill")],
                          path: "Sources/Curriculum", swiftSettings: harness),
        .executableTarget(name: "fuzz-jsonl",
                          dependencies: ["FuzzSupport", .product(name: "Data", package: "TraceDistill")],
                          path: "Sources/JSONL", swiftSettings: harness),
        .executableTarget(name: "fuzz-arithmetic",
                          dependencies: ["FuzzSupport", .product(name: "Reward", package: "TraceDistill")],
                          path: "Sources/Arithmetic", swiftSettings: harness),
        .executableTarget(name: "fuzz-checkpoint",
                          dependencies: ["FuzzSupport", .product(name: "Checkpoint", package: "TraceDistill")],
                          path: "Sources/Checkpoint", swiftSettings: harness),
        .executableTarget(name: "fuzz-safetensors",
                          dependencies: ["FuzzSupport", .product(name: "ModelIO", package: "TraceDistill")],
                          path: "Sources/Safetensors", swiftSettings: harness),
        .executableTarget(name: "fuzz-gguf",
                          dependencies: ["FuzzSupport", .product(name: "ModelIO", package: "TraceDistill")],
                          path: "Sources/GGUF", swiftSettings: harness),
        .executableTarget(name: "fuzz-tokenizer-json",
                          dependencies: ["FuzzSupport", .product(name: "Tokenizers", package: "TraceDistill")],
                          path: "Sources/TokenizerJSON", swiftSettings: harness),
        .executableTarget(name: "fuzz-bpe-encode",
                          dependencies: ["FuzzSupport", .product(name: "Tokenizers", package: "TraceDistill")],
                          path: "Sources/BPEEncode", swiftSettings: harness),
    ]
)
