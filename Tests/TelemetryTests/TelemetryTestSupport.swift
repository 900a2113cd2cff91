import Foundation
import Telemetry
import TestSupport
import Testing

// Telemetry test helpers (temporary folders, file text and the captured console are TestSupport's): a settable clock, and a Python
// virtualenv with the `tensorboard` package for reading event files back with TensorBoard's own reader.

/// A clock the test sets by hand.
final class ManualClock: @unchecked Sendable {
    var now: Double
    init(_ start: Double) { now = start }
    var function: () -> Double { { [self] in now } }
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
