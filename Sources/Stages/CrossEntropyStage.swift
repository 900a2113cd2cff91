import Model
import StrictConfig
import Tensor

/// Settings of `teacher-sft`: the shared training keys only.
public struct TeacherSFTConfiguration: StageConfiguration, Equatable {
    public var training: TrainingSettings

    /// The settings; by default 300 steps at learning rate 3e-3.
    public init(training: TrainingSettings = TeacherSFTConfiguration.defaultTraining) {
        self.training = training
    }

    /// The defaults of a teacher-sft stage.
    public static let defaultTraining = TrainingSettings(steps: 300, learningRate: 3e-3)

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: TrainingSettings.keys)
    }
}

extension TeacherSFTConfiguration: Codable {
    /// Reads the training keys strictly (its `kind` is the curriculum's).
    public init(from decoder: Decoder) throws {
        _ = try StrictContainer(decoder, known: ["kind"] + TrainingSettings.keys)
        training = try TrainingSettings(from: decoder, defaults: Self.defaultTraining)
    }

    public func encode(to encoder: Encoder) throws { try training.encode(to: encoder) }
}

/// `teacher-sft`: trains the teacher with cross-entropy on the reference traces (prompt masked), every
/// training row's (it stands for a teacher trained elsewhere, so `data.reference_traces` does not limit it).
/// When the curriculum names a teacher checkpoint the stage has nothing to do and completes at once.
enum TeacherSFTStage {
    static let kindName = "teacher-sft"
    static let kind = StageKind(name: kindName, parse: TeacherSFTConfiguration.init) { c, context, index in
        var settings = c.training
        if context.curriculum.models.teacherCheckpoint != nil { settings.steps = 0 }
        let objective = CrossEntropyObjective(model: context.teacher, modelRole: "teacher", settings: settings, context: context)
        return try TrainingStage(settings: settings, index: index, context: context, objective: objective,
                                 modelRole: "teacher", examples: context.data.trainTokens,
                                 validationExamples: context.data.validationTokens)
    }
}

/// Cross-entropy on the reference traces (prompt masked, label smoothing), the objective of `teacher-sft` and
/// `baseline-ce`.
final class CrossEntropyObjective: StageObjective {
    let models: ReplicaSet<Transformer>
    let modelRole: String
    let settings: TrainingSettings
    let context: RunContext
    var model: Transformer { models.module }
    var trained: [(role: String, store: ParameterStore)] { [(modelRole, model.parameters)] }

    init(model: Transformer, modelRole: String, settings: TrainingSettings, context: RunContext) {
        models = ReplicaSet(model) { $0.replica() }
        self.modelRole = modelRole
        self.settings = settings
        self.context = context
    }

    func replicaStores(_ replica: Int) -> [ParameterStore] { [models[replica].parameters] }

    func loss(_ shard: inout TraceShard, replica: Int) throws -> ShardLoss {
        let m = models[replica], batch = shard.batch
        // the fused, chunked output layer at large vocabularies: the (B, T, V) logits are never whole
        if OutputChunking.applies(vocabulary: m.config.vocabSize), let weight = m.fusedOutputWeight {
            let hidden = m.forwardHidden(tokens: batch.tokens, batch: batch.batch, length: batch.length, dropout: &shard.dropout).finalHidden
            let f = fusedOutputLoss(hidden: hidden, weight: weight, targets: batch.targets,
                                    terms: .crossEntropy(labelSmoothing: settings.labelSmoothing, ignoreIndex: TraceBatch.ignoreIndex))
            return ShardLoss(perTarget: f.loss, metrics: ["ce": (Double(f.crossEntropy), .target)])
        }
        let logits = m.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, dropout: &shard.dropout).logits
        let ce = crossEntropy(logits, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex, labelSmoothing: settings.labelSmoothing)
        return ShardLoss(perTarget: ce, metrics: ["ce": (Double(ce.toArray()[0]), .target)])
    }

    func finish(_ context: RunContext) throws {
        // A student cut from the teacher takes the trained teacher's layers, not the ones it was cut from at the start.
        if modelRole == "teacher", settings.steps > 0, let layers = context.studentSourceLayers {
            context.student.copyLayers(from: context.teacher, layers: layers)
            context.logger.info("student: copied teacher layers \(layers) again after teacher-sft")
        }
    }

    func validationMetrics(_ batch: TraceBatch, context: RunContext) throws -> [String: Double] {
        let logits = model.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits
        let ce = Double(crossEntropy(logits, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex).toArray()[0])
        return ["validation/loss": ce, "validation/ce": ce, "validation/token_accuracy": tokenAccuracy(logits, batch)]
    }
}

