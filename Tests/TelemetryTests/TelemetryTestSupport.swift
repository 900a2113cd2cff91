import Foundation
import Telemetry
import TestSupport
import Testing

// Telemetry test helpers: temporary run folders, captured console output, a settable clock, and a Python
// virtualenv with the `tensorboard` package for reading event files back with TensorBoard's own reader.

/// Runs `body` with a new empty folder under the system temp dir and removes the folder afterwards.
func withTemporaryFolder<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("telemetry-tests-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Text written to a console, collected for inspection.
final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var collected = ""

    /// Everything written so far.
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    /// The complete lines written so far.
    var lines: [String] { text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }

    func append(_ s: String) {
        lock.lock()
        collected += s
        lock.unlock()
    }

    /// A console (not a terminal unless asked) that writes here.
    func console(isTerminal: Bool = false, width: Int = 100) -> TerminalConsole {
        TerminalConsole(isTerminal: isTerminal, width: width) { [self] in append($0) }
    }
}

/// A clock the test sets by hand.
final class ManualClock: @unchecked Sendable {
    var now: Double
    init(_ start: Double) { now = start }
    var function: () -> Double { { [self] in now } }
}

/// The text of a file.
func readText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

/// Names in a folder, sorted.
func folderListing(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Counts the non-overlapping occurrences of `needle` in `text`.
func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

/// A missing tool or environment the test needs.
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A Python virtualenv with the `tensorboard` package, made once per test process (and reused across runs) at
/// .build/telemetry-tests-venv. Built under a temporary name and renamed into place, so a concurrent test run
/// never sees a half-made one.
enum PythonTensorBoard {
    static let folder = packageRoot + "/.build/telemetry-tests-venv"

    /// The venv's python, or why it could not be made.
    static let interpreter: Result<String, SetupFailure> = make()

    private static func works(_ python: String) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: python),
              let r = try? runProcess(python, ["-c", "import tensorboard.backend.event_processing.event_accumulator"], timeout: 120)
        else { return false }
        return r.succeeded
    }

    private static func make() -> Result<String, SetupFailure> {
        let python = folder + "/bin/python"
        if works(python) { return .success(python) }
        guard let python3 = toolPath("python3") else {
            return .failure(SetupFailure("python3 is not installed; the TensorBoard round-trip test needs it (python3 -m venv)"))
        }
        let staging = folder + ".tmp-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do {
            let venv = try runProcess(python3, ["-m", "venv", staging], timeout: 300)
            guard venv.succeeded else { return .failure(SetupFailure("`python3 -m venv \(staging)` failed: \(venv)")) }
            let pip = try runProcess(staging + "/bin/python", ["-m", "pip", "install", "-q", "tensorboard"], timeout: 600)
            guard pip.succeeded else {
                return .failure(SetupFailure("`pip install tensorboard` into \(staging) failed (no network to PyPI?): \(pip)"))
            }
        } catch {
            return .failure(SetupFailure("could not run python3 to make a virtualenv: \(error)"))
        }
        // Another test process may have finished first: then use its venv (never delete a working one).
        if rename(staging, folder) != 0 && !works(python) {
            try? FileManager.default.removeItem(atPath: folder)
            _ = rename(staging, folder)
        }
        return works(python) ? .success(python)
            : .failure(SetupFailure("made a virtualenv at \(folder) but `import tensorboard` fails in it"))
    }

    /// The interpreter, or nil after recording a failure that says why (never a silent pass).
    static func require(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        switch interpreter {
        case .success(let p): return p
        case .failure(let e):
            Issue.record("cannot run the TensorBoard round-trip test: \(e)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Runs a Python script (given as text) with arguments and returns its standard output parsed as JSON.
    static func runJSON(_ python: String, script: String, arguments: [String]) throws -> Any {
        let scriptPath = NSTemporaryDirectory() + "telemetry-tests-\(UUID().uuidString).py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }
        let r = try runProcess(python, [scriptPath] + arguments, timeout: 180)
        guard r.succeeded else { throw SetupFailure("python script failed: \(r)") }
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }
}
