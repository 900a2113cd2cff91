import Checkpoint
import Distributed
import FileErrors
import Foundation
import Logging
import Model
import Tensor

/// What the runner reports while it works (it prints nothing itself; the CLI turns these into progress
/// bars, log lines and metric files).
public enum RunEvent {
    /// The run starts fresh with this resolved configuration.
    case started(resolvedConfiguration: String)
    /// The run continues from `checkpoint` at `globalStep`; `skipped` lists damaged newer files passed over.
    case resumed(checkpoint: String, globalStep: Int, skipped: [String])
    /// A stage begins (or continues, when `step` > 0).
    case stageStarted(index: Int, kind: String, step: Int, totalSteps: Int)
    /// One unit of work finished.
    case stepFinished(index: Int, kind: String, step: Int, totalSteps: Int, globalStep: Int, metrics: [String: Double])
    /// A validation pass finished.
    case evaluated(index: Int, kind: String, step: Int, globalStep: Int, metrics: [String: Double])
    /// The stage's state machine moved.
    case stateChanged(index: Int, kind: String, from: StageState, to: StageState)
    /// A checkpoint is on disk.
    case checkpointWritten(path: String, globalStep: Int)
    /// `distill resume --accept-changes` took an edited curriculum.yaml: the run continues at `globalStep` in stage
    /// `stageIndex` with these keys changed (recorded in the next checkpoint).
    case curriculumChanged(globalStep: Int, stageIndex: Int, stageKind: String, stageStep: Int, changes: [CurriculumKeyChange])
    /// A stage completed; `checkpoint` is its kept end-of-stage file ("" in an in-memory run).
    case stageFinished(index: Int, kind: String, checkpoint: String)
}

/// How a call to `run()` ended.
public enum RunOutcome: Equatable {
    /// Every stage completed.
    case completed
    /// A stop was requested (SIGINT/SIGTERM); a checkpoint was written after the current step ("" in memory: none).
    case interrupted(signal: Int32, checkpoint: String)
}

/// A run that cannot start or continue.
public enum RunError: Error, CustomStringConvertible {
    case noCheckpoint(directory: String, skipped: [String])
    case alreadyStarted(directory: String)
    case failedStage(index: Int, kind: String, reason: String)
    case mismatch(checkpoint: String, reason: String)
    /// The run folder or a file in it could not be written: the path, the cause in words and what to do.
    case cannotWrite(path: String, reason: String)
    /// A folder or file the run reads could not be read: the path, the cause in words and what to do.
    case cannotRead(path: String, reason: String)
    /// Another process holds the run folder's lock (`pid` as it wrote it into the lock file, when it had).
    case locked(directory: String, lockFile: String, pid: Int32?)
    /// The folder's curriculum.yaml differs in meaning from the curriculum stored in `checkpoint`.
    case curriculumEdited(file: String, checkpoint: String, directory: String, changes: [CurriculumKeyChange])
    /// Changes that cannot apply to a run in progress, each with the reason (refused even with --accept-changes).
    case curriculumChangeRefused(file: String, directory: String, refused: [(change: CurriculumKeyChange, reason: String)])
    /// A checkpoint could not be written; `previous` is the newest checkpoint still on disk (untouched).
    case checkpointNotWritten(path: String, reason: String, previous: String?, directory: String)

