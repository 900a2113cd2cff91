import FileErrors
import Foundation
import Model
import Tensor

/// The `format` attribute every TraceDistill checkpoint carries at its root.
public let checkpointFormat = "tracedistill-checkpoint"
/// The layout version this build writes and reads.
public let checkpointFormatVersion = 1
/// This library's version, stored in every checkpoint.
public let libraryVersion = "0.1.0"

/// One model's weights under a role (student, teacher, reference, value_head, projection, ...).
public struct ModelSnapshot {
    /// Role name, the group under /models.
    public var role: String
    /// The model config as JSON (HF config.json keys for transformers; nil for heads without one).
    public var configJSON: String?
    /// The parameters (names become dataset names).
    public var store: ParameterStore
    /// Linear layers stored in int8 (a quantized model), by weight name; `store` then holds every other weight.
    public var quantized: [String: QuantizedLinear]
    /// How the int8 layers were made (scheme, activation range, calibration), shown by `distill inspect`.
    public var quantization: QuantizationRecord?

    public init(role: String, configJSON: String?, store: ParameterStore, quantized: [String: QuantizedLinear] = [:],
                quantization: QuantizationRecord? = nil) {
        self.role = role
        self.configJSON = configJSON
        self.store = store
        self.quantized = quantized
        self.quantization = quantization
    }
}

/// How a quantized role was made: stored as attributes of its group.
public struct QuantizationRecord: Sendable, Equatable {
    /// The scheme, in words, for a role quantized with `activationRange` (`dynamic`: each row's own scale at run time).
    public static func scheme(activationRange: String) -> String {
        "int8: weights symmetric per output channel; activations symmetric, "
            + (activationRange == "dynamic" ? "per row (token) at run time" : "per tensor, static (calibrated)")
    }
    /// How the activation ranges were read (`minmax` or `percentile P`).
    public var activationRange: String
    /// Training traces the ranges were calibrated on.
    public var calibrationRows: Int
    /// The keep-in-FP32 selectors asked for.
    public var keptFP32: [String]

    public init(activationRange: String, calibrationRows: Int, keptFP32: [String]) {
        self.activationRange = activationRange
        self.calibrationRows = calibrationRows
        self.keptFP32 = keptFP32
    }
}

/// Group names under a quantized role: int8 weights, their per-row scales, and the input scales ([1] each).
enum QuantizedGroups {
    static let weights = "int8", scales = "int8_scales", inputScales = "int8_input_scales"
    static let all: Set<String> = [weights, scales, inputScales]
}

/// AdamW state for one role: step count and the two moment buffers (same layout as the role's store).
public struct OptimizerSnapshot {
    public var role: String
    public var optimizer: AdamW

    public init(role: String, optimizer: AdamW) {
        self.role = role
        self.optimizer = optimizer
    }
}

/// Where a stage's data stream stands: epoch and index within the epoch.
public struct DataPosition: Codable, Sendable, Equatable {
    public var epoch: Int
    public var index: Int
    public init(epoch: Int = 0, index: Int = 0) {
        self.epoch = epoch
        self.index = index
    }
}

/// One stage's saved progress.
public struct StageRecord: Sendable, Equatable {
    /// Registered stage kind (`output-distill`, ...).
    public var kind: String
    /// State-machine state (`pending`, `running`, ...).
    public var state: String
    /// Steps done in this stage.
    public var step: Int
    /// Data position.
    public var data: DataPosition
    /// Failure reason when the state is `failed`.
    public var failureReason: String?
    /// Controller states by name (temperature, alpha, KL coefficient): each a set of named numbers.
    public var controllers: [String: [String: Double]]

    public init(kind: String, state: String, step: Int = 0, data: DataPosition = DataPosition(),
                failureReason: String? = nil, controllers: [String: [String: Double]] = [:]) {
        self.kind = kind
        self.state = state
        self.step = step
        self.data = data
        self.failureReason = failureReason
        self.controllers = controllers
    }
}

/// Run-level position: which stage, global step, the run's RNG state, the metric used to pick the best.
public struct RunRecord: Sendable, Equatable {
    public var stageIndex: Int
    public var globalStep: Int
    public var rngState: [UInt8]
    /// Validation metric of this checkpoint (lower is better), for keeping the best one.
    public var validationMetric: Double?
    /// Data rows (training and validation) left out because they were longer than the run's max_length, when known.
    public var rowsDroppedForLength: Int?

