import FileErrors
import Foundation
import Logging

/// What a training run calls to be watched: progress on standard error, metrics.jsonl and metrics.csv and a
/// TensorBoard event file in the run folder, and log lines for stage starts and ends.
///
///     let monitor = try RunMonitor(runDirectory: dir, resumingAfterStep: checkpointStep, progress: .automatic, logger: logger)
///     monitor.stageStarted(index: 0, kind: "output-distill", totalSteps: 500)
///     try monitor.record(step: globalStep, stageIndex: 0, stageKind: "output-distill", stageStep: 1, values: ["loss": 2.3])
///     monitor.stageFinished(index: 0, kind: "output-distill", outcome: "completed")
///     try monitor.close()
///
/// Resume: pass the global step of the checkpoint the run restarts from as `resumingAfterStep` (nil for a
/// fresh run). Rows with a larger step, written before the crash, are dropped from metrics.jsonl (and the
/// CSV and TensorBoard files are regenerated from what is kept), because the run will compute them again;
/// so after any number of crashes and resumes each step is recorded once. Record a step before saving the
/// checkpoint of that step. A fresh run (nil) starts the files empty.
///
/// Crash safety: each row is appended with a single `write(2)` to each file, in the order jsonl, csv, events;
/// a SIGKILL can tear at most the last line or record. The jsonl reader drops a torn last line; the CSV and
/// event file are rebuilt from the jsonl when the monitor next opens. Replacements go through a temporary file
/// and a rename.
public final class RunMonitor: @unchecked Sendable {
    /// The run folder holding metrics.jsonl, metrics.csv and the event file.
    public let runDirectory: String
    /// The logger stage events go to (the runner may use it too).
    public let logger: Logger
    /// The TensorBoard event file, when enabled.
    public var eventFilePath: String? { events?.path }
    /// The path of metrics.jsonl.
    public var metricsPath: String { runDirectory + "/" + MetricsLog.fileName }
    /// The path of metrics.csv.
    public var csvPath: String { runDirectory + "/" + MetricsCSV.fileName }

    private let lock = NSLock()
    private let progress: ProgressReporter
    private let clock: () -> Double
    private var jsonl: AppendOnlyFile?
    private var csv: AppendOnlyFile?
    private var events: TensorBoardEventFile?
    private var columns: [String]
    private var lastStep: Int?
    private var isClosed = false

