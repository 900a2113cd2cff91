import Foundation
import Telemetry

/// Text written to a console, collected for inspection.
public final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var collected = ""

    public init() {}

    /// Everything written so far.
    public var text: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    /// The complete lines written so far.
    public var lines: [String] { text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }

    public func append(_ s: String) {
        lock.lock()
        collected += s
        lock.unlock()
    }

    /// A console (not a terminal unless asked) that writes here.
    public func console(isTerminal: Bool = false, width: Int = 100) -> TerminalConsole {
        TerminalConsole(isTerminal: isTerminal, width: width) { [self] in append($0) }
    }
}
