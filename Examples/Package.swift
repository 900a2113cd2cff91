// swift-tools-version:6.0
import PackageDescription

// A user's package: a training script that uses TraceDistill's public API only (a custom stage, a custom reward,
// the curriculum runner on models the script holds, then evaluation). It depends on this checkout by path, so
// `make test` builds and runs it against the code it tests; a user's own package names a tagged release instead:
// `.package(url: "https://.../TraceDistill", exact: "X.Y.Z")`.
let package = Package(
    name: "TraceDistillExamples",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "TraceDistill", path: "..")],
    targets: [
        .executableTarget(name: "distill-script",
                          dependencies: [.product(name: "Stages", package: "TraceDistill"),
                                         .product(name: "Model", package: "TraceDistill"),
                                         .product(name: "Reward", package: "TraceDistill"),
                                         .product(name: "Eval", package: "TraceDistill"),
                                         .product(name: "Tensor", package: "TraceDistill")],
                          path: "Sources/DistillScript", swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
