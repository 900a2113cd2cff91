import Model
import Tensor

// The output terms through the fused, chunked output layer (`fusedOutputLoss`): the teacher's and the
// student's (B, T, V) logits and their gradient are never whole, which at a 49K vocabulary is most of a
// step's memory and a good part of its time; with `targets: topk` the same holds for the student's logits. The unfused
// `outputLoss` stays for int8 heads and small vocabularies.
extension OutputDistillObjective {
    /// The loss terms of this step: alpha T^2 D(teacher_T || student_T) + (1 - alpha) CE with label smoothing.
    var outputTerms: OutputLossTerms {
        let a = alpha
        return OutputLossTerms(distillationWeight: a, crossEntropyWeight: 1 - a, temperature: temperature,
                               divergence: distill.divergence, labelSmoothing: settings.labelSmoothing,
                               ignoreIndex: TraceBatch.ignoreIndex)
    }

    /// Both forward passes (teacher without gradients) up to the final norm and the output terms through the
    /// fused output layer; nil when either model's head cannot take it (int8, or observed for calibration) or the
    /// vocabulary is below `OutputChunking.minimumVocabulary`.
    func fusedForward(_ batch: TraceBatch, student studentModel: Transformer, options: ForwardOptions = [],
                      dropout: inout RandomGenerator?) -> (loss: ShardLoss, student: HiddenOutput, teacher: HiddenOutput)? {
        let teacherModel = self.teacherModel
        guard OutputChunking.applies(vocabulary: studentModel.config.vocabSize), let studentWeight = studentModel.fusedOutputWeight,
              let teacherWeight = teacherModel.fusedOutputWeight else { return nil }
        let teacher = withNoGrad { teacherModel.forwardHidden(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options) }
        let student = studentModel.forwardHidden(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options, dropout: &dropout)
        let terms = outputTerms
        let f = fusedOutputLoss(hidden: student.finalHidden, weight: studentWeight, teacherHidden: teacher.finalHidden,
                                teacherWeight: teacherWeight, targets: batch.targets, rowMask: batch.rowMask, terms: terms)
        return (Self.shardLoss(f, terms), student, teacher)
    }

    /// The student's forward pass up to the final norm and the output terms against the cached top-k `targets`
    /// through the fused output layer, the counterpart of `outputLoss(student:targets:batch:)`; nil when the student's
    /// head cannot take it or the vocabulary is below `OutputChunking.minimumVocabulary`.
    func fusedTopK(_ batch: TraceBatch, student studentModel: Transformer, targets: TopKTargets, options: ForwardOptions = [],
                   dropout: inout RandomGenerator?) -> (loss: ShardLoss, student: HiddenOutput)? {
        guard OutputChunking.applies(vocabulary: studentModel.config.vocabSize), let weight = studentModel.fusedOutputWeight else { return nil }
        let student = studentModel.forwardHidden(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options, dropout: &dropout)
        let terms = outputTerms
        let f = fusedOutputLoss(hidden: student.finalHidden, weight: weight, targets: batch.targets, topK: targets, terms: terms)
        return (Self.shardLoss(f, terms), student)
    }

    /// The step's loss and its metrics from the fused layer's result.
    private static func shardLoss(_ f: FusedOutputLoss, _ terms: OutputLossTerms) -> ShardLoss {
        ShardLoss(perTarget: f.loss, metrics: ["kd": (Double(f.distillation), .target), "ce": (Double(f.crossEntropy), .target),
                                               "alpha": (Double(terms.distillationWeight), .target),
                                               "temperature": (Double(terms.temperature), .target)])
    }
}
