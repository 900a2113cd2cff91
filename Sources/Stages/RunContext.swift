import Checkpoint
import Data
import Distributed
import Foundation
import Logging
import Model
import ModelIO
import Tensor

/// A model's weights as the run saves them: a checkpoint role, its architecture (when it is a transformer)
/// and its parameter store.
public struct RoleStore {
    public let role: String
    public let configJSON: String?
    public let store: ParameterStore
}

/// Everything the stages of one run share: the curriculum, the data, the teacher and the student, extra
/// weights and optimizers that the current stage registered, the run's random generator and the artifacts
/// (such as the teacher's traces) that later stages read. The runner saves all of it in every checkpoint
/// and puts it back on resume.
public final class RunContext {
    public let curriculum: Curriculum
    /// The run folder; `RunContext.inMemoryLabel` in an in-memory run (see `writesFiles`).
    public let runDirectory: String
    /// False in an in-memory run: no checkpoint, no stage file, nothing in any folder.
    public let writesFiles: Bool
    /// How questions and traces become ids for these models (tokenizer and prompt template).
    public let codec: TraceCodec
    /// The tokenizer the models read.
    public var tokenizer: any TextTokenizer { codec.tokenizer }
    /// The chat template that came with an imported teacher (saved with every checkpoint).
    public let chatTemplate: String?
    /// The BPE tokenizer's tokenizer.json text, made once (saved with every checkpoint); nil for the math tokenizer.
    public let tokenizerJSON: String?
    public let data: RunData
    /// The run's generator: dropout, sampling and search draws come from it, in order.
    public var rng: RandomGenerator
    public let teacher: Transformer
    /// The student as it stands. A stage that changes its shape (`prune`) replaces it with `replaceStudent`; stages
    /// built later read the new one, and checkpoints store its current architecture, which resume rebuilds.
    public private(set) var student: Transformer
    /// The teacher layer each student layer was copied from, when the student was cut from the teacher.
    public let studentSourceLayers: [Int]?
    /// Weights saved in checkpoints besides teacher and student (projection, value head, best copy, ...).
    public private(set) var extraStores: [RoleStore] = []
    /// Optimizers of the current stage, by role.
    public var optimizers: [(role: String, optimizer: AdamW)] = []
    /// Named blobs that outlive a stage (teacher traces as JSONL, ...).
    public var artifacts: [String: [UInt8]] = [:]
    /// Every stage's record, in curriculum order (kept current by the runner).
    public var stageRecords: [StageRecord] = []
    /// The run's logger.
    public var logger: Logger
    /// The processes of the job (one outside mpirun); rank 0 writes the run's files, the runner sets it.
    public internal(set) var group: any Collective = LocalProcess()

    /// Builds the teacher and student from the curriculum (random initialisation from seeds derived from the
    /// curriculum seed, or the teacher from its checkpoint) and generates or loads the data.
    public convenience init(curriculum: Curriculum, runDirectory: String, logger: Logger) throws {
        let models = try CurriculumModels(curriculum: curriculum)
        try self.init(curriculum: curriculum, models: models, runDirectory: runDirectory, logger: logger)
    }

    /// A run of `curriculum` with a teacher and a student the caller already holds (its `teacher:`/`student:` settings
    /// are not read). `codec` says how text becomes ids (default: the math tokenizer with the curriculum's prompt
    /// template). `runDirectory` nil: an in-memory run that writes no file (stages that must write a file refuse).
    /// - Throws: `RunModelError` when the models' vocabularies differ from each other or from the tokenizer's.
    public convenience init(curriculum: Curriculum, teacher: Transformer, student: Transformer, codec: TraceCodec? = nil,
                            runDirectory: String?, logger: Logger) throws {
        let models = try CurriculumModels(teacher: teacher, student: student,
                                          codec: codec ?? CurriculumModels.mathCodec(curriculum: curriculum, key: "data.prompt_template"))
        try self.init(curriculum: curriculum, models: models, runDirectory: runDirectory, logger: logger)
    }