    public init(stageIndex: Int = 0, globalStep: Int = 0, rngState: [UInt8] = [], validationMetric: Double? = nil,
                rowsDroppedForLength: Int? = nil) {
        self.stageIndex = stageIndex
        self.globalStep = globalStep
        self.rngState = rngState
        self.validationMetric = validationMetric
        self.rowsDroppedForLength = rowsDroppedForLength
    }
}

/// Everything a run needs to continue exactly where it stopped.
public struct CheckpointContents {
    /// The curriculum's text as the user wrote it (attribute `curriculum`).
    public var curriculum: String
    /// The resolved configuration, every default filled in, as YAML that `distill run` reads back to the same run
    /// (attribute `curriculum_resolved`; nil: not stored, as in checkpoints written before it was).
    public var resolvedCurriculum: String?
    public var models: [ModelSnapshot]
    public var optimizers: [OptimizerSnapshot]
    public var run: RunRecord
    public var stages: [StageRecord]
    public var tokenizer: Tokenizer?
    /// A byte-level BPE tokenizer's `tokenizer.json` text (an imported teacher's), stored as UTF-8 bytes at
    /// `/tokenizer/json`; a checkpoint holds this or `tokenizer`, not both.
    public var tokenizerJSON: String?
    /// The chat template (Jinja text) that came with an imported model, stored as `/tokenizer` attribute `chat_template`.
    public var chatTemplate: String?
    /// The prompt template the models were trained with (`PromptTemplate`'s text: plain, chatml, llama3 or a text
    /// with {question}), stored with a BPE tokenizer as `/tokenizer` attribute `prompt_template`.
    public var promptTemplate: String?
    /// Per-stage metric history: stage index -> metric name -> values (one per logged step).
    public var metrics: [Int: [String: [Double]]]
    /// Named byte blobs a run produced and must get back on resume (e.g. the teacher's verified traces as
    /// JSONL), stored as uint8 datasets under `/run/artifacts`.
    public var artifacts: [String: [UInt8]]

    public init(curriculum: String = "", models: [ModelSnapshot] = [], optimizers: [OptimizerSnapshot] = [],
                run: RunRecord = RunRecord(), stages: [StageRecord] = [], tokenizer: Tokenizer? = nil,
                tokenizerJSON: String? = nil, chatTemplate: String? = nil, promptTemplate: String? = nil,
                metrics: [Int: [String: [Double]]] = [:], artifacts: [String: [UInt8]] = [:], resolvedCurriculum: String? = nil) {
        precondition(tokenizer == nil || tokenizerJSON == nil, "a checkpoint holds one tokenizer: the character symbols or a tokenizer.json")
        self.curriculum = curriculum
        self.resolvedCurriculum = resolvedCurriculum
        self.models = models
        self.optimizers = optimizers
        self.run = run
        self.stages = stages
        self.tokenizer = tokenizer
        self.tokenizerJSON = tokenizerJSON
        self.chatTemplate = chatTemplate
        self.promptTemplate = promptTemplate
        self.metrics = metrics
        self.artifacts = artifacts
    }
}

/// Stands for '/' in metric dataset names.
let metricSlashEscape = "::"

/// Hex SHA-256 of UTF-8 text.
public func sha256Hex(_ text: String) -> String { sha256Hex(Data(text.utf8)) }

