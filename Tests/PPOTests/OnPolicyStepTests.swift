import Model
import PPO
import Reward
import Tensor
import TestSupport
import Testing

// The on-policy distillation step runs through the data-parallel TrainingStep (fixed shards of the batch's rows,
// each a token mean weighted by its share of the batch's tokens, summed in a fixed order, one global-norm clip).
// The reference here is one pass over the whole batch written out with the public loss, clip and optimizer: the
// sharded step must compute the same loss and the same clipped gradient.

@Suite("On-policy step")
struct OnPolicyStepTests {
    @Test("a GKD step on five rows of different lengths (shards of 3 and 2 rows) equals one pass over the whole batch: loss, norm, clipped gradient")
    func shardedStepIsTheWholeBatchStep() throws {
        var rng = RandomGenerator(seed: 11)
        let mc = ToyTask.modelConfig(vocab: ToyTask.tokenizer.vocabularySize)
        let teacher = try Transformer(config: mc, rng: &rng)
        let student = try Transformer(config: mc, rng: &rng)
        let copy = try Transformer(config: mc, rng: &rng)
        copy.parameters.copyValues(from: student.parameters)
        // a clip that bites, so the step's norm and scaling are both checked
        let config = OnPolicyDistillationConfig(objective: .gkd, beta: 0.5, lambda: 0.5, learningRate: 1e-3, maxGradNorm: 0.01)
        let codec = TraceCodec(characters: ToyTask.tokenizer)
        let distiller = try OnPolicyDistiller(student: student, teacher: teacher, codec: codec,
                                              reward: CompositeReward([WeightedReward(CountA(length: 6), weight: 1)]), config: config)
        let prompt = try codec.prompt(question: "b")
        let prompts = [[Int32]](repeating: prompt, count: 5)
        let completions = try ["ab", "a", "bbab", "b", "aab\nb"].map { try ToyTask.tokenizer.encode($0, addBOS: false, addEOS: true) }
        let m = try distiller.iterate(prompts: prompts, completions: completions)

        // the whole batch at once, by hand
        let batch = PPOBatch(prompts: prompts, completions: completions, temperature: 1)
        let teacherLogits = withNoGrad { teacher.forward(tokens: batch.inputs, batch: batch.batchSize, length: batch.length).logits }
        copy.parameters.zeroGradients()
        let out = copy.forward(tokens: batch.inputs, batch: batch.batchSize, length: batch.length)
        let loss = gkdLoss(student: out.logits, teacher: teacherLogits, mask: batch.mask, beta: 0.5)
        loss.backward()
        let norm = GradientClip.apply(to: [copy.parameters], maxNorm: 0.01)
        #expect(norm > 0.01, "the clip must bite for this test to check it (norm \(norm))")

        #expect(abs(m.loss - Double(loss.item)) <= 1e-5 * abs(Double(loss.item)) + 1e-7, "loss \(m.loss) vs \(loss.item)")
        #expect(abs(m.gradientNorm - Double(norm)) <= 1e-4 * Double(norm) + 1e-7, "gradient norm before clipping \(m.gradientNorm) vs \(norm)")
        let sharded = Array(UnsafeBufferPointer(start: student.parameters.gradients.base, count: student.parameters.count))
        let whole = Array(UnsafeBufferPointer(start: copy.parameters.gradients.base, count: copy.parameters.count))
        allClose(sharded, whole, rtol: 1e-3, atol: 1e-6, "clipped gradient")
        #expect(m.completionLength == Double(batch.tokenCount) / 5)
    }
}
