import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing

// temperature-search tunes T for the loss of the distillation stage after it: a trial trains with that stage's
// divergence and label smoothing (and its clip and schedule). Here the trial's first-step loss (before any update,
// on a batch of every reference trace) equals the next stage's loss written out from its definition at the
// trial's T, and differs from the forward-KL, unsmoothed loss the search used before.

@Suite("temperature search tied to the next stage", .serialized)
struct TemperatureSearchTieTests {
    static let curriculum = """
        name: tie
        seed: 3
        data: {domains: [addition], train_size: 16, validation_size: 4, max_length: 128}
        teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
        student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
        stages:
          - kind: temperature-search
            trials: 1
            steps_per_trial: 1
            batch_size: 11
            alpha: 0.6
            min_temperature: 1.5
            max_temperature: 4
            data: reference
          - kind: output-distill
            steps: 1
            batch_size: 11
            data: reference
            divergence: jsd
            jsd_beta: 0.3
            label_smoothing: 0.2
            gradient_clip: 0.5
            eval_every: 0
        """

    @Test("a trial's loss is the next stage's loss (its divergence and label smoothing) at the trial's T on the same batch")
    func trialLossIsNextStageLoss() throws {
        let c = try Curriculum(text: Self.curriculum)
        try withRunFolder("tie") { dir in
            var trial: [String: Double] = [:]
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir, observer: { event in
                if case .stepFinished(0, _, _, _, _, let metrics) = event { trial = metrics }
            })
            let context = runner.context
            let traces = context.data.referenceTokens
            try #require(traces.count == 11, "the trial's batch must hold every reference trace once")
            let batch = TraceBatch(traces)
            // both models as the search finds them (the run changes the student afterwards)
            let (teacher, student) = withNoGrad {
                (context.teacher.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits,
                 context.student.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits)
            }
            #expect(try runner.run() == .completed)
            let t = Float(try #require(trial["trial_temperature"]))
            #expect(t >= 1.5 && t <= 4)
            let got = try #require(trial["trial_first_loss"])

            // alpha T^2 JSD_beta(teacher_T || student_T) + (1 - alpha) CE with label smoothing 0.2, alpha the search's 0.6
            func loss(_ divergence: Divergence, smoothing: Float) -> Double {
                withNoGrad {
                    let kd = distillationLoss(student: student, teacher: teacher, temperature: t, divergence: divergence, rowMask: batch.rowMask)
                    let ce = crossEntropy(student, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex, labelSmoothing: smoothing)
                    return Double(add(scale(kd, 0.6), scale(ce, 0.4)).item)
                }
            }
            let next = loss(.jsd(beta: 0.3), smoothing: 0.2)
            #expect(abs(got - next) <= 2e-5 * max(1, abs(next)), "trial \(got), the next stage's loss at T = \(t): \(next)")
            let old = loss(.forwardKL, smoothing: 0)
            #expect(abs(old - next) > 1e-3, "the test must tell the next stage's loss from forward KL without smoothing (\(old) vs \(next))")
        }
    }
    @Test("without a distillation stage after it, a trial trains with an output-distill stage's defaults (forward KL, no smoothing)")
    func trialWithoutNextStage() throws {
        let text = Self.curriculum.components(separatedBy: "\n  - kind: output-distill")[0]
        #expect(!text.contains("output-distill"))
        let c = try Curriculum(text: text)
        try withRunFolder("tie-alone") { dir in
            var trial: [String: Double] = [:]
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir, observer: { event in
                if case .stepFinished(0, _, _, _, _, let metrics) = event { trial = metrics }
            })
            let context = runner.context
            let batch = TraceBatch(context.data.referenceTokens)
            let (teacher, student) = withNoGrad {
                (context.teacher.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits,
                 context.student.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits)
            }
            #expect(try runner.run() == .completed)
            let t = Float(try #require(trial["trial_temperature"]))
            let got = try #require(trial["trial_first_loss"])
            let expected = withNoGrad {
                let kd = distillationLoss(student: student, teacher: teacher, temperature: t, rowMask: batch.rowMask)
                let ce = crossEntropy(student, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex)
                return Double(add(scale(kd, 0.6), scale(ce, 0.4)).item)
            }
            #expect(abs(got - expected) <= 2e-5 * max(1, abs(expected)), "trial \(got), forward KL without smoothing at T = \(t): \(expected)")
        }
    }
}