/// `baseline-ce`: a student-sized model, initialised like the student, trained with cross-entropy only on the
/// reference traces the student's side has (`data.reference_traces`; saved as role `baseline`): the
/// comparison that shows what distillation bought. By default it gets as many steps (of the same batch size)
/// as the student's distillation stages together.
public struct BaselineCEConfiguration: StageConfiguration, Equatable {
    public var training: TrainingSettings
    /// True when `steps` was left out: the stage then matches the distillation stages' step count.
    public var matchDistillationSteps: Bool

    /// The settings; `matchDistillationSteps` replaces `training.steps` by the distillation stages' steps.
    public init(training: TrainingSettings = TrainingSettings(steps: 300), matchDistillationSteps: Bool = true) {
        self.training = training
        self.matchDistillationSteps = matchDistillationSteps
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: TrainingSettings.keys)
    }

    /// The steps of the output-distill and feature-align stages of `curriculum`.
    func distillationSteps(in curriculum: Curriculum) -> Int {
        curriculum.stages.reduce(0) { sum, entry in
            if let c = entry.configuration as? OutputDistillConfiguration { return sum + c.training.steps }
            if let c = entry.configuration as? FeatureAlignConfiguration { return sum + c.output.training.steps }
            return sum
        }
    }
}

extension BaselineCEConfiguration: Codable {
    /// Reads the training keys strictly; without `steps` the stage matches the distillation stages' steps.
    public init(from decoder: Decoder) throws {
        let c = try StrictContainer(decoder, known: ["kind"] + TrainingSettings.keys)
        self.init(training: try TrainingSettings(from: decoder, defaults: TrainingSettings(steps: 300)), matchDistillationSteps: !c.contains("steps"))
    }

    /// The training keys; `steps` is left out when the stage matches the distillation stages (the resolved
    /// configuration prints the count it runs instead).
    public func encode(to encoder: Encoder) throws { try training.encode(to: encoder) }
}

enum BaselineCEStage {
    static let kindName = "baseline-ce"
    static let kind = StageKind(name: kindName, parse: BaselineCEConfiguration.init) { c, context, index in
        var settings = c.training
        if c.matchDistillationSteps { settings.steps = max(1, c.distillationSteps(in: context.curriculum)) }
        var rng = RandomGenerator(seed: context.curriculum.seed &+ 0x57D_E27)  // the student's initial weights
        let baseline = try Transformer(config: context.student.config, rng: &rng)
        baseline.dropoutProbability = context.student.dropoutProbability
        // registered as a role, so it is saved with every later checkpoint and the report can evaluate it
        context.register(role: "baseline", store: baseline.parameters, configJSON: baseline.config.jsonString())
        let objective = CrossEntropyObjective(model: baseline, modelRole: "baseline", settings: settings, context: context)
        return try TrainingStage(settings: settings, index: index, context: context, objective: objective, modelRole: "baseline",
                                 examples: context.data.referenceTokens, validationExamples: context.data.validationTokens)
    }
}

/// Share of target positions where the arg-max of the logits is the target.
func tokenAccuracy(_ logits: Tensor, _ batch: TraceBatch) -> Double {
    let v = logits.lastDim
    var right = 0
    let p = logits.ptr
    for (row, target) in batch.targets.enumerated() where target != TraceBatch.ignoreIndex {
        var best = 0
        for j in 1..<v where p[row * v + j] > p[row * v + best] { best = j }
        if best == Int(target) { right += 1 }
    }
    return Double(right) / Double(max(batch.targetCount, 1))
}