    public var description: String {
        switch self {
        case .noCheckpoint(let dir, let skipped):
            return "no valid checkpoint in \(dir)" + (skipped.isEmpty ? "" : " (" + skipped.joined(separator: "; ") + ")")
                + "; start the run with `distill run CURRICULUM.yaml --run-dir \(dir)`"
        case .alreadyStarted(let dir):
            return "\(dir) already holds checkpoints of a run; continue it with `distill resume \(dir)` or choose another --run-dir"
        case .failedStage(let index, let kind, let reason):
            return "stage \(index) (\(kind)) failed: \(reason)"
        case .mismatch(let checkpoint, let reason):
            return "\(checkpoint) does not match this curriculum: \(reason)"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .cannotRead(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .locked(let dir, let lockFile, let pid):
            let holder = pid.map { "process \($0)" } ?? "another process (its pid is not written yet)"
            return "\(dir) is in use: \(holder) holds its lock \(lockFile); two processes must not write one run. "
                + "Wait for it to end, or stop it\(pid.map { " (kill \($0))" } ?? ""), then `distill resume \(dir)`"
        case .curriculumEdited(let file, let checkpoint, let dir, let changes):
            return "\(file) was edited after \(checkpoint) was written; \(changes.count) key\(changes.count == 1 ? "" : "s") changed:\n"
                + changes.map { "  \($0)" }.joined(separator: "\n")
                + "\nTo continue the run as it began, restore the file (or delete it: resume writes it back from the checkpoint); "
                + "to continue with the edited curriculum, run `distill resume \(dir) --accept-changes`"
        case .curriculumChangeRefused(let file, let dir, let refused):
            return "\(file): \(refused.count) change\(refused.count == 1 ? "" : "s") cannot apply to the run in progress, even with --accept-changes:\n"
                + refused.map { "  \($0.change) (\($0.reason))" }.joined(separator: "\n")
                + "\nRestore these keys in \(file) (or delete it: resume writes it back from the checkpoint), "
                + "or start a new run with the edited curriculum: `distill run \(file) --run-dir NEW_DIR`; \(dir) is unchanged"
        case .checkpointNotWritten(let path, let reason, let previous, let dir):
            let kept = previous.map { "the previous checkpoint \($0) is intact" } ?? "no earlier checkpoint of this run exists"
            return "cannot write checkpoint \(path): \(reason). The run stopped; \(kept). "
                + "Once the cause is fixed, continue with `distill resume \(dir)`"
        }
    }
}

/// Drives a curriculum's stages in order through their state machines, checkpointing every N global steps and
/// at every state change, and resuming from the newest valid checkpoint exactly where the run stopped.
public final class CurriculumRunner {
    public let curriculum: Curriculum
    public let runDirectory: String
    public let context: RunContext
    let registry: StageRegistry
    let observer: (RunEvent) -> Void
    /// Polled after every unit of work: a non-nil signal number stops the run after a checkpoint. Under mpirun a
    /// signal seen by any rank stops every rank at the same step.
    public var stopRequested: () -> Int32? = { nil }
    /// The processes of the job (`LocalProcess` outside mpirun). Rank 0 alone holds the folder's lock and writes
    /// checkpoints, curriculum.yaml and the stages' files; every rank computes every step.
    public let group: any Collective
    /// Whether this process writes the run's files: a run into a folder, on rank 0.
    private var writes: Bool { context.writesFiles && group.isWriter }
    /// The newest checkpoint this process resumed from (nil: a fresh run); every rank must resume from the same one.
    private var resumedFrom: String?
    /// Set once `run()` has checked that every rank read the same curriculum and checkpoint.
    private var ranksChecked = false

    private(set) var globalStep = 0
    private var stageIndex = 0
    private var history: [Int: [String: [Double]]] = [:]
    /// Every metric logged so far, by stage index: name -> one value per logged row (NaN where a row lacks it), with
    /// the rows' `global_step` (what checkpoints store under /metrics).
    public var metricsHistory: [Int: [String: [Double]]] { history }
    private var lastValidation: Double?
    private var current: (any Stage)?
    private var state: StageState = .pending
    private var savesDone = 0
    private let faults = FaultInjection(environment: ProcessInfo.processInfo.environment)
    /// Held from `init` until `run()` returns or throws (and again by a later `run()`): no other process writes this
    /// run folder meanwhile, and a script may resume a run it stopped in the same process.
    private var lock: RunFolderLock?
    private var directory: CheckpointDirectory { CheckpointDirectory(path: runDirectory) }

    /// A fresh run of `curriculum` into `runDirectory` (which must not hold checkpoints yet), with the teacher and
    /// student its `teacher:`/`student:` settings describe.
    ///
    /// Under mpirun (`group` of several ranks) only rank 0 makes the folder, takes its lock and writes into it; every
    /// rank loads the models and data itself. Make the runner on every rank inside `group.together { ... }`, so that a
    /// rank that cannot start stops every rank.
    public convenience init(curriculum: Curriculum, runDirectory: String, registry: StageRegistry = .standard,
                            logger: Logger = Logger(label: "tracedistill.run"), group: any Collective = LocalProcess(),
                            observer: @escaping (RunEvent) -> Void = { _ in }) throws {
        try self.init(curriculum: curriculum, checkpointDirectory: runDirectory, registry: registry, logger: logger,
                      group: group, observer: observer) {
            try CurriculumModels(curriculum: curriculum)
        }
    }

    /// A fresh run of `curriculum`'s stages on a teacher and a student the caller already holds (the curriculum's
    /// `teacher:`/`student:` settings are not read; the models train in place, and `context.student` is the student
    /// afterwards, a new object when a stage such as `prune` replaced it).
    ///
    /// - Parameters:
    ///   - codec: how text becomes ids; nil: the math tokenizer with the curriculum's prompt template.
    ///   - checkpointDirectory: where checkpoints go, as `distill run --run-dir` (resume with
    ///     `init(resuming:teacher:student:)`); nil: an in-memory run that writes no file at all. Its results equal
    ///     those of a run into a folder, bit for bit.
    /// - Throws: `RunModelError` when the vocabularies do not fit; `StageError.cannotRun` (when the stage is
    ///   built) in an in-memory run for a stage that must write a file (`teacher-logits`).
    public convenience init(curriculum: Curriculum, teacher: Transformer, student: Transformer, codec: TraceCodec? = nil,
                            checkpointDirectory: String? = nil, registry: StageRegistry = .standard,
                            logger: Logger = Logger(label: "tracedistill.run"), group: any Collective = LocalProcess(),
                            observer: @escaping (RunEvent) -> Void = { _ in }) throws {
        try self.init(curriculum: curriculum, checkpointDirectory: checkpointDirectory, registry: registry, logger: logger,
                      group: group, observer: observer) {
            try CurriculumModels(teacher: teacher, student: student,
                                 codec: codec ?? CurriculumModels.mathCodec(curriculum: curriculum, key: "data.prompt_template"))
        }
    }

