import FileErrors
import Checkpoint
import Data
import Foundation
import Model
import ModelIO
import StrictConfig

/// Run-wide settings: how often to checkpoint, how many files to keep and how many shards a training step's batch is
/// cut into (`run:` in a curriculum).
public struct RunSettings: Sendable, Equatable, Codable {
    /// Write a checkpoint after every this many global steps (and at every stage state change).
    public var checkpointEvery = 50
    /// Periodic checkpoints kept besides the best one (stage-end checkpoints are always kept).
    public var keepCheckpoints = 3
    /// Print a progress line every this many steps when the output is not a terminal.
    public var logEvery = 10
    /// The fixed shards every training step cuts its batch into (the training stages, the temperature-search trials
    /// and the PPO update): their gradients are added in one fixed order, so the shard count, not the thread or
    /// process count, decides the bits. Under mpirun each of N ranks computes gradientShards / N of them, so it must
    /// be a multiple of N; a run gives the same weights at every N that divides it. Changing it changes the bits.
    public var gradientShards = 2

    /// Every field, each with its default.
    public init(checkpointEvery: Int = 50, keepCheckpoints: Int = 3, logEvery: Int = 10, gradientShards: Int = 2) {
        self.checkpointEvery = checkpointEvery
        self.keepCheckpoints = keepCheckpoints
        self.logEvery = logEvery
        self.gradientShards = gradientShards
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case checkpointEvery = "checkpoint_every", keepCheckpoints = "keep_checkpoints", logEvery = "log_every"
        case gradientShards = "gradient_shards"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: CodingKeys.allCases.map(\.rawValue))
        checkpointEvery = try c.int("checkpoint_every", min: 1) ?? checkpointEvery
        keepCheckpoints = try c.int("keep_checkpoints", min: 1) ?? keepCheckpoints
        logEvery = try c.int("log_every", min: 1) ?? logEvery
        gradientShards = try c.int("gradient_shards", min: 1) ?? gradientShards
    }
}

/// Where the questions and reference traces come from.
public struct DataSettings: Sendable, Equatable {
    /// Built-in domains to generate (all eight by default).
    public var domains: [TaskDomain] = TaskDomain.allCases
    /// Each domain's relative share of the generated rows, in `domains` order (`data.domain_shares`, a mapping from
    /// domain to a positive number); nil: even shares.
    public var domainShares: [Double]?
    /// Generator difficulty, 1 (easiest) to 5.
    public var difficulty = 1
    /// Generated training rows.
    public var trainSize = 512
    /// How many training rows (the first ones) keep their reference trace on the student's side: the
    /// distillation stages' `reference` data, `baseline-ce` and PPO's fallback trace read only these. The
    /// other rows are questions with final answers only, which `teacher-traces` can work out (the setting of
    /// R1's distillation: many questions with answers, few worked solutions). `teacher-sft` stands for a
    /// teacher trained elsewhere and reads every row. nil: every row.
    public var referenceTraces: Int?
    /// Generated validation rows (a split disjoint from training by question hash).
    public var validationSize = 64
    /// Generator seed; the curriculum seed when absent.
    public var seed: UInt64?
    /// Longest trace in tokens (prompt + completion + bos/eos); longer rows are left out and counted.
    public var maxLength = 256
    /// A JSONL trace file to train on instead of generated rows (must hold only train-split questions).
    public var trainFile: String?
    /// A JSONL trace file to validate on instead of generated rows.
    public var validationFile: String?
    /// How questions are put to the models (`plain`, `chatml`, `llama3`, or text with `{question}`); nil: the
    /// teacher's family (its chat template), plain for the built-in models.
    public var promptTemplate: PromptTemplate?
    public init() {}

    /// Every field, each with its default.
    public init(domains: [TaskDomain] = TaskDomain.allCases, difficulty: Int = 1, trainSize: Int = 512, referenceTraces: Int? = nil,
                validationSize: Int = 64, seed: UInt64? = nil, maxLength: Int = 256, trainFile: String? = nil, validationFile: String? = nil,
                promptTemplate: PromptTemplate? = nil) {
        self.domains = domains
        self.difficulty = difficulty
        self.trainSize = trainSize
        self.referenceTraces = referenceTraces
        self.validationSize = validationSize
        self.seed = seed
        self.maxLength = maxLength
        self.trainFile = trainFile
        self.validationFile = validationFile
        self.promptTemplate = promptTemplate
    }
}