    /// Opens (creating) the run folder's metrics files, dropping rows a resumed run will compute again.
    /// - Parameters:
    ///   - runDirectory: the run folder (created when missing).
    ///   - resumingAfterStep: the global step of the checkpoint being resumed; rows after it are dropped. nil
    ///     for a fresh run: earlier rows in the folder are discarded (with a notice in the log).
    ///   - progress: how progress is shown (`.automatic`: a bar on a terminal, lines otherwise).
    ///   - tensorBoard: whether to write the TensorBoard event file.
    ///   - logger: where stage starts, ends and resume notices go.
    ///   - console: the progress output (standard error by default).
    ///   - clock: wall-clock seconds since the epoch (for row times, rates and ETAs).
    /// - Throws: `TelemetryError.io` when the folder or files cannot be made, `.malformedMetrics` when an
    ///   existing metrics.jsonl is damaged before its last line.
    public init(runDirectory: String, resumingAfterStep: Int?, progress: ProgressOptions = .automatic,
                tensorBoard: Bool = true, logger: Logger = TelemetryLogging.logger("tracedistill.run"),
                console: TerminalConsole = .standardError, clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.runDirectory = runDirectory
        self.logger = logger
        self.clock = clock
        self.progress = ProgressReporter(options: progress, console: console, clock: clock)
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        } catch {
            throw TelemetryError.io(path: runDirectory, reason: "cannot create the run folder: "
                                    + WriteFailure.diagnose(path: runDirectory, target: .folder, error: error, createsFolders: true).reason)
        }
        let jsonlPath = runDirectory + "/" + MetricsLog.fileName
        let existing = try MetricsLog.read(path: jsonlPath)
        let kept = existing.rows.filter { row in resumingAfterStep.map { row.step <= $0 } ?? false }
        let dropped = existing.rows.count - kept.count
        if let torn = existing.tornLine {
            logger.notice("dropping the torn last line of \(jsonlPath) (a crash cut it short): \(torn.prefix(120))")
        }
        if dropped > 0 {
            let why = resumingAfterStep.map { "after step \($0), which the resumed run computes again" } ?? "of a previous run (this run starts fresh)"
            logger.notice("dropping \(dropped) metric rows \(why) from \(jsonlPath)")
        }
        if dropped > 0 || existing.tornLine != nil {
            let text = kept.map { $0.jsonLine() + "\n" }.joined()
            try FileOperations.replace(jsonlPath, with: Array(text.utf8), temporaryName: ".metrics.jsonl.tmp")
        }
        columns = MetricsCSV.metricColumns(of: kept)
        lastStep = kept.last?.step
        // The CSV and event file are views of the jsonl: rebuilt from the kept rows on every open.
        try FileOperations.replace(csvPath, with: Array(MetricsCSV.render(rows: kept).utf8), temporaryName: ".metrics.csv.tmp")
        jsonl = try AppendOnlyFile(path: jsonlPath)
        csv = try AppendOnlyFile(path: runDirectory + "/" + MetricsCSV.fileName)
        if tensorBoard {
            let (file, deleted) = try TensorBoardEventFile.replacing(directory: runDirectory, rows: kept, time: clock())
            events = file
            logger.debug("TensorBoard event file \(file.path) holds \(kept.count) rows; replaced \(deleted.count) older event files")
        }
        if let resumingAfterStep {
            logger.info("metrics in \(runDirectory): resuming after step \(resumingAfterStep) with \(kept.count) rows kept")
        }
    }

    /// A stage begins or resumes.
    /// - Parameters:
    ///   - index: the stage's position in the curriculum (0-based).
    ///   - kind: the stage kind, e.g. `output-distill`.
    ///   - totalSteps: the stage's step budget (for the bar and ETA; nil when unknown).
    public func stageStarted(index: Int, kind: String, totalSteps: Int?) {
        lock.lock()
        defer { lock.unlock() }
        progress.stageStarted(index: index, kind: kind, totalSteps: totalSteps)
        logger.info("stage \(index) \(kind) started\(totalSteps.map { " (\($0) steps)" } ?? "")")
    }

    /// Records one row: appends it to metrics.jsonl, metrics.csv and the event file, and updates the progress.
    ///
    /// May be called more than once with the same global step (e.g. training metrics, then evaluation metrics
    /// such as `validation/loss` at that step); each call is one row.
    /// - Parameters:
    ///   - step: the global step, monotonic across stages (must not decrease).
    ///   - stageIndex: the stage's position.
    ///   - stageKind: the stage kind.
    ///   - stageStep: the step within the stage.
    ///   - values: the metrics; names may contain `/` (TensorBoard groups by the part before it).
    ///   - time: wall time of the row (default: now).
    /// - Throws: `TelemetryError.stepWentBackwards`, `.reservedMetricName`, `.invalidMetricName`, `.io`, `.closed`.
    public func record(step: Int, stageIndex: Int, stageKind: String, stageStep: Int, values: [String: Double],
                       time: Double? = nil) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed, let jsonl, let csv else { throw TelemetryError.closed(runDirectory: runDirectory) }
        if let lastStep, step < lastStep { throw TelemetryError.stepWentBackwards(step: step, previous: lastStep) }
        for name in values.keys { try MetricRow.validate(metricName: name) }
        let row = MetricRow(step: step, stage: stageKind, stageIndex: stageIndex, stageStep: stageStep,
                            time: time ?? clock(), values: values)
        try jsonl.write(row.jsonLine() + "\n")
        lastStep = step
        if values.keys.allSatisfy(Set(columns).contains) {
            try csv.write(MetricsCSV.line(row, metricColumns: columns) + "\n")
        } else {
            // A new metric widens the table: rebuild the CSV from the jsonl (which already holds this row).
            let all = try MetricsLog.read(path: metricsPath).rows
            columns = MetricsCSV.metricColumns(of: all)
            try csv.close()
            self.csv = nil
            try FileOperations.replace(csvPath, with: Array(MetricsCSV.render(rows: all).utf8), temporaryName: ".metrics.csv.tmp")
            self.csv = try AppendOnlyFile(path: csvPath)
        }
        try events?.append(row)
        progress.update(stageIndex: stageIndex, stageKind: stageKind, stageStep: stageStep, values: values)
    }

    /// A stage ended: prints its final progress line and logs the outcome.
    /// - Parameters:
    ///   - index: the stage's position.
    ///   - kind: the stage kind.
    ///   - outcome: how it ended (`completed`, `early stop`, `failed: reason`, ...).
    public func stageFinished(index: Int, kind: String, outcome: String = "completed") {
        lock.lock()
        defer { lock.unlock() }
        progress.stageFinished(index: index, kind: kind, outcome: outcome)
        logger.info("stage \(index) \(kind) \(outcome)")
    }

    /// Ends any progress bar (so results printed next start on a clean line), fsyncs and closes the files.
    /// - Throws: `TelemetryError.io` when a file cannot be flushed.
    public func close() throws {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { return }
        isClosed = true
        progress.finishBar()
        try jsonl?.close()
        try csv?.close()
        try events?.close()
    }
}