    /// A fresh run over the models `models` builds; nil `checkpointDirectory`: in memory.
    private init(curriculum: Curriculum, checkpointDirectory: String?, registry: StageRegistry, logger: Logger,
                 group: any Collective, observer: @escaping (RunEvent) -> Void, models: () throws -> CurriculumModels) throws {
        self.curriculum = curriculum
        self.registry = registry
        self.observer = observer
        self.group = group
        guard let runDirectory = checkpointDirectory else {
            self.runDirectory = RunContext.inMemoryLabel
            context = try RunContext(curriculum: curriculum, models: try models(), runDirectory: nil, logger: logger)
            context.group = group
            context.stageRecords = curriculum.stages.map { StageRecord(kind: $0.kind, state: StageState.pending.name) }
            context.artifacts[Self.baseArtifact] = Array(curriculum.baseDirectory.utf8)
            observer(.started(resolvedConfiguration: curriculum.resolvedDescription))
            return
        }
        if !(try CheckpointDirectory(path: runDirectory).files()).isEmpty { throw RunError.alreadyStarted(directory: runDirectory) }
        self.runDirectory = runDirectory
        guard group.isWriter else {
            context = try RunContext(curriculum: curriculum, models: try models(), runDirectory: runDirectory, logger: logger)
            context.group = group
            context.stageRecords = curriculum.stages.map { StageRecord(kind: $0.kind, state: StageState.pending.name) }
            context.artifacts[Self.baseArtifact] = Array(curriculum.baseDirectory.utf8)
            return
        }
        // A run that cannot start (data that does not load, a folder it cannot write) leaves nothing it made: the
        // folders it created, or in a folder that was there, the files it added; never what existed before.
        let createdRoot = Self.topmostMissingFolder(of: runDirectory)
        let existingNames = createdRoot == nil ? Set(try Self.names(in: runDirectory)) : []
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        } catch {
            Self.removeWhatWasMade(in: runDirectory, createdRoot: createdRoot, keeping: existingNames, logger: logger)
            throw RunError.cannotWrite(path: runDirectory, reason: WriteFailure.diagnose(path: runDirectory, target: .folder, error: error,
                                                                                         createsFolders: true).reason)
        }
        // Not cleaned up on failure: a folder another process holds or has started is that process's.
        lock = try RunFolderLock(runDirectory: runDirectory)
        // another process may have started this run between the check above and the lock
        if !(try CheckpointDirectory(path: runDirectory).files()).isEmpty { throw RunError.alreadyStarted(directory: runDirectory) }
        do {
            context = try RunContext(curriculum: curriculum, models: try models(), runDirectory: runDirectory, logger: logger)
            context.group = group
            context.stageRecords = curriculum.stages.map { StageRecord(kind: $0.kind, state: StageState.pending.name) }
            context.artifacts[Self.baseArtifact] = Array(curriculum.baseDirectory.utf8)
            let curriculumCopy = runDirectory + "/curriculum.yaml"
            do { try Data(curriculum.text.utf8).write(to: URL(fileURLWithPath: curriculumCopy)) } catch {
                throw RunError.cannotWrite(path: curriculumCopy, reason: WriteFailure.diagnose(path: curriculumCopy, target: .file, error: error).reason)
            }
        } catch {
            lock = nil  // released before its file goes with the rest
            Self.removeWhatWasMade(in: runDirectory, createdRoot: createdRoot, keeping: existingNames, logger: logger)
            throw error
        }
        observer(.started(resolvedConfiguration: curriculum.resolvedDescription))
    }

    /// The outermost folder of `path` (itself included) that does not exist yet, nil when `path` exists.
    static func topmostMissingFolder(of path: String) -> String? {
        var missing: String?
        var current = URL(fileURLWithPath: path).standardizedFileURL.path
        while !FileManager.default.fileExists(atPath: current) {
            missing = current
            let parent = WriteFailure.parentPath(current)
            if parent == current { break }
            current = parent
        }
        return missing
    }

    /// The entries of an existing folder.
    static func names(in folder: String) throws -> [String] {
        do { return try ReadFailure.entries(of: folder) } catch let e as ReadFailure {
            throw RunError.cannotRead(path: folder, reason: e.reason)
        }
    }