/// The teacher's architecture (Hugging Face config keys) and how the student shrinks it.
public struct ModelSettings: Sendable, Equatable {
    /// The teacher; by default the PyTorch anchor's teacher shape (4 layers x 256, 8 heads, MLP 688).
    public var teacher = TransformerConfig.preset(.teacher, vocab: Tokenizer.math.vocabularySize)
    /// A trained teacher to start from (teacher-sft is then skipped).
    public var teacherCheckpoint: String?
    /// A real teacher brought in from outside (`teacher: {hf: DIR}` or `{gguf: FILE}`), with its tokenizer;
    /// `teacher` then holds its architecture. teacher-sft fine-tunes it when listed.
    public var teacherImport: TeacherImport?
    /// The student: the teacher shrunk (by default the anchor's student: 2 layers x 128, 4 heads, MLP 344).
    public var shrink = ShrinkSpec(layers: 2, hiddenSize: 128, heads: 4, kvHeads: 4, intermediateSize: 344)
    /// A student to start from (role `student` of a checkpoint, e.g. a stage-end file of an earlier run);
    /// its architecture then comes from the file instead of `shrink`.
    public var studentCheckpoint: String?
    /// The architecture stored with `studentCheckpoint` (read when the curriculum is).
    public var studentCheckpointConfig: TransformerConfig?
    /// The student's dropout on hidden states during training.
    public var studentDropout: Float = 0
    /// A student cut from the teacher (`student: {from_teacher: ...}`): these teacher layers, its embeddings,
    /// final norm and head; nil: the student is `shrink`'s (or `studentCheckpoint`'s), freshly initialised.
    public var studentFromTeacher: TeacherLayerChoice?
    public init() {}

    /// Every field, each with its default (`teacher`: the anchor's teacher shape; `shrink`: its student).
    public init(teacher: TransformerConfig? = nil, teacherCheckpoint: String? = nil, teacherImport: TeacherImport? = nil, shrink: ShrinkSpec? = nil,
                studentCheckpoint: String? = nil, studentCheckpointConfig: TransformerConfig? = nil, studentDropout: Float = 0,
                studentFromTeacher: TeacherLayerChoice? = nil) {
        if let teacher { self.teacher = teacher }
        self.teacherCheckpoint = teacherCheckpoint
        self.teacherImport = teacherImport
        if let shrink { self.shrink = shrink }
        self.studentCheckpoint = studentCheckpoint
        self.studentCheckpointConfig = studentCheckpointConfig
        self.studentDropout = studentDropout
        self.studentFromTeacher = studentFromTeacher
    }
}

/// A teacher read from a Hugging Face folder or a GGUF file.
public enum TeacherImport: Sendable, Equatable, CustomStringConvertible {
    case huggingFace(String)
    case gguf(String)

    /// The folder or file.
    public var path: String {
        switch self { case .huggingFace(let p), .gguf(let p): return p }
    }

    public var description: String {
        switch self {
        case .huggingFace(let p): return "hf: \(p)"
        case .gguf(let p): return "gguf: \(p)"
        }
    }
}

/// Which of the teacher's layers a student cut from it keeps.
public enum TeacherLayerChoice: Sendable, Equatable {
    /// These layers, in this order (`layers: [0, 4, 8]`).
    case layers([Int])
    /// Layers 0, K, 2K, ... (`every: K`).
    case every(Int)

    /// The layer list for a teacher of `count` layers.
    public func resolve(teacherLayers count: Int) -> [Int] {
        switch self {
        case .layers(let list): return list
        case .every(let k): return Transformer.everyKthLayer(k, of: count)
        }
    }
}

/// One stage as written: its kind, its index and its (still unread) settings.
public struct StageEntry {
    public let index: Int
    public let kind: String
    /// The stage's parsed, validated configuration.
    public let configuration: any StageConfiguration

    /// Stage `index` of kind `kind` with these settings.
    public init(index: Int, kind: String, configuration: any StageConfiguration) {
        self.index = index
        self.kind = kind
        self.configuration = configuration
    }
}

