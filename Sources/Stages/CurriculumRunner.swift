import Checkpoint
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
    /// A stage completed; `checkpoint` is its kept end-of-stage file.
    case stageFinished(index: Int, kind: String, checkpoint: String)
}

/// How a call to `run()` ended.
public enum RunOutcome: Equatable {
    /// Every stage completed.
    case completed
    /// A stop was requested (SIGINT/SIGTERM); a checkpoint was written after the current step.
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
    /// Polled after every unit of work: a non-nil signal number stops the run after a checkpoint.
    public var stopRequested: () -> Int32? = { nil }

    private(set) var globalStep = 0
    private var stageIndex = 0
    private var history: [Int: [String: [Double]]] = [:]
    private var lastValidation: Double?
    private var current: (any Stage)?
    private var state: StageState = .pending
    private var savesDone = 0
    private let faults = FaultInjection(environment: ProcessInfo.processInfo.environment)
    private var directory: CheckpointDirectory { CheckpointDirectory(path: runDirectory) }

    /// A fresh run of `curriculum` into `runDirectory` (which must not hold checkpoints yet).
    public init(curriculum: Curriculum, runDirectory: String, registry: StageRegistry = .standard,
                logger: Logger = Logger(label: "tracedistill.run"), observer: @escaping (RunEvent) -> Void = { _ in }) throws {
        if !(try CheckpointDirectory(path: runDirectory).files()).isEmpty { throw RunError.alreadyStarted(directory: runDirectory) }
        self.curriculum = curriculum
        self.runDirectory = runDirectory
        self.registry = registry
        self.observer = observer
        // A run that cannot start (data that does not load, a folder it cannot write) leaves nothing it made: the
        // folders it created, or in a folder that was there, the files it added; never what existed before.
        let createdRoot = Self.topmostMissingFolder(of: runDirectory)
        let existingNames = createdRoot == nil ? Set(try Self.names(in: runDirectory)) : []
        do {
            do {
                try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            } catch {
                throw RunError.cannotWrite(path: runDirectory, reason: WriteFailure.diagnose(path: runDirectory, target: .folder, error: error,
                                                                                             createsFolders: true).reason)
            }
            context = try RunContext(curriculum: curriculum, runDirectory: runDirectory, logger: logger)
            context.stageRecords = curriculum.stages.map { StageRecord(kind: $0.kind, state: StageState.pending.name) }
            context.artifacts[Self.baseArtifact] = Array(curriculum.baseDirectory.utf8)
            let curriculumCopy = runDirectory + "/curriculum.yaml"
            do { try Data(curriculum.text.utf8).write(to: URL(fileURLWithPath: curriculumCopy)) } catch {
                throw RunError.cannotWrite(path: curriculumCopy, reason: WriteFailure.diagnose(path: curriculumCopy, target: .file, error: error).reason)
            }
        } catch {
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
    public init(resuming runDirectory: String, registry: StageRegistry = .standard,
                logger: Logger = Logger(label: "tracedistill.run"), observer: @escaping (RunEvent) -> Void = { _ in }) throws {
        let (found, skipped) = try CheckpointDirectory(path: runDirectory).latestValid()
        guard let path = found else { throw RunError.noCheckpoint(directory: runDirectory, skipped: skipped.map(\.description)) }
        let reader = try CheckpointReader(path: path)
        let artifacts = try reader.artifacts()
        let base = artifacts[Self.baseArtifact].map { String(decoding: $0, as: UTF8.self) } ?? runDirectory
        curriculum = try Curriculum(text: reader.curriculum, file: runDirectory + "/curriculum.yaml", baseDirectory: base, registry: registry)
        self.runDirectory = runDirectory
        self.registry = registry
        self.observer = observer
        context = try RunContext(curriculum: curriculum, runDirectory: runDirectory, logger: logger)
        let run = try reader.run()
        let records = try reader.stages()
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
        try reader.load(role: "student", into: context.student.parameters)

        let record = records[stageIndex]
        guard let restored = StageState(name: record.state, reason: record.failureReason) else {
            throw CheckpointError.corrupt(file: path, object: "/run/stages/\(stageIndex)", reason: "unknown state '\(record.state)'")
        }
        if case .failed(let reason) = restored {
            throw RunError.failedStage(index: stageIndex, kind: record.kind, reason: reason)
        }
        if restored == .completed {
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
    }

    static let baseArtifact = "curriculum_base_directory"

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
                    if let signal = stopRequested() {
                        return .interrupted(signal: signal, checkpoint: try checkpoint(stage))
                    }
                    let metrics = try stage.advance(context)
                    globalStep += 1
                    try apply(.stepDone, stage)
                    log(index, metrics)
                    observer(.stepFinished(index: index, kind: kind, step: stage.step, totalSteps: stage.totalSteps,
                                           globalStep: globalStep, metrics: metrics))
                    faults.afterStep(globalStep)
                    if stage.isEvaluationDue {
                        try apply(.evalDue, stage)
                        try checkpoint(stage)
                    } else if globalStep % curriculum.run.checkpointEvery == 0 {
                        try checkpoint(stage)
                    }
                }
                try stage.finish(context)
                let path = try checkpoint(stage)
                let kept = runDirectory + "/stage-\(index)-\(kind).h5"
                unlink(kept)
                guard link(path, kept) == 0 else {
                    throw CheckpointError.io(file: kept, reason: "cannot link \(path): \(String(cString: strerror(errno)))")
                }
                observer(.stageFinished(index: index, kind: kind, checkpoint: kept))
                faults.afterStage(index)
            } catch let error where !(error is RunError) && !state.isFinal && !(error is CheckpointError) {
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
        let contents = CheckpointContents(
            curriculum: curriculum.text,
            models: context.roleStores.map { ModelSnapshot(role: $0.role, configJSON: $0.configJSON, store: $0.store) },
            optimizers: context.optimizers.map { OptimizerSnapshot(role: $0.role, optimizer: $0.optimizer) },
            run: RunRecord(stageIndex: stageIndex, globalStep: globalStep, rngState: context.rng.stateBytes,
                           validationMetric: lastValidation, rowsDroppedForLength: context.data.droppedForLength),
            stages: context.stageRecords, tokenizer: context.tokenizer as? Tokenizer,
            tokenizerJSON: context.tokenizerJSON, chatTemplate: context.chatTemplate,
            promptTemplate: context.tokenizerJSON == nil ? nil : context.codec.template.description, metrics: history, artifacts: context.artifacts)
        let path = directory.file(step: globalStep)
        savesDone += 1
        try CheckpointWriter.save(contents, to: path, beforeRename: faults.duringSave(savesDone))
        observer(.checkpointWritten(path: path, globalStep: globalStep))
        _ = try directory.prune(keepLast: curriculum.run.keepCheckpoints, keepBest: true, lowerIsBetter: true)
        return path
    }
}

/// Crash points for the resume tests, from `TRACEDISTILL_FAULT` (comma-separated):
/// `kill-after-step:N` (SIGKILL right after global step N, before any checkpoint of it),
/// `kill-in-save:N` (during the N-th checkpoint save of this process, with the temporary file written),
/// `kill-after-stage:I` (right after stage I's end checkpoint). Unset in normal use.
struct FaultInjection {
    var afterStepN: Int?
    var inSaveN: Int?
    var afterStageI: Int?

    init(environment: [String: String]) {
        for part in (environment["TRACEDISTILL_FAULT"] ?? "").split(separator: ",") {
            let kv = part.split(separator: ":")
            guard kv.count == 2, let n = Int(kv[1]) else { continue }
            switch kv[0] {
            case "kill-after-step": afterStepN = n
            case "kill-in-save": inSaveN = n
            case "kill-after-stage": afterStageI = n
            default: break
            }
        }
    }

    func afterStep(_ step: Int) { if step == afterStepN { kill(getpid(), SIGKILL) } }
    func afterStage(_ index: Int) { if index == afterStageI { kill(getpid(), SIGKILL) } }
    func duringSave(_ n: Int) -> (() -> Void)? { n == inSaveN ? { kill(getpid(), SIGKILL) } : nil }
}