    /// Removes `createdRoot` (a folder this run made, with everything in it), or else the entries of `folder`
    /// that are not in `keeping`; a failure to remove is logged, the run's own error is the one reported.
    static func removeWhatWasMade(in folder: String, createdRoot: String?, keeping: Set<String>, logger: Logger) {
        do {
            if let createdRoot {
                if FileManager.default.fileExists(atPath: createdRoot) { try FileManager.default.removeItem(atPath: createdRoot) }
                return
            }
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) where !keeping.contains(name) {
                try FileManager.default.removeItem(atPath: folder + "/" + name)
            }
        } catch {
            logger.warning("could not remove what the failed start made in \(folder): \(error)")
        }
    }

    /// Continues the run in `runDirectory` from its newest valid checkpoint.
    ///
    /// The folder's `curriculum.yaml` is compared with the curriculum stored in the checkpoint, key by key on the
    /// resolved configurations. A difference in meaning is refused (`RunError.curriculumEdited`, with the changed
    /// keys) unless `acceptChanges`; then the edited curriculum is validated as a fresh one, changes that cannot apply
    /// to a run in progress are refused (`RunError.curriculumChangeRefused`), and the others are taken: the run goes
    /// on with the edited curriculum, and the next checkpoint stores its text and a record of the change (artifact
    /// `curriculum_changes.jsonl`). A missing `curriculum.yaml` is written back from the checkpoint.
    ///
    /// Under mpirun every rank reads the newest valid checkpoint itself; `run()` checks they all found the same file.
    public convenience init(resuming runDirectory: String, acceptChanges: Bool = false, registry: StageRegistry = .standard,
                            logger: Logger = Logger(label: "tracedistill.run"), group: any Collective = LocalProcess(),
                            observer: @escaping (RunEvent) -> Void = { _ in }) throws {
        try self.init(resuming: runDirectory, acceptChanges: acceptChanges, registry: registry, logger: logger, group: group,
                      observer: observer, models: nil)
    }

    /// Continues a run begun with `init(curriculum:teacher:student:checkpointDirectory:)` in `runDirectory`: the
    /// checkpoint's weights load into `teacher` and `student` (of the architectures the run started with), as
    /// `init(resuming:acceptChanges:)` does for the curriculum's own models.
    public convenience init(resuming runDirectory: String, teacher: Transformer, student: Transformer, codec: TraceCodec? = nil,
                            acceptChanges: Bool = false, registry: StageRegistry = .standard,
                            logger: Logger = Logger(label: "tracedistill.run"), group: any Collective = LocalProcess(),
                            observer: @escaping (RunEvent) -> Void = { _ in }) throws {
        try self.init(resuming: runDirectory, acceptChanges: acceptChanges, registry: registry, logger: logger, group: group,
                      observer: observer) { curriculum in
            try CurriculumModels(teacher: teacher, student: student,
                                 codec: codec ?? CurriculumModels.mathCodec(curriculum: curriculum, key: "data.prompt_template"))
        }
    }

    /// The resume over the models `models` builds for the curriculum (nil: the curriculum's own).
    private init(resuming runDirectory: String, acceptChanges: Bool, registry: StageRegistry, logger: Logger,
                 group: any Collective, observer: @escaping (RunEvent) -> Void, models: ((Curriculum) throws -> CurriculumModels)?) throws {
        let folder = CheckpointDirectory(path: runDirectory)
        guard !(try folder.files()).isEmpty else { throw RunError.noCheckpoint(directory: runDirectory, skipped: []) }
        if group.isWriter { lock = try RunFolderLock(runDirectory: runDirectory) }
        self.group = group
        let (found, skipped) = try folder.latestValid()
        guard let path = found else { throw RunError.noCheckpoint(directory: runDirectory, skipped: skipped.map(\.description)) }
        let reader = try CheckpointReader(path: path)
        var artifacts = try reader.artifacts()
        let base = artifacts[Self.baseArtifact].map { String(decoding: $0, as: UTF8.self) } ?? runDirectory
        let file = runDirectory + "/curriculum.yaml"
        let stored = try Curriculum(text: reader.curriculum, file: file, baseDirectory: base, registry: registry)
        let run = try reader.run()
        var records = try reader.stages()
        guard run.stageIndex >= 0 && run.stageIndex < records.count else {
            throw CheckpointError.corrupt(file: path, object: "/run", reason: "stage_index \(run.stageIndex) is not one of its \(records.count) stages")
        }
        let (edited, changes) = try Self.folderCurriculum(file: file, stored: stored, base: base, registry: registry, logger: logger)
        if !changes.isEmpty {
            guard acceptChanges else {
                throw RunError.curriculumEdited(file: file, checkpoint: path, directory: runDirectory, changes: changes)
            }
            let refused = CurriculumDiff.refused(changes, stageIndex: run.stageIndex, stageCompleted: records[run.stageIndex].state == StageState.completed.name)
            guard refused.isEmpty else { throw RunError.curriculumChangeRefused(file: file, directory: runDirectory, refused: refused) }
            // stages after the current one have not started: their records follow the edited list
            records = Array(records.prefix(run.stageIndex + 1))
                + edited.stages.dropFirst(run.stageIndex + 1).map { StageRecord(kind: $0.kind, state: StageState.pending.name) }
            artifacts[Self.changesArtifact, default: []] += Self.changeRecord(step: run.globalStep, stageIndex: run.stageIndex,
                                                                               checkpoint: path, changes: changes)
            let list = changes.map(\.description).joined(separator: "; ")
            logger.notice("\(file): continuing with \(changes.count) changed key\(changes.count == 1 ? "" : "s") (--accept-changes): \(list)")
        }
        curriculum = changes.isEmpty ? stored : edited
        self.runDirectory = runDirectory
        self.registry = registry
        self.observer = observer
        context = try RunContext(curriculum: curriculum, models: try models?(curriculum) ?? CurriculumModels(curriculum: curriculum),
                                 runDirectory: runDirectory, logger: logger)
        context.group = group
        resumedFrom = path
        guard records.count == curriculum.stages.count, zip(records, curriculum.stages).allSatisfy({ $0.kind == $1.kind }) else {
            throw RunError.mismatch(checkpoint: path, reason: "its stage list \(records.map(\.kind)) differs from the curriculum's \(curriculum.stages.map(\.kind))")
        }
        context.stageRecords = records
        context.artifacts = artifacts
        history = try reader.metrics()
        lastValidation = run.validationMetric
        globalStep = run.globalStep
        stageIndex = run.stageIndex
        guard let rng = RandomGenerator(stateBytes: run.rngState) else {
            throw CheckpointError.corrupt(file: path, object: "/run/rng_state", reason: "\(run.rngState.count) bytes is not a generator state")
        }
        try reader.load(role: "teacher", into: context.teacher.parameters)
        // a stage may have changed the student's shape (prune): the checkpoint's architecture is the one to load
        let savedStudent = try reader.transformerConfig(role: "student")
        if savedStudent != context.student.config {
            let student: Transformer
            do { student = try Transformer(config: savedStudent) } catch {
                throw CheckpointError.corrupt(file: path, object: "/models/student@config", reason: "\(error)")
            }
            student.dropoutProbability = context.student.dropoutProbability
            context.replaceStudent(student)
        }
        try reader.load(role: "student", into: context.student.parameters)

        let record = records[stageIndex]
        guard let restored = StageState(name: record.state, reason: record.failureReason) else {
            throw CheckpointError.corrupt(file: path, object: "/run/stages/\(stageIndex)", reason: "unknown state '\(record.state)'")
        }
        if case .failed(let reason) = restored {
            throw RunError.failedStage(index: stageIndex, kind: record.kind, reason: reason)
        }
        if restored == .completed {
            // a crash between the stage's end checkpoint and its kept copy: make the copy now
            let kept = runDirectory + "/stage-\(stageIndex)-\(record.kind).h5"
            if group.isWriter && !FileManager.default.fileExists(atPath: kept) {
                guard link(path, kept) == 0 else {
                    throw CheckpointError.io(file: kept, reason: "cannot link \(path): \(String(cString: strerror(errno)))")
                }
                logger.notice("kept \(path) as \(kept), the end of stage \(stageIndex) (the run stopped before it was kept)")
            }
            stageIndex += 1
            state = .pending
        } else {
            state = restored
            let stage = try build(stageIndex)
            var controllers = record.controllers
            controllers["progress"] = nil
            try stage.restore(StageProgress(step: record.step, data: record.data, controllers: controllers), context: context)
            current = stage
        }
        // roles saved by earlier stages that outlive them (projection, baseline) come back as they were
        let known = Set(context.roleStores.map(\.role))
        for role in try reader.roles() where !known.contains(role) {
            let store = ParameterStore(try reader.parameters(role: role).map { ($0.name, $0.shape, true) })
            context.register(role: role, store: store, configJSON: try reader.configJSON(role: role))
        }
        let saved = Set(try reader.roles())
        for r in context.extraStores where saved.contains(r.role) { try reader.load(role: r.role, into: r.store) }
        for o in context.optimizers { try reader.loadOptimizer(role: o.role, into: o.optimizer) }
        context.rng = rng
        observer(.resumed(checkpoint: path, globalStep: globalStep, skipped: skipped.map(\.description)))
        if !changes.isEmpty {
            observer(.curriculumChanged(globalStep: globalStep, stageIndex: run.stageIndex, stageKind: records[run.stageIndex].kind,
                                        stageStep: records[run.stageIndex].step, changes: changes))
        }
    }

    static let baseArtifact = "curriculum_base_directory"
    /// The artifact recording each accepted curriculum change, one JSON object per line.
    public static let changesArtifact = "curriculum_changes.jsonl"

    /// The folder's curriculum.yaml read against the checkpoint's curriculum: the edited curriculum and the keys whose
    /// resolved values differ (none when only comments or layout changed). A missing file is written back from the
    /// checkpoint, with a notice.
    private static func folderCurriculum(file: String, stored: Curriculum, base: String, registry: StageRegistry,
                                         logger: Logger) throws -> (Curriculum, [CurriculumKeyChange]) {
        guard FileManager.default.fileExists(atPath: file) else {
            do { try Data(stored.text.utf8).write(to: URL(fileURLWithPath: file)) } catch {
                throw RunError.cannotWrite(path: file, reason: WriteFailure.diagnose(path: file, target: .file, error: error).reason)
            }
            logger.notice("\(file) was missing; wrote it back from the checkpoint's curriculum")
            return (stored, [])
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CurriculumError(file: file, keyPath: "", line: nil, message: "cannot read the file; check its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CurriculumError(file: file, keyPath: "", line: nil, message: "the file is not UTF-8 text")
        }
        if text == stored.text { return (stored, []) }
        let edited = try Curriculum(text: text, file: file, baseDirectory: base, registry: registry)
        let changes = CurriculumDiff.changes(from: stored, to: edited)
        if changes.isEmpty { logger.info("\(file) differs from the checkpoint's curriculum only in form (comments, layout); nothing changed") }
        return (edited, changes)
    }

    /// One line of `curriculum_changes.jsonl`: when (global step, stage), from which checkpoint, and each changed key.
    private static func changeRecord(step: Int, stageIndex: Int, checkpoint: String, changes: [CurriculumKeyChange]) -> [UInt8] {
        let object: [String: Any] = [
            "global_step": step, "stage_index": stageIndex, "checkpoint": checkpoint,
            "time_utc": ISO8601DateFormatter().string(from: Date()),
            "changes": changes.map { c -> [String: Any] in ["key": c.key, "old": c.old ?? NSNull(), "new": c.new ?? NSNull()] }]
        // JSONSerialization cannot fail on strings, numbers and NSNull
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
    }

    private func build(_ index: Int) throws -> any Stage {
        let entry = curriculum.stages[index]
        guard let kind = registry[entry.kind] else {
            throw RunError.mismatch(checkpoint: runDirectory, reason: "stage kind \(entry.kind) is not registered")
        }
        return try kind.make(entry.configuration, context, index)
    }

    /// Runs the remaining stages. Returns `.interrupted` when `stopRequested` fired (after a checkpoint).
    @discardableResult
    public func run() throws -> RunOutcome {
        if lock == nil && writes { lock = try RunFolderLock(runDirectory: runDirectory) }
        defer { lock = nil }
        if !ranksChecked {
            try checkRanksAgree()
            ranksChecked = true
        }
        while stageIndex < curriculum.stages.count {
            let index = stageIndex, kind = curriculum.stages[index].kind
            let stage: any Stage
            if let c = current { stage = c } else {
                stage = try build(index)
                current = stage
            }
            observer(.stageStarted(index: index, kind: kind, step: stage.step, totalSteps: stage.totalSteps))
            do {
                if state == .pending {
                    try apply(.start, stage)
                    try checkpoint(stage)
                }
                while !state.isFinal {
                    if state == .evaluating {
                        let result = try stage.evaluate(context)
                        lastValidation = result.validationLoss ?? lastValidation
                        log(index, result.metrics)
                        observer(.evaluated(index: index, kind: kind, step: stage.step, globalStep: globalStep, metrics: result.metrics))
                        try apply(result.stop ? .earlyStop : stage.step >= stage.totalSteps ? .budgetExhausted : .evalDone, stage)
                        if state == .completed { break }
                        try checkpoint(stage)
                        continue
                    }
                    if stage.step >= stage.totalSteps {
                        try apply(.budgetExhausted, stage)
                        break
                    }
                    if let signal = try group.anySignal(stopRequested()) {
                        return .interrupted(signal: signal, checkpoint: try checkpoint(stage))
                    }
                    let metrics = try stage.advance(context)
                    globalStep += 1
                    try apply(.stepDone, stage)
                    log(index, metrics)
                    observer(.stepFinished(index: index, kind: kind, step: stage.step, totalSteps: stage.totalSteps,
                                           globalStep: globalStep, metrics: metrics))
                    faults.afterStep(globalStep)
                    if globalStep == faults.perturbAfterStep { context.student.parameters.values.base[0] += 0.001 }
                    if stage.isEvaluationDue {
                        try apply(.evalDue, stage)
                        try checkpoint(stage)
                    } else if globalStep % curriculum.run.checkpointEvery == 0 {
                        try checkpoint(stage)
                    }
                }
                try stage.finish(context)
                let path = try checkpoint(stage)
                let kept = context.writesFiles ? runDirectory + "/stage-\(index)-\(kind).h5" : ""
                if writes {
                    unlink(kept)
                    guard link(path, kept) == 0 else {
                        throw CheckpointError.io(file: kept, reason: "cannot link \(path): \(String(cString: strerror(errno)))")
                    }
                }
                // the next stage may read what rank 0 wrote at this one's end (teacher-logits' cache)
                try group.barrier()
                observer(.stageFinished(index: index, kind: kind, checkpoint: kept))
                faults.afterStage(index)
            } catch let error where !(error is RunError) && !state.isFinal && !(error is CheckpointError) && !(error is DistributedError)
                                    && !(error is TrainingStepError) {
                // (not the stage's failure: ranks that disagree, or more ranks than a step has shards, are the launch's;
                // the run resumes once it is fixed)
                let reason = "\(error)"
                try? apply(.error(reason: reason), stage)
                context.stageRecords[index].failureReason = reason
                // the failure and its reason go on record (status shows them; resume refuses and says why);
                // a failed write must not hide the original error
                _ = try? checkpoint(stage)
                context.logger.error("stage \(index) (\(kind)) failed: \(reason)")
                throw RunError.failedStage(index: index, kind: kind, reason: reason)
            }
            current = nil
            stageIndex += 1
            state = .pending
        }
        return .completed
    }

    /// Before the first step: every rank read the same curriculum (SHA-256 of its text) and resumed from the same
    /// checkpoint as rank 0, or every rank stops with the first rank that differs named.
    private func checkRanksAgree() throws {
        guard group.size > 1 else { return }
        let mine = sha256Hex(curriculum.text) + "\n" + (resumedFrom ?? "") + "\n" + curriculum.file
        let all = try group.allgather(Array(mine.utf8)).map { String(decoding: $0, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) }
        for (r, other) in all.enumerated() where other.prefix(2) != all[0].prefix(2) {
            if other[0] != all[0][0] {
                throw DistributedError.curriculumMismatch(rank: r, size: group.size, expected: String(all[0][0]), found: String(other[0]),
                                                          file: String(other[2]))
            }
            throw DistributedError.rankFailed(rank: r, size: group.size,
                                              reason: "it resumes from \(other[1]), rank 0 from \(all[0][1]); every rank must see the same run folder")
        }
        try checkShardsSplit()
    }

    /// Every rank computes the same number of a step's shards: `run.gradient_shards` must be a multiple of the rank
    /// count, or every rank stops before the first step with the curriculum's line and the values that work.
    private func checkShardsSplit() throws {
        let shards = curriculum.run.gradientShards, n = group.size
        guard shards % n != 0 else { return }
        let node = try ConfigNode.parse(yaml: curriculum.text, file: curriculum.file).child("run")
        let key = try node.child("gradient_shards")
        let multiples = (1...3).map { String($0 * n) }.joined(separator: ", ")
        let divisors = (1...shards).filter { shards % $0 == 0 }.map(String.init).joined(separator: ", ")
        let found = key.isPresent ? "\(shards)" : "\(shards) (the default)"
        throw CurriculumError(file: curriculum.file, keyPath: "run.gradient_shards", line: key.line ?? node.line,
                              message: "\(found) shards per step cannot be split evenly over \(n) processes (mpirun -np \(n)); "
                                  + "set run.gradient_shards to a multiple of \(n) (\(multiples), ...), or run a process count that divides \(shards): \(divisors)")
    }

    /// At every checkpoint under mpirun: every rank's models (SHA-256 over each role's parameters) are rank 0's, which
    /// is what rank 0 is about to write for all of them; a rank that drifted (other data, another library build)
    /// stops every rank, named.
    private func checkRanksHoldSameWeights() throws {
        guard group.size > 1 else { return }
        let mine = context.roleStores.map { $0.role + " " + parameterHash($0.store) }.joined(separator: "\n")
        let all = try group.allgather(Array(mine.utf8)).map { String(decoding: $0, as: UTF8.self) }
        if let r = all.firstIndex(where: { $0 != all[0] }) {
            let theirs = all[r].split(separator: "\n"), ours = all[0].split(separator: "\n")
            let differing = zip(ours, theirs).filter { $0 != $1 }.map { "\($0.0.prefix(while: { $0 != " " })): rank 0 \($0.0.split(separator: " ").last?.prefix(12) ?? ""), rank \(r) \($0.1.split(separator: " ").last?.prefix(12) ?? "")" }
            throw DistributedError.ranksDiverged(rank: r, size: group.size, globalStep: globalStep, detail: differing.joined(separator: "; "))
        }
    }

    private func apply(_ event: StageEvent, _ stage: any Stage) throws {
        let next = try transition(state, event)
        let index = stageIndex
        if next != state {
            observer(.stateChanged(index: index, kind: curriculum.stages[index].kind, from: state, to: next))
        }
        state = next
        var record = context.stageRecords[index]
        record.state = next.name
        if case .failed(let reason) = next { record.failureReason = reason }
        context.stageRecords[index] = record
    }

    private func log(_ index: Int, _ metrics: [String: Double]) {
        var series = history[index] ?? [:]
        let rows = series["global_step"]?.count ?? 0
        for (k, _) in metrics where series[k] == nil { series[k] = [Double](repeating: .nan, count: rows) }
        for k in series.keys where k != "global_step" { series[k]!.append(metrics[k] ?? .nan) }
        series["global_step", default: []].append(Double(globalStep))
        history[index] = series
    }

    /// Writes `step-<global step>.h5` with everything the run needs to continue, then prunes old files.
    @discardableResult
    private func checkpoint(_ stage: any Stage) throws -> String {
        let progress = stage.progress()
        var record = context.stageRecords[stageIndex]
        record.step = progress.step
        record.data = progress.data
        record.controllers = progress.controllers
        record.controllers["progress"] = ["total_steps": Double(stage.totalSteps)]
        context.stageRecords[stageIndex] = record
        // in memory: the records above are all a checkpoint leaves behind
        guard context.writesFiles else { return "" }
        let contents = CheckpointContents(
            curriculum: curriculum.text,
            models: context.roleStores.map { ModelSnapshot(role: $0.role, configJSON: $0.configJSON, store: $0.store) },
            optimizers: context.optimizers.map { OptimizerSnapshot(role: $0.role, optimizer: $0.optimizer) },
            run: RunRecord(stageIndex: stageIndex, globalStep: globalStep, rngState: context.rng.stateBytes,
                           validationMetric: lastValidation, rowsDroppedForLength: context.data.droppedForLength),
            stages: context.stageRecords, tokenizer: context.tokenizer as? Tokenizer,
            tokenizerJSON: context.tokenizerJSON, chatTemplate: context.chatTemplate,
            promptTemplate: context.tokenizerJSON == nil ? nil : context.codec.template.description, metrics: history, artifacts: context.artifacts,
            resolvedCurriculum: curriculum.resolvedDescription)
        let path = directory.file(step: globalStep)
        try checkRanksHoldSameWeights()
        guard group.isWriter else { return path }
        savesDone += 1
        do {
            try CheckpointWriter.save(contents, to: path, beforeRename: faults.duringSave(savesDone, globalStep: globalStep))
        } catch CheckpointError.io(_, let reason) {
            // a full disk or a size limit: the run stops, the newest checkpoint on disk is whole (writes are atomic)
            let previous: String?
            do { previous = try directory.files().last?.path } catch { previous = nil }
            throw RunError.checkpointNotWritten(path: path, reason: reason, previous: previous, directory: runDirectory)
        }
        faults.afterSave(globalStep: globalStep)
        observer(.checkpointWritten(path: path, globalStep: globalStep))
        _ = try directory.prune(keepLast: curriculum.run.keepCheckpoints, keepBest: true, lowerIsBetter: true)
        return path
    }
}