/// A whole run described by one YAML file: models, data and the stages in order.
///
///     name: smoke
///     seed: 7
///     run: {checkpoint_every: 20}
///     data: {domains: [addition, subtraction], train_size: 128}
///     teacher: {hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 172}
///     student: {layers: 1, hidden_size: 32, heads: 2, intermediate_size: 86}
///     stages:
///       - kind: teacher-sft
///         steps: 100
///
/// Defaults live in the settings structs; the file holds overrides. Every key is checked: an unknown key, a wrong
/// type, a bad value or an impossible combination is a `CurriculumError` naming the key path and line.
public struct Curriculum {
    /// The file it was read from ("<text>" when given as text).
    public let file: String
    /// The file's text, stored in every checkpoint (for a curriculum built in Swift: its resolved text).
    public private(set) var text: String
    /// Folder that relative paths in the file are resolved against.
    public let baseDirectory: String
    public var name = "curriculum"
    public var seed: UInt64 = 0
    public var run = RunSettings()
    public var data = DataSettings()
    public var models = ModelSettings()
    public var stages: [StageEntry] = []

    /// A curriculum built in Swift, without YAML. Every value and combination is checked as in a file (by reading
    /// the resolved text back: an error names the key path as a file would write it), and `text` is that resolved
    /// text, so checkpoints, `distill resume` and `distill run` on it work as for a file.
    /// - Parameters:
    ///   - stages: each stage's kind (as `kind:` names it) and its settings.
    public init(name: String = "curriculum", seed: UInt64 = 0, run: RunSettings = RunSettings(), data: DataSettings = DataSettings(),
                models: ModelSettings = ModelSettings(), stages: [(kind: String, configuration: any StageConfiguration)],
                baseDirectory: String = FileManager.default.currentDirectoryPath, registry: StageRegistry = .standard) throws {
        file = "<swift>"
        text = ""
        self.baseDirectory = baseDirectory
        self.name = name
        self.seed = seed
        self.run = run
        self.data = data
        self.models = models
        self.stages = stages.enumerated().map { StageEntry(index: $0.offset, kind: $0.element.kind, configuration: $0.element.configuration) }
        for entry in self.stages where registry[entry.kind] == nil {
            throw CurriculumError(file: file, keyPath: "stages[\(entry.index)].kind", line: nil,
                                  message: "unknown stage kind '\(entry.kind)'; known kinds: \(registry.names.joined(separator: ", "))")
        }
        text = resolvedDescription
        _ = try Curriculum(text: text, file: file, baseDirectory: baseDirectory, registry: registry)
    }

    /// Reads and validates a curriculum file.
    public static func load(path: String, registry: StageRegistry = .standard) throws -> Curriculum {
        let data: Foundation.Data
        do { data = try ReadFailure.contents(of: path) } catch let e as ReadFailure {
            throw CurriculumError(file: path, keyPath: "", line: nil,
                                  message: "cannot read the file: \(e.reason)" + (e.cause == .missing ? " (curricula/smoke.yaml is a starting point)" : ""))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CurriculumError(file: path, keyPath: "", line: nil, message: "the file is not UTF-8 text")
        }
        let base = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        return try Curriculum(text: text, file: path, baseDirectory: base, registry: registry)
    }

    /// Parses and validates curriculum text.
    public init(text: String, file: String = "<text>", baseDirectory: String = FileManager.default.currentDirectoryPath,
                registry: StageRegistry = .standard) throws {
        self.file = file
        self.text = text
        self.baseDirectory = baseDirectory
        let root = try ConfigNode.parse(yaml: text, file: file)
        try root.requireMapping()
        let settings = try root.decode(CurriculumSettings.self, keys: CurriculumSettings.keys,
                                       userInfo: [CurriculumSettings.baseDirectoryKey: baseDirectory])
        name = settings.name
        seed = settings.seed
        run = settings.run
        data = settings.data
        models = settings.models

        let list = try root.child("stages")
        let entries = try list.elements()
        if entries.isEmpty { throw list.error("list at least one stage under `stages:`") }
        var parsed: [StageEntry] = []
        for (i, e) in entries.enumerated() {
            try e.requireMapping()
            guard let kind = try e.optionalString("kind") else { throw e.error("every stage needs `kind:` (one of \(registry.names.joined(separator: ", ")))") }
            guard let stageKind = registry[kind] else {
                throw try e.child("kind").error("unknown stage kind '\(kind)'; known kinds: \(registry.names.joined(separator: ", "))")
            }
            let configuration = try stageKind.parse(e)
            try e.finish()
            parsed.append(StageEntry(index: i, kind: kind, configuration: configuration))
        }
        stages = parsed
        try root.finish()
        for entry in stages { try entry.configuration.check(in: self, index: entry.index) }
    }

    /// The student's architecture.
    public var studentConfig: TransformerConfig { models.studentConfig }
}
