import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing

// A training step runs its batch as two halves at once on replicas of the trained models; these tests check
// that the halves add up to the whole batch: the loss and the gradient a step reports equal those of the
// whole batch computed here in one piece, with the loss written out from its definition.

@Suite("training step in halves", .serialized)
struct TrainingStepTests {
    /// 11 traces (of the 16 generated, those that fit in 128 tokens) in one batch: halves of 6 and 5 rows with
    /// different target counts, so weighting the halves equally (or by the wrong unit) is visibly wrong.
    static let curriculum = """
        name: halves
        seed: 1
        data: {domains: [addition], train_size: 16, validation_size: 4, max_length: 128}
        teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
        student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
        stages:
          - kind: feature-align
            steps: 1
            batch_size: 11
            data: reference
            temperature: 2
            alpha: 0.3
            label_smoothing: 0.1
            output_weight: 0.7
            hidden_weight: 2
            attention_weight: 5
            feature_gradient_scale: 3
            gradient_clip: 1000
            eval_every: 0
        """

    @Test("feature-align's step loss and gradient norm equal the whole batch's, each term averaged over its own unit")
    func halvesAddUp() throws {
        let c = try Curriculum(text: Self.curriculum)
        try withRunFolder("halves") { dir in
            var stepMetrics: [String: Double] = [:]
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir, observer: { event in
                if case .stepFinished(_, _, _, _, _, let metrics) = event { stepMetrics = metrics }
            })
            let context = runner.context
            let traces = context.data.referenceTokens
            try #require(traces.count == 11, "the batch must hold every trace once")
            let batch = TraceBatch(traces)
            let shares = batch.halves
            #expect(shares.map(\.batch) == [6, 5] && shares.map(\.targetCount).reduce(0, +) == batch.targetCount)
            #expect(Set(shares.map { Double($0.targetCount) / Double($0.batch) }).count == 2, "halves should differ in targets per row")

            // the stage's projection, as it builds it (seed + 0x9203 + stage index)
            var rng = RandomGenerator(seed: c.seed &+ 0x9203)
            let projection = HiddenProjection(layerMap: HiddenProjection.uniformLayerMap(studentLayers: 1, teacherLayers: 2),
                                              studentWidth: 16, teacherWidth: 32, rng: &rng)
            let student = context.student, teacher = context.teacher
            let t = withNoGrad { teacher.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: [.hiddenStates, .attentions]) }
            let s = student.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: [.hiddenStates, .attentions])
            let kd = distillationLoss(student: s.logits, teacher: t.logits, temperature: 2, rowMask: batch.rowMask)
            let ce = crossEntropy(s.logits, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex, labelSmoothing: 0.1)
            let hidden = projection.loss(studentHidden: s.hiddenStates, teacherHidden: t.hiddenStates)
            let attention = attentionMapLoss(student: s.attentions[0], teacher: t.attentions[1])
            let output = add(scale(kd, 0.3), scale(ce, 0.7))
            let loss = add(scale(output, 0.7), scale(add(scale(hidden, 2), scale(attention, 5)), 3))
            student.parameters.zeroGradients()
            loss.backward()
            let norm = (pow(student.parameters.gradientNorm(), 2) + pow(projection.parameters.gradientNorm(), 2)).squareRoot()
            student.parameters.zeroGradients()

            #expect(try runner.run() == .completed)
            func close(_ key: String, _ expected: Float) {
                let got = stepMetrics[key] ?? .nan
                #expect(abs(got - Double(expected)) <= 2e-5 * max(1, abs(Double(expected))), "\(key): step \(got), whole batch \(expected)")
            }
            close("loss", loss.item)
            close("kd", kd.item)
            close("ce", ce.item)
            close("output", output.item)
            close("hidden_mse", hidden.item)
            close("attention_mse", attention.item)
            close("grad_norm", norm)
        }
    }

    @Test("TraceBatch.rows keeps the batch's padded length; halves split 6 + 5 and 1 row stays whole")
    func batchRows() throws {
        let c = try Curriculum(text: Self.curriculum)
        try withRunFolder("rows") { dir in
            let traces = try CurriculumRunner(curriculum: c, runDirectory: dir).context.data.referenceTokens
            let batch = TraceBatch(traces)
            let tail = batch.rows(6..<11)
            #expect(tail.length == batch.length && tail.batch == 5)
            #expect(tail.tokens == Array(batch.tokens[(6 * batch.length)...]))
            #expect(tail.targets == Array(batch.targets[(6 * batch.length)...]))
            #expect(tail.targetCount == tail.rowMask.filter { $0 }.count)
            #expect(batch.halves.map(\.batch) == [6, 5])
            let one = TraceBatch([traces[0]])
            #expect(one.halves.count == 1 && one.halves[0].tokens == one.tokens)
        }
    }
}