/// Crash points for the resume tests and the soak script, from `TRACEDISTILL_FAULT` (comma-separated):
/// `kill-after-step:N` (SIGKILL right after global step N, before any checkpoint of it; a process that starts past N:
/// after its first step),
/// `kill-in-save:N` (during the N-th checkpoint save of this process, with the temporary file written),
/// `kill-in-save-at-step:N` (during the first save at global step N or later, temporary file written, not renamed),
/// `kill-after-save-at-step:N` (right after the first save at global step N or later is renamed, before old files are pruned),
/// `kill-after-stage:I` (right after stage I's end checkpoint),
/// `stall-after-step:N` (after global step N the process waits, holding the run folder's lock, until it is killed),
/// `perturb-after-step:N` (after global step N the student's first parameter grows by 0.001 in this process only: a
/// rank that drifts, for the mpirun tests).
/// Unset in normal use.
struct FaultInjection {
    var afterStepN: Int?
    var inSaveN: Int?
    var inSaveAtStep: Int?
    var afterSaveAtStep: Int?
    var afterStageI: Int?
    var stallAfterStep: Int?
    var perturbAfterStep: Int?

    init(environment: [String: String]) {
        for part in (environment["TRACEDISTILL_FAULT"] ?? "").split(separator: ",") {
            let kv = part.split(separator: ":")
            guard kv.count == 2, let n = Int(kv[1]) else { continue }
            switch kv[0] {
            case "kill-after-step": afterStepN = n
            case "kill-in-save": inSaveN = n
            case "kill-in-save-at-step": inSaveAtStep = n
            case "kill-after-save-at-step": afterSaveAtStep = n
            case "kill-after-stage": afterStageI = n
            case "stall-after-step": stallAfterStep = n
            case "perturb-after-step": perturbAfterStep = n
            default: break
            }
        }
    }

    func afterStep(_ step: Int) {
        if afterStepN.map({ step >= $0 }) == true { kill(getpid(), SIGKILL) }
        if step == stallAfterStep { while true { sleep(60) } }
    }
    func afterStage(_ index: Int) { if index == afterStageI { kill(getpid(), SIGKILL) } }
    func duringSave(_ n: Int, globalStep: Int) -> (() -> Void)? {
        n == inSaveN || inSaveAtStep.map { globalStep >= $0 } == true ? { kill(getpid(), SIGKILL) } : nil
    }
    func afterSave(globalStep: Int) { if afterSaveAtStep.map({ globalStep >= $0 }) == true { kill(getpid(), SIGKILL) } }
}