    /// The run's context over `models`; the data is generated or loaded here.
    init(curriculum: Curriculum, models: CurriculumModels, runDirectory: String?, logger: Logger) throws {
        self.curriculum = curriculum
        self.runDirectory = runDirectory ?? RunContext.inMemoryLabel
        writesFiles = runDirectory != nil
        self.logger = logger
        rng = RandomGenerator(seed: curriculum.seed)
        teacher = models.teacher
        codec = models.codec
        chatTemplate = models.chatTemplate
        tokenizerJSON = (models.codec.tokenizer as? BPETokenizer)?.tokenizerJSON()
        data = try RunData(curriculum: curriculum, codec: models.codec)
        // rows longer than max_length are left out; say how many, so a too-small max_length is never silent
        logger.notice("data: \(data.train.count) training and \(data.validation.count) validation rows; \(data.droppedForLength) longer than max_length \(curriculum.data.maxLength) tokens left out")
        student = models.student
        studentSourceLayers = models.studentSourceLayers
    }

    /// What `runDirectory` says in an in-memory run (in messages only: nothing is written there).
    public static let inMemoryLabel = "(in memory)"

    /// Puts `model` in the student's place (a physically smaller student made by pruning, or one rebuilt in the
    /// architecture a checkpoint stored). What held the old student's parameter store goes with it: the optimizers
    /// are cleared (the stage that replaces the student sets its own), and a stage built later sees only `model`.
    public func replaceStudent(_ model: Transformer) {
        student = model
        optimizers = []
    }

    /// Adds weights to save under `role` (replacing a store of that role).
    public func register(role: String, store: ParameterStore, configJSON: String? = nil) {
        unregister(role: role)
        extraStores.append(RoleStore(role: role, configJSON: configJSON, store: store))
    }

    /// Registers, under `role`, a store shaped like `model`'s parameters (values unset) for a copy of its weights
    /// (a stage's best so far); it is saved with every checkpoint and loaded back on resume.
    public func registerCopy(of model: Transformer, role: String) {
        register(role: role, store: ParameterStore(model.parameters.views.map { ($0.name, $0.shape, $0.decay) }),
                 configJSON: model.config.jsonString())
    }

    /// Stops saving `role`.
    public func unregister(role: String) { extraStores.removeAll { $0.role == role } }

    /// The extra weights registered under `role`.
    public func store(role: String) -> ParameterStore? { extraStores.first { $0.role == role }?.store }

    /// Every role a checkpoint holds: teacher, student, then the extra stores.
    public var roleStores: [RoleStore] {
        [RoleStore(role: "teacher", configJSON: teacher.config.jsonString(), store: teacher.parameters),
         RoleStore(role: "student", configJSON: student.config.jsonString(), store: student.parameters)] + extraStores
    }

    /// Sets the current stage's optimizers (replacing the previous stage's).
    public func setOptimizers(_ list: [(role: String, optimizer: AdamW)]) { optimizers = list }

    /// The verified teacher traces the `teacher-traces` stage produced (empty before it ran).
    public func teacherTraces() throws -> [TraceRecord] {
        guard let bytes = artifacts[RunContext.teacherTracesArtifact], !bytes.isEmpty else { return [] }
        let decoder = JSONDecoder()
        return try String(decoding: bytes, as: UTF8.self).split(separator: "\n").enumerated().map { i, line in
            do { return try decoder.decode(TraceRecord.self, from: Foundation.Data(line.utf8)) } catch {
                throw CheckpointError.corrupt(file: runDirectory, object: "/run/artifacts/\(RunContext.teacherTracesArtifact)",
                                              reason: "line \(i + 1) is not a trace row: \(error)")
            }
        }
    }

    /// The artifact name of the teacher's traces.
    public static let teacherTracesArtifact = "teacher_traces.jsonl"

    /// The temperature a completed `temperature-search` stage chose, if any (the latest one wins).
    public var searchedTemperature: Float? {
        for record in stageRecords.reversed() where record.kind == TemperatureSearchStage.kindName && record.state == "completed" {
            if let t = record.controllers["search"]?["chosen_temperature"] { return Float(t) }
        }
        return nil
    }
}

extension RunContext {
    /// An int8 checkpoint (`distill quantize`) is for inference: its int8 layers have no gradient and no float
    /// weights to cut or align, so a run refuses it and names the FP32 file to use instead.
    static func refuseQuantized(_ model: Transformer, path: String, key: String, file: String) throws {
        guard !model.quantizedLinears.isEmpty else { return }
        throw CurriculumError(file: file, keyPath: key, line: nil,
                              message: "\(path) holds an int8 model (made by distill quantize), which is for inference only; "
                                  + "give the FP32 checkpoint it was quantized from")
    }
}
