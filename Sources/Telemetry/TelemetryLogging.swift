import Foundation
import Logging

/// The process-wide logging set-up: swift-log bootstrapped once with `TelemetryLogHandler` at a chosen level,
/// and loggers for the runner, the stages and the commands.
public enum TelemetryLogging {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var bootstrapped = false
    nonisolated(unsafe) private static var currentLevel: Logger.Level = .info

    /// The level new loggers get.
    public static var level: Logger.Level {
        lock.lock()
        defer { lock.unlock() }
        return currentLevel
    }

    /// Installs the standard-error handler for every `Logger` made from now on, at `level`.
    ///
    /// swift-log allows one bootstrap per process (a second one traps), so later calls only change the level
    /// that new loggers get; loggers already made keep theirs.
    /// - Parameter level: the lowest level written (the `--log-level` option).
    public static func bootstrap(level: Logger.Level) {
        lock.lock()
        defer { lock.unlock() }
        currentLevel = level
        guard !bootstrapped else { return }
        bootstrapped = true
        LoggingSystem.bootstrap { label in TelemetryLogHandler(label: label, level: TelemetryLogging.level) }
    }

    /// A logger named `label` (e.g. `tracedistill.run`), writing through the bootstrapped handler; before any
    /// bootstrap, a standard-error handler at the current level (so a library user still sees its messages).
    /// - Parameter label: the logger's label.
    public static func logger(_ label: String) -> Logger {
        lock.lock()
        let ready = bootstrapped
        let level = currentLevel
        lock.unlock()
        if ready { return Logger(label: label) }
        return Logger(label: label) { TelemetryLogHandler(label: $0, level: level) }
    }
}