/// Hex SHA-256 of bytes.
public func sha256Hex(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

/// Writes checkpoints so that the real name only ever points to a complete file.
public enum CheckpointWriter {
    /// Writes `contents` to `path`: a temporary name in the same folder, flushed, fsynced, renamed over
    /// `path`, then the folder fsynced. A crash at any point leaves either the old file or the new one.
    /// - Parameter beforeRename: fault injection for crash tests: runs when the complete temporary file is on
    ///   disk and not yet renamed.
    /// - Throws: `CheckpointError.io` naming the path, the cause in words (a directory at `path`, a file above it,
    ///   permission denied, disk full) and what to do.
    public static func save(_ contents: CheckpointContents, to path: String, beforeRename: (() -> Void)? = nil) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        func failure(_ doing: String = "", errno code: Int32? = nil, error: Error? = nil) -> CheckpointError {
            .io(file: path, reason: doing + WriteFailure.diagnose(path: path, target: .file, errno: code, error: error, createsFolders: true,
                                                                  exampleName: "step-0.h5").reason)
        }
        // A folder at `path` would only fail at the rename, after the whole file was written; a device or a pipe would be
        // replaced by it.
        if let inTheWay = WriteFailure.inTheWay(ofFileAt: path, exampleName: "step-0.h5") { throw CheckpointError.io(file: path, reason: inTheWay.reason) }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw failure("cannot create folder \(dir): ", error: error)
        }
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        do {
            try write(contents, to: tmp)  // the HDF5 file is closed when this returns
            try CheckpointSeal.seal(tmp)
            try fsyncPath(tmp, directory: false)
            beforeRename?()
            guard rename(tmp, path) == 0 else { throw failure(errno: errno) }
            try fsyncPath(dir, directory: true)
        } catch {
            // HDF5 reports no errno of its own: the last system call's errno (a failed write's, unless closing the
            // file made another call), the size the temporary file reached against the process's file-size limit,
            // and the space left on the disk tell a full disk or a size limit apart from damage.
            let code = errno
            var info = stat()
            let written = stat(tmp, &info) == 0 ? UInt64(info.st_size) : nil
            unlink(tmp)
            if let e = error as? HDF5Error {
                var cause: Int32?
                if code == EFBIG || (WriteFailure.fileSizeLimit().map { limit in written.map { $0 >= limit } ?? false } ?? false) {
                    cause = EFBIG
                } else if code == ENOSPC || code == EDQUOT || freeBytes(dir) == 0 {
                    cause = ENOSPC
                }
                let diagnosed = WriteFailure.diagnose(path: tmp, target: .file, errno: cause, createsFolders: true)
                if case .other = diagnosed.cause { throw CheckpointError.io(file: path, reason: e.description) }
                throw CheckpointError.io(file: path, reason: diagnosed.reason)
            }
            throw error
        }
    }

    /// Bytes an unprivileged process may still write on the file system holding `folder` (nil: unknown).
    static func freeBytes(_ folder: String) -> UInt64? {
        var fs = statvfs()
        guard statvfs(folder, &fs) == 0 else { return nil }
        return UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
    }

    static func fsyncPath(_ path: String, directory: Bool) throws {
        let fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.io(file: path, reason: "cannot open for fsync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw CheckpointError.io(file: path, reason: "fsync failed: " + WriteFailure.diagnose(path: path, target: directory ? .folder : .file,
                                                                                                  errno: errno).reason)
        }
    }

    private static func write(_ c: CheckpointContents, to path: String) throws {
        let f = try HDF5Object.create(path)
        try f.setAttribute("format", checkpointFormat)
        try f.setAttribute("format_version", checkpointFormatVersion)
        try f.setAttribute("created_utc", ISO8601DateFormatter().string(from: Date()))
        try f.setAttribute("library_version", libraryVersion)
        try f.setAttribute("curriculum", c.curriculum)
        try f.setAttribute("curriculum_sha256", sha256Hex(c.curriculum))
        if let resolved = c.resolvedCurriculum { try f.setAttribute("curriculum_resolved", resolved) }

        let models = try f.createGroup("models")
        for m in c.models {
            let g = try models.createGroup(m.role)
            if let cfg = m.configJSON { try g.setAttribute("config", cfg) }
            try g.setAttribute("parameter_order", m.store.names.joined(separator: "\n"))
            try writeStore(m.store.values.base, store: m.store, into: g)
            if !m.quantized.isEmpty { try writeQuantized(m, into: g) }
        }
        let optimizers = try f.createGroup("optimizer")
        for o in c.optimizers {
            let g = try optimizers.createGroup(o.role)
            try g.setAttribute("kind", "adamw")
            try g.writeDataset("step", .int64, shape: [], values: [Int64(o.optimizer.stepCount)])
            for (name, buf) in [("m", o.optimizer.m), ("v", o.optimizer.v)] {
                try writeStore(buf.base, store: o.optimizer.store, into: try g.createGroup(name))
            }
        }
        let run = try f.createGroup("run")
        try run.setAttribute("stage_index", c.run.stageIndex)
        try run.setAttribute("global_step", c.run.globalStep)
        if let m = c.run.validationMetric { try run.setAttribute("validation_metric", m) }
        if let n = c.run.rowsDroppedForLength { try run.setAttribute("rows_dropped_for_length", n) }
        try run.writeDataset("rng_state", .uint8, shape: [c.run.rngState.count], values: c.run.rngState)
        if !c.artifacts.isEmpty {
            let ag = try run.createGroup("artifacts")
            // An empty blob is left out (a zero-size chunked dataset is not allowed); reading gives it back as absent.
            for (name, bytes) in c.artifacts.sorted(by: { $0.key < $1.key }) where !bytes.isEmpty {
                try ag.writeDataset(name, .uint8, shape: [bytes.count], values: bytes)
            }
        }
        let stages = try run.createGroup("stages")
        for (i, s) in c.stages.enumerated() {
            let g = try stages.createGroup(String(i))
            try g.setAttribute("kind", s.kind)
            try g.setAttribute("state", s.state)
            try g.setAttribute("step", s.step)
            try g.setAttribute("data_epoch", s.data.epoch)
            try g.setAttribute("data_index", s.data.index)
            if let r = s.failureReason { try g.setAttribute("failure_reason", r) }
            let ctl = try g.createGroup("controllers")
            for (name, values) in s.controllers {
                let cg = try ctl.createGroup(name)
                for (k, v) in values { try cg.setAttribute(k, v) }
            }
        }
        if let t = c.tokenizer {
            let g = try f.createGroup("tokenizer")
            try g.setAttribute("kind", "characters")
            try g.writeStrings("symbols", t.symbols)
        } else if let json = c.tokenizerJSON {
            let g = try f.createGroup("tokenizer")
            try g.setAttribute("kind", "bpe")
            let bytes = Array(json.utf8)
            try g.writeDataset("json", .uint8, shape: [bytes.count], values: bytes)
            if let template = c.chatTemplate { try g.setAttribute("chat_template", template) }
            if let template = c.promptTemplate { try g.setAttribute("prompt_template", template) }
        }
        let metrics = try f.createGroup("metrics")
        for (stage, series) in c.metrics {
            let g = try metrics.createGroup(String(stage))
            // HDF5 names cannot hold '/', which metric names use for grouping ("reward/answer").
            for (name, values) in series {
                try g.writeDataset(name.replacingOccurrences(of: "/", with: metricSlashEscape), .float64, shape: [values.count], values: values)
            }
        }
        try f.flush()
    }

    /// A quantized role's int8 layers: the values, the per-row scales and the input scale of each, checksummed
    /// like every dataset, and the record of how they were made.
    private static func writeQuantized(_ m: ModelSnapshot, into g: HDF5Object) throws {
        let names = m.quantized.keys.sorted()
        try g.setAttribute("quantization", QuantizationRecord.scheme(activationRange: m.quantization?.activationRange ?? "unknown"))
        try g.setAttribute("quantized_order", names.joined(separator: "\n"))
        if let r = m.quantization {
            try g.setAttribute("quantization_activation_range", r.activationRange)
            try g.setAttribute("quantization_calibration_rows", r.calibrationRows)
            try g.setAttribute("quantization_kept_fp32", r.keptFP32.joined(separator: ","))
        }
        let weights = try g.createGroup(QuantizedGroups.weights), scales = try g.createGroup(QuantizedGroups.scales)
        let inputs = try g.createGroup(QuantizedGroups.inputScales)
        for name in names {
            let q = m.quantized[name]!
            try weights.writeDataset(name, .int8, shape: [q.weight.rows, q.weight.columns], values: q.weight.values)
            try scales.writeDataset(name, .float32, shape: [q.weight.rows], values: q.weight.scales)
            try inputs.writeDataset(name, .float32, shape: [1], values: [q.inputScale])
        }
    }

    /// One float32 dataset per named view of `store`, read from `base` (values or a moment buffer).
    private static func writeStore(_ base: UnsafeMutablePointer<Float>, store: ParameterStore, into g: HDF5Object) throws {
        try g.writeChecksummed(store.views.map { .init(name: $0.name, shape: $0.shape, data: UnsafeRawPointer(base + $0.offset)) }, .float32)
    }
}
