import Foundation
import Logging
import Telemetry

/// Turns runner events into what a person watching the run sees and keeps: the resolved config on stdout; a
/// progress bar (or a line every `log_every` steps when stderr is not a terminal), metrics.jsonl, metrics.csv
/// and TensorBoard events in the run folder (through Telemetry's `RunMonitor`); state changes, validations
/// and stage ends as log lines.
public final class RunReporter {
    /// The run folder the metric files go to.
    public let runDirectory: String
    /// Where state changes, validations and stage ends are logged.
    public let logger: Logger
    /// A progress line every this many steps when stderr is not a terminal (set it before the first stage starts).
    public var logEvery: Int
    private(set) var monitor: RunMonitor?
    /// The checkpoint step a resume starts from (nil: a fresh run). The monitor opens at the first stage start,
    /// once the command has set `logEvery` from the curriculum the runner read.
    private var resumeStep: Int?
    /// The first error of the metric files (the run goes on; the command reports it at the end).
    public private(set) var failure: Error?
    /// An accepted curriculum change, written to metrics.jsonl once the monitor opens.
    private var pendingChange: (step: Int, index: Int, kind: String, stageStep: Int, values: [String: Double])?

    /// A reporter for the run in `runDirectory`; the metric files open when the first stage starts.
    public init(runDirectory: String, logEvery: Int, logger: Logger) {
        self.runDirectory = runDirectory
        self.logEvery = logEvery
        self.logger = logger
    }

    private func open(resumingAfter step: Int?) {
        do {
            monitor = try RunMonitor(runDirectory: runDirectory, resumingAfterStep: step,
                                     progress: .automatic(linesEvery: logEvery), logger: logger)
        } catch { failure = failure ?? error }
    }

    private func guarded(_ body: (RunMonitor) throws -> Void) {
        guard let monitor else { return }
        do { try body(monitor) } catch { failure = failure ?? error }
    }

    /// Shows and records one runner event (pass it as the runner's observer).
    public func handle(_ event: RunEvent) {
        switch event {
        case .started(let resolved):
            print("resolved curriculum:\n" + resolved)
        case .resumed(let checkpoint, let step, let skipped):
            for s in skipped { logger.warning("\(s)") }
            logger.notice("resuming from \(checkpoint) at global step \(step)")
            resumeStep = step
        case .stageStarted(let index, let kind, let step, let total):
            if monitor == nil && failure == nil { open(resumingAfter: resumeStep) }
            if let c = pendingChange {
                pendingChange = nil
                guarded { try $0.record(step: c.step, stageIndex: c.index, stageKind: c.kind, stageStep: c.stageStep, values: c.values) }
            }
            guarded { $0.stageStarted(index: index, kind: kind, totalSteps: total) }
            if step > 0 { logger.info("stage \(index) \(kind) continues at step \(step)") }
        case .stepFinished(let index, let kind, let step, _, let global, let metrics):
            guarded { try $0.record(step: global, stageIndex: index, stageKind: kind, stageStep: step, values: metrics) }
        case .evaluated(let index, let kind, let step, let global, let metrics):
            guarded { try $0.record(step: global, stageIndex: index, stageKind: kind, stageStep: step, values: metrics) }
            logger.info("stage \(index) \(kind) validation at step \(step): \(format(metrics))")
        case .stateChanged(let index, let kind, let from, let to):
            logger.debug("stage \(index) \(kind): \(from.name) -> \(to)")
        case .checkpointWritten(let path, _):
            logger.trace("checkpoint \(path)")
        case .curriculumChanged(let step, let index, let kind, let stageStep, let changes):
            // one row at the checkpoint's step: how many keys changed, and each changed key with its new value
            // (NaN when the value is not a number, or the key was removed)
            var values: [String: Double] = ["curriculum_changed_keys": Double(changes.count)]
            for c in changes { values["curriculum_change/" + c.key] = c.new.flatMap(Double.init) ?? .nan }
            pendingChange = (step, index, kind, stageStep, values)
        case .stageFinished(let index, let kind, let checkpoint):
            guarded { $0.stageFinished(index: index, kind: kind, outcome: "completed (kept \(checkpoint))") }
        }
    }

    /// Closes the metric files.
    /// - Throws: the first error the metric files met during the run (the run itself went on), or closing's own.
    public func close() throws {
        try monitor?.close()
        if let failure { throw failure }
    }

    private func format(_ metrics: [String: Double]) -> String {
        metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.4g", $0.value))" }.joined(separator: " ")
    }
}
