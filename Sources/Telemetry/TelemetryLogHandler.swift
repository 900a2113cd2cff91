import Foundation
import Logging

/// A swift-log handler that writes one line per message to standard error (through the console shared with
/// the progress bar): `2026-11-22T19:25:01.123Z info [tracedistill.run] message key=value`.
public struct TelemetryLogHandler: LogHandler {
    /// The logger's label (printed in brackets).
    public let label: String
    /// Messages below this level are dropped (by `Logger`, before they reach the handler).
    public var logLevel: Logger.Level
    /// Metadata attached to every message of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Adds contextual metadata (task-local values) to each message.
    public var metadataProvider: Logger.MetadataProvider?
    private let console: TerminalConsole
    private let timestamps: Bool

    /// A handler.
    /// - Parameters:
    ///   - label: the logger's label.
    ///   - level: the lowest level written.
    ///   - console: where lines go (standard error by default).
    ///   - timestamps: whether lines start with an ISO 8601 UTC time (tests turn it off).
    public init(label: String, level: Logger.Level = .info, console: TerminalConsole = .standardError,
                metadataProvider: Logger.MetadataProvider? = nil, timestamps: Bool = true) {
        self.label = label
        logLevel = level
        self.console = console
        self.metadataProvider = metadataProvider
        self.timestamps = timestamps
    }

    /// The metadata value for `metadataKey`.
    public subscript(metadataKey metadataKey: String) -> Logger.Metadata.Value? {
        get { metadata[metadataKey] }
        set { metadata[metadataKey] = newValue }
    }

    /// Writes the event as one line.
    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = timestamps ? Self.timestamp() + " " : ""
        line += "\(event.level) [\(label)] \(event.message)"
        for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        console.printLine(line)
    }

    /// Now as `2026-11-22T19:25:01.123Z`.
    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var seconds = tv.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(tv.tv_usec / 1000))
    }
}
