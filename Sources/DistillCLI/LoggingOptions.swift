import ArgumentParser
import Logging
import Telemetry

/// `--log-level`, shared by the commands that log (through `@OptionGroup`): bootstraps swift-log with the
/// standard-error handler of the Telemetry target and hands out loggers.
struct LoggingOptions: ParsableArguments {
    /// swift-log's levels by their command-line names.
    enum Level: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        /// The swift-log level of the same name.
        var level: Logger.Level {
            switch self {
            case .trace: return .trace
            case .debug: return .debug
            case .info: return .info
            case .notice: return .notice
            case .warning: return .warning
            case .error: return .error
            case .critical: return .critical
            }
        }
    }

    @Option(help: ArgumentHelp("Lowest level of log lines written to standard error.", valueName: "level"))
    var logLevel: Level = .info

    /// Bootstraps logging at the chosen level (once per process) and returns a logger named `label`.
    func logger(_ label: String) -> Logger {
        TelemetryLogging.bootstrap(level: logLevel.level)
        return TelemetryLogging.logger(label)
    }
}
