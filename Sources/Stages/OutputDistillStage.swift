import Foundation
import Model
import PPO
import Tensor

/// `output-distill`: the student learns from the teacher's temperature-softened distributions and the hard
/// labels: alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE with label smoothing (Hinton et al.
/// 2015), alpha and T on schedules. Validation watches KL(teacher || student) at T = 1 on the validation traces.
class OutputDistillStage: TrainingStage {
    static let kindName = "output-distill"
    static let kind = StageKind(name: kindName, parse: { try OutputDistillConfiguration($0) }) { c, context, index in
        try OutputDistillStage(c, context: context, index: index)
    }

    let distill: OutputDistillConfiguration
    let temperatureSchedule: TemperatureSchedule
    let batchesPerEpoch: Int
    /// The model distilled from: the run's teacher, or another the caller gives (`prune`: the student as the stage
    /// began).
    let teacherModel: Transformer
    /// The teacher-logits cache read with `targets: topk` (nil: the teacher runs every step).
    let topK: TopKTargetsSource?

    init(_ c: OutputDistillConfiguration, context: RunContext, index: Int,
         extraTrained: [(role: String, store: ParameterStore)] = [], teacher: Transformer? = nil,
         examples given: [TokenizedTrace]? = nil) throws {
        distill = c
        teacherModel = teacher ?? context.teacher
        temperatureSchedule = c.temperature.schedule(searched: context.searchedTemperature)
        let examples = try given ?? c.resolvedData(in: context.curriculum, index: index).examples(context, index: index)
        batchesPerEpoch = max(1, examples.count / max(1, c.training.batchSize))
        // the cache holds the run's teacher on the stage's own rows: a caller distilling from another model (prune's
        // fine-tuning from the unpruned student) or on rows of its own cannot use it
        if c.targets == .topk && (teacher != nil || given != nil) {
            throw context.curriculum.stageError(index, "targets", "targets: topk reads the run teacher's cache, but this stage distills "
                + "from another model or other rows (prune fine-tunes from the unpruned student); remove targets or use targets: full")
        }
        topK = c.targets == .topk ? try TopKTargetsSource(c, context: context, index: index, examples: examples) : nil
        try super.init(settings: c.training, index: index, context: context, model: context.student, modelRole: "student",
                       extraTrained: extraTrained, examples: examples, validationExamples: context.data.validationTokens)
    }

    /// The temperature at the current step (the schedule counts epochs or steps, as configured).
    var temperature: Float {
        let position = distill.temperature.unit == .epoch ? step / batchesPerEpoch : step
        return temperatureSchedule.temperature(at: position)
    }

    var alpha: Float { distill.alpha(at: step, of: settings.steps) }

    /// alpha * T^2 KL + (1 - alpha) CE on logits already computed.
    func outputLoss(student: Tensor, teacher: Tensor, batch: TraceBatch) -> StepLoss {
        let t = temperature, a = alpha
        let kd = distillationLoss(student: student, teacher: teacher, temperature: t, divergence: distill.divergence, rowMask: batch.rowMask)
        let ce = crossEntropy(student, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex, labelSmoothing: settings.labelSmoothing)
        let loss = add(scale(kd, a), scale(ce, 1 - a))
        return StepLoss(perTarget: loss, metrics: ["kd": (Double(kd.toArray()[0]), .target), "ce": (Double(ce.toArray()[0]), .target),
                                                   "alpha": (Double(a), .target), "temperature": (Double(t), .target)])
    }

    override func prepare(rows: [Int]) throws {
        guard let topK else { return }
        // the cursor already stands after `rows`: a copy draws the next step's rows, which are read meanwhile
        var peek = cursor
        try topK.load(rows: rows, next: step + 1 < settings.steps ? peek.next(settings.batchSize) : nil)
    }

    // The teacher runs without gradients, reading its weights only, so both shares use it at once.
    override func stepLoss(_ batch: TraceBatch, share: Int, dropout: inout RandomGenerator?, context: RunContext) throws -> StepLoss {
        if let topK {
            let student = model(share: share).forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, dropout: &dropout).logits
            return outputLoss(student: student, targets: topK.targets(share: share, of: batch), batch: batch)
        }
        if let fused = fusedForward(batch, share: share, dropout: &dropout, context: context) { return fused.loss }
        let teacher = withNoGrad { teacherModel.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits }
        let student = model(share: share).forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, dropout: &dropout).logits
        return outputLoss(student: student, teacher: teacher, batch: batch)
    }

    override func validationMetrics(_ batch: TraceBatch, context: RunContext) throws -> [String: Double] {
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
