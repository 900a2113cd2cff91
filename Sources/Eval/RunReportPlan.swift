import FileErrors
import Foundation

/// Which models of a finished run `distill report` evaluates, in table order.
///
/// The runner keeps one checkpoint per completed stage, `RUN_DIR/stage-<index>-<kind>.h5` (index 0-based), beside
/// its periodic `step-<N>.h5` checkpoints (ignored here). Each kind says what its file gives (`rowOf`, the stage
/// kinds' `StageReportRow`; a kind it does not know gives a student row). Rows:
/// 1. `teacher`: role `teacher` of the first `.teacher` stage file (`teacher-sft`), or, without one, of the first
///    stage file holding a teacher;
/// 2. `student after <kind>`: role `student` of every `.student` stage file in index order (output-distill,
///    feature-align, ppo-trace, ...); `.none` kinds (`teacher-traces`, `teacher-logits`: data only) get a note;
/// 3. `baseline (CE only)`: role `baseline` of the `.baseline` stage file (`baseline-ce`), a student of the same size
///    trained with cross-entropy on the reference traces alone.
public struct RunReportPlan: Sendable, Equatable {
    /// One row to evaluate.
    public struct Row: Sendable, Equatable {
        /// The row label.
        public var label: String
        /// The role to load.
        public var role: String
        /// The checkpoint file.
        public var file: String
        /// The stage's index in the curriculum.
        public var stageIndex: Int
        /// The stage's kind.
        public var stageKind: String
    }

    /// A stage checkpoint file found in the run folder.
    public struct StageFile: Sendable, Equatable {
        /// The stage index from the file name.
        public var index: Int
        /// The stage kind from the file name.
        public var kind: String
        /// The full path.
        public var path: String

        /// The file at `path` holds stage `index` of kind `kind`.
        public init(index: Int, kind: String, path: String) {
            self.index = index
            self.kind = kind
            self.path = path
        }

        /// Parses `stage-<index>-<kind>.h5`; nil for any other name.
        public static func parse(name: String, folder: String) -> StageFile? {
            guard name.hasPrefix("stage-"), name.hasSuffix(".h5") else { return nil }
            let body = name.dropFirst(6).dropLast(3)
            guard let dash = body.firstIndex(of: "-"), let index = Int(body[..<dash]), index >= 0 else { return nil }
            let kind = String(body[body.index(after: dash)...])
            guard !kind.isEmpty, kind.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { return nil }
            return StageFile(index: index, kind: kind, path: (folder as NSString).appendingPathComponent(name))
        }
    }

    /// The rows, in table order.
    public var rows: [Row]
    /// What was skipped or substituted, and why (shown under the table).
    public var notes: [String]

    /// Plans the report of the run in `runDirectory`.
    /// - Throws: `EvalError.runFolder` when the folder is missing, holds no stage files, or holds two files for one
    ///   stage index; `EvalError.missingRole` when a teacher-sft file has no teacher or a baseline-ce file no
    ///   baseline; the source's errors for unreadable files.
    public init(runDirectory: String, source: ModelSource, rowOf: (String) -> StageReportRow?) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runDirectory, isDirectory: &isFolder), isFolder.boolValue else {
            throw EvalError.runFolder(path: runDirectory, reason: "no such folder; give the folder `distill run` wrote the checkpoints to")
        }
        let names: [String]
        do { names = try ReadFailure.entries(of: runDirectory).sorted() } catch let e as ReadFailure {
            throw EvalError.runFolder(path: runDirectory, reason: "cannot list it: \(e.reason)")
        }
        let files = names.compactMap { StageFile.parse(name: $0, folder: runDirectory) }
        guard !files.isEmpty else {
            let periodic = names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".h5") }.count
            throw EvalError.runFolder(path: runDirectory, reason: "no stage checkpoints (stage-<index>-<kind>.h5) and \(periodic) "
                                      + "periodic step-<N>.h5 ones; the runner keeps one when each stage completes: finish the run "
                                      + "(`distill resume`) or give the folder of a finished one")
        }
        try self.init(stageFiles: files, roles: { try source.roles(inFile: $0) }, folder: runDirectory, rowOf: rowOf)
    }

    /// Plans the rows from known stage files (`roles` tells the roles each file holds, `rowOf` what a kind's file
    /// gives; nil: a kind it does not know, a student row).
    public init(stageFiles: [StageFile], roles: (String) throws -> [String], folder: String,
                rowOf: (String) -> StageReportRow?) throws {
        let files = stageFiles.sorted { $0.index < $1.index }
        for (a, b) in zip(files, files.dropFirst()) where a.index == b.index {
            throw EvalError.runFolder(path: folder, reason: "two checkpoints for stage \(a.index): \((a.path as NSString).lastPathComponent) "
                                      + "and \((b.path as NSString).lastPathComponent); remove the stale one")
        }
        var rows: [Row] = [], notes: [String] = []
        let name = { (f: StageFile) in (f.path as NSString).lastPathComponent }
        // Teacher.
        func row(_ f: StageFile) -> StageReportRow { rowOf(f.kind) ?? .student }
        if let sft = files.first(where: { row($0) == .teacher }) {
            let available = try roles(sft.path)
            guard available.contains("teacher") else {
                throw EvalError.missingRole(file: sft.path, role: "teacher", available: available)
            }
            rows.append(Row(label: "teacher", role: "teacher", file: sft.path, stageIndex: sft.index, stageKind: sft.kind))
        } else if let any = try files.first(where: { try roles($0.path).contains("teacher") }) {
            rows.append(Row(label: "teacher", role: "teacher", file: any.path, stageIndex: any.index, stageKind: any.kind))
            notes.append("no teacher-sft stage: the teacher row is the teacher stored in \(name(any)) (a given teacher checkpoint)")
        } else {
            notes.append("no stage file holds a teacher: no teacher row")
        }
        // Students, then the baseline.
        var baselines: [Row] = []
        for f in files where row(f) != .teacher {
            if case .none(let note) = row(f) {
                notes.append("\(name(f)): \(f.kind) \(note); no row")
                continue
            }
            let available = try roles(f.path)
            if row(f) == .baseline {
                guard available.contains("baseline") else {
                    throw EvalError.missingRole(file: f.path, role: "baseline", available: available)
                }
                baselines.append(Row(label: "baseline (CE only)", role: "baseline", file: f.path, stageIndex: f.index, stageKind: f.kind))
            } else if available.contains("student") {
                rows.append(Row(label: "student after \(f.kind)", role: "student", file: f.path, stageIndex: f.index, stageKind: f.kind))
            } else {
                notes.append("\(name(f)): no student role (has \(available.joined(separator: ", "))); no row")
            }
        }
        if baselines.isEmpty { notes.append("no baseline-ce stage: no baseline row (add the stage to the curriculum to compare)") }
        if baselines.count > 1 {
            for i in baselines.indices { baselines[i].label += " (stage \(baselines[i].stageIndex))" }
        }
        self.rows = rows + baselines
        self.notes = notes
    }
}
