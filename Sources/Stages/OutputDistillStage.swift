import Foundation
import Model
import PPO
import Tensor

/// `output-distill`: the student learns from the teacher's temperature-softened distributions and the hard
/// labels: alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE with label smoothing (Hinton et al.
/// 2015), alpha and T on schedules. Validation watches KL(teacher || student) at T = 1 on the validation traces.
enum OutputDistillStage {
    static let kindName = "output-distill"
    static let kind = StageKind(name: kindName, parse: { try OutputDistillConfiguration($0) }) { c, context, index in
        try OutputDistillStage.make(c, context: context, index: index)
    }

    /// The stage training the student with `c`'s loss; `teacher` (default: the run's) is the model distilled from,
    /// `examples` (default: the stage's data) the rows it trains on.
    static func make(_ c: OutputDistillConfiguration, context: RunContext, index: Int, teacher: Transformer? = nil,
                     examples given: [TokenizedTrace]? = nil) throws -> TrainingStage<OutputDistillObjective> {
        let objective = try OutputDistillObjective(c, context: context, index: index, teacher: teacher, examples: given)
        return try TrainingStage(settings: c.training, index: index, context: context, objective: objective, modelRole: "student",
                                 examples: objective.examples, validationExamples: context.data.validationTokens)
    }
}

/// The loss of `output-distill` (and the output part of `feature-align`): alpha * T^2 * D(teacher_T || student_T)
/// + (1 - alpha) * CE with label smoothing, T and alpha at the step's point of their schedules.
class OutputDistillObjective: StageObjective {
    let distill: OutputDistillConfiguration
    var settings: TrainingSettings { distill.training }
    let temperatureSchedule: TemperatureSchedule
    let batchesPerEpoch: Int
    /// The model distilled from: the run's teacher, or another the caller gives (`prune`: the student as the stage
    /// began).
    let teacherModel: Transformer
    /// The teacher-logits cache read with `targets: topk` (nil: the teacher runs every step).
    let topK: TopKTargetsSource?
    /// The rows the stage trains on.
    let examples: [TokenizedTrace]
    let students: ReplicaSet<Transformer>
    let context: RunContext
    /// The step being computed (set by `prepare`): T and alpha follow it.
    private(set) var step = 0
    var model: Transformer { students.module }
    var trained: [(role: String, store: ParameterStore)] { [("student", model.parameters)] }

    /// `student` (default: the run's) is the model trained.
    init(_ c: OutputDistillConfiguration, context: RunContext, index: Int, student: Transformer? = nil, teacher: Transformer? = nil,
         examples given: [TokenizedTrace]? = nil) throws {
        distill = c
        self.context = context
        teacherModel = teacher ?? context.teacher
        students = ReplicaSet(student ?? context.student) { $0.replica() }
        temperatureSchedule = c.temperature.schedule(searched: context.searchedTemperature)
        let examples = try given ?? c.resolvedData(in: context.curriculum, index: index).examples(context, index: index)
        self.examples = examples
        batchesPerEpoch = max(1, examples.count / max(1, c.training.batchSize))
        // the cache holds the run's teacher on the stage's own rows: a caller distilling from another model (prune's
        // fine-tuning from the unpruned student) or on rows of its own cannot use it
        if c.targets == .topk && (teacher != nil || given != nil) {
            throw context.curriculum.stageError(index, "targets", "targets: topk reads the run teacher's cache, but this stage distills "
                + "from another model or other rows (prune fine-tunes from the unpruned student); remove targets or use targets: full")
        }
        topK = c.targets == .topk ? try TopKTargetsSource(c, context: context, index: index, examples: examples) : nil
    }

    func replicaStores(_ replica: Int) -> [ParameterStore] { [students[replica].parameters] }

    /// The temperature at the current step (the schedule counts epochs or steps, as configured).
    var temperature: Float {
        let position = distill.temperature.unit == .epoch ? step / batchesPerEpoch : step
        return temperatureSchedule.temperature(at: position)
    }

    var alpha: Float { distill.alpha(at: step, of: settings.steps) }

    /// alpha * T^2 KL + (1 - alpha) CE on logits already computed.
    func outputLoss(student: Tensor, teacher: Tensor, batch: TraceBatch) -> ShardLoss {
        let t = temperature, a = alpha
        let kd = distillationLoss(student: student, teacher: teacher, temperature: t, divergence: distill.divergence, rowMask: batch.rowMask)
        let ce = crossEntropy(student, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex, labelSmoothing: settings.labelSmoothing)
        let loss = add(scale(kd, a), scale(ce, 1 - a))
        return ShardLoss(perTarget: loss, metrics: ["kd": (Double(kd.toArray()[0]), .target), "ce": (Double(ce.toArray()[0]), .target),
                                                    "alpha": (Double(a), .target), "temperature": (Double(t), .target)])
    }

    func prepare(rows: [Int], next: [Int]?, step: Int) throws {
        self.step = step
        try topK?.load(rows: rows, next: next)
    }

    // The teacher runs without gradients, reading its weights only, so all shards use it at once.
    func loss(_ shard: inout TraceShard, replica: Int) throws -> ShardLoss {
        let batch = shard.batch, student = students[replica]
        if let topK {
            let targets = topK.targets(shard: shard.index, of: shard.count, batch: batch)
            if let fused = fusedTopK(batch, student: student, targets: targets, dropout: &shard.dropout) { return fused.loss }
            let logits = student.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, dropout: &shard.dropout).logits
            return outputLoss(student: logits, targets: targets, batch: batch)
        }
        if let fused = fusedForward(batch, student: student, dropout: &shard.dropout) { return fused.loss }
        let teacher = withNoGrad { teacherModel.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits }
        let logits = student.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, dropout: &shard.dropout).logits
        return outputLoss(student: logits, teacher: teacher, batch: batch)
    }

    func validationMetrics(_ batch: TraceBatch, context: RunContext) throws -> [String: Double] {
        let teacher = teacherModel.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits
        let student = model.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits
        return outputValidationMetrics(student: student, teacher: teacher, batch: batch)
    }

    /// The validation values of the output terms from logits already computed: KL(teacher || student) at T = 1
    /// (the early-stopping loss), CE and token accuracy.
    func outputValidationMetrics(student: Tensor, teacher: Tensor, batch: TraceBatch) -> [String: Double] {
        let kl = Double(distillationLoss(student: student, teacher: teacher, temperature: 1, rowMask: batch.rowMask).toArray()[0])
        let ce = Double(crossEntropy(student, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex).toArray()[0])
        return ["validation/loss": kl, "validation/kl": kl, "validation/ce": ce,
                "validation/token_accuracy": tokenAccuracy(student, batch)]
    }
}
