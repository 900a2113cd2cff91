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

/// A Python virtualenv with the `tensorboard` package, made once per test process (and reused across runs) at
/// .build/telemetry-tests-venv. Built under a temporary name and renamed into place, so a concurrent test run
/// never sees a half-made one.
enum PythonTensorBoard {
    static let folder = packageRoot + "/.build/telemetry-tests-venv"

    /// The venv's python, or why it could not be made.
    static let interpreter = PythonVirtualenv(folder: folder, packages: ["tensorboard"], probe: "import tensorboard.backend.event_processing.event_accumulator",
                                              purpose: "the TensorBoard round-trip tests").make()

    /// The interpreter, or nil after recording a failure that says why (never a silent pass).
    static func require(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        interpreter.require("the TensorBoard round-trip test", sourceLocation: sourceLocation)
    }

    /// Runs a Python script (given as text) with arguments and returns its standard output parsed as JSON.
    static func runJSON(_ python: String, script: String, arguments: [String]) throws -> Any {
        try PythonVirtualenv.runJSON(python, script: script, arguments: arguments)
    }
}
