import Foundation

/// What can go wrong while recording or reading a run's metrics: each case names the file, line or key
/// and says how to fix it.
public enum TelemetryError: Error, CustomStringConvertible, Equatable {
    /// A file or folder could not be created, written, read, renamed or removed.
    case io(path: String, reason: String)
    /// A complete line of metrics.jsonl (not the last, which may be torn by a crash) does not parse.
    case malformedMetrics(file: String, line: Int, reason: String)
    /// A metric uses one of the row's own keys (`step`, `stage`, `stage_index`, `stage_step`, `time`).
    case reservedMetricName(name: String)
    /// A metric name is empty or holds a control character (it would break the JSONL and CSV lines).
    case invalidMetricName(name: String, reason: String)
    /// `record` was called with a global step below the last recorded one.
    case stepWentBackwards(step: Int, previous: Int)
    /// The run folder to read does not exist or is not a folder.
    case runFolderMissing(path: String)
    /// The run folder holds nothing that can be plotted.
    case nothingToPlot(path: String, reason: String)
    /// The monitor was used after `close()`.
    case closed(runDirectory: String)

    public var description: String {
        switch self {
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .malformedMetrics(file, line, reason):
            return "\(file) line \(line): \(reason); the file is written by RunMonitor one JSON object per line: repair or delete that line"
        case let .reservedMetricName(name):
            return "metric name '\(name)' is reserved for the row's own field (\(MetricRow.reservedKeys.joined(separator: ", "))); rename the metric, e.g. 'train/\(name)'"
        case let .invalidMetricName(name, reason):
            return "metric name \(String(reflecting: name)) \(reason); use printable names such as 'loss' or 'reward/answer'"
        case let .stepWentBackwards(step, previous):
            return "record(step: \(step)) after step \(previous): global steps must not decrease; when resuming, pass the checkpoint's step as resumingAfterStep so later rows are dropped first"
        case let .runFolderMissing(path):
            return "run folder \(path) does not exist or is not a folder; pass the folder a run writes its checkpoints and metrics.jsonl to (e.g. checkpoints/default)"
        case let .nothingToPlot(path, reason):
            return "nothing to plot in \(path): \(reason)"
        case let .closed(runDirectory):
            return "the run monitor for \(runDirectory) was used after close(); make a new RunMonitor (with resumingAfterStep) to continue"
        }
    }
}
