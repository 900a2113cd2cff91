import Checkpoint
import Foundation

/// Where a run stands (`distill status`): read from the newest valid checkpoint in its folder.
public struct RunStatus: Sendable, Equatable {
    /// One stage of the curriculum as the checkpoint records it.
    public struct Stage: Sendable, Equatable {
        /// The stage's position in the curriculum (0-based).
        public let index: Int
        /// The stage kind, e.g. `output-distill`.
        public let kind: String
        /// The state machine's state (`pending`, `running`, `evaluating`, `completed`, `failed`).
        public let state: String
        /// Steps done.
        public let step: Int
        /// The stage's step budget (0 before the stage has started and recorded it).
        public let totalSteps: Int
        /// Each metric's last value that is not NaN (the checkpoint's metric history; `global_step` left out).
        public let lastMetrics: [String: Double]
        /// Why the stage failed, when it did.
        public let failureReason: String?
    }

    /// The run folder.
    public let runDirectory: String
    /// The checkpoint the status is read from.
    public let newestCheckpoint: String
    public let globalStep: Int
    /// The stage the run is at.
    public let stageIndex: Int
    public let stages: [Stage]
    /// Training rows left out for being longer than `max_length` (nil when the checkpoint does not record it).
    public let rowsDroppedForLength: Int?
    /// Newer checkpoint files that were not valid, each with the reason.
    public let skipped: [String]

    /// Reads the status of the run in `runDirectory`.
    /// - Throws: `RunError.noCheckpoint` (with why each file was skipped) when the folder holds no valid checkpoint;
    ///   `CheckpointError` when the newest one cannot be read.
    public init(runDirectory: String) throws {
        let (found, skipped) = try CheckpointDirectory(path: runDirectory).latestValid()
        guard let path = found else { throw RunError.noCheckpoint(directory: runDirectory, skipped: skipped.map(\.description)) }
        let reader = try CheckpointReader(path: path)
        let run = try reader.run()
        let history = try reader.metrics()
        self.runDirectory = runDirectory
        newestCheckpoint = path
        globalStep = run.globalStep
        stageIndex = run.stageIndex
        rowsDroppedForLength = run.rowsDroppedForLength
        self.skipped = skipped.map(\.description)
        stages = try reader.stages().enumerated().map { i, s in
            var last: [String: Double] = [:]
            for (name, values) in history[i] ?? [:] where name != "global_step" {
                if let v = values.last(where: { !$0.isNaN }) { last[name] = v }
            }
            return Stage(index: i, kind: s.kind, state: s.state, step: s.step,
                         totalSteps: Int(s.controllers["progress"]?["total_steps"] ?? 0), lastMetrics: last, failureReason: s.failureReason)
        }
    }

    /// The status as a JSON-compatible dictionary (`distill status --json`); an absent count is `NSNull`.
    public var jsonObject: [String: Any] {
        ["run_dir": runDirectory, "newest_checkpoint": newestCheckpoint, "global_step": globalStep, "stage_index": stageIndex,
         "stages": stages.map { s -> [String: Any] in
             var entry: [String: Any] = ["index": s.index, "kind": s.kind, "state": s.state, "step": s.step, "total_steps": s.totalSteps,
                                         "last_metrics": s.lastMetrics]
             if let r = s.failureReason { entry["failure_reason"] = r }
             return entry
         },
         "rows_dropped_for_length": rowsDroppedForLength.map { $0 as Any } ?? NSNull(),
         "skipped": skipped]
    }

    /// The status as text lines: the run, skipped files, dropped rows, then a line per stage with its last metrics.
    public var lines: [String] {
        var lines = ["run \(runDirectory): global step \(globalStep), newest checkpoint \(newestCheckpoint)"]
        for s in skipped { lines.append("  warning: \(s)") }
        if let n = rowsDroppedForLength { lines.append("  data: \(n) rows longer than max_length left out") }
        for s in stages {
            let metrics = s.lastMetrics.sorted { $0.key < $1.key }
                .map { "\($0.key)=\(String(format: "%.4g", $0.value))" }.joined(separator: " ")
            var line = "  [\(s.index)] \(s.kind): \(s.state) \(s.step)/\(s.totalSteps)"
            if let r = s.failureReason { line += " (\(r))" }
            lines.append(line + (metrics.isEmpty ? "" : "  " + metrics))
        }
        return lines
    }
}
