import Foundation
import Model
import PPO
import Tensor
import TestSupport
import Testing

// The update runs each minibatch as two halves on two cores; the gradients it then steps on must be those
// of the minibatch's loss computed in one pass.

@Suite("PPO minibatch halves")
struct MinibatchSplitTests {
    /// A scored batch of rows with different prompt and completion lengths (so the halves hold different token
    /// counts and unweighted halves would give a wrong mean), rewards on the last tokens, advantages and returns.
    private func scoredBatch(_ trainer: PPOTrainer) -> PPOBatch {
        var batch = PPOBatch(prompts: [[1, 5], [1], [1, 4, 5]], completions: [[3, 4, 4, 2], [4], [3, 3]], temperature: 0.9)
        trainer.score(&batch)
        var rewards = [Float](repeating: 0, count: batch.mask.count)
        for (row, value) in [Float(1), -0.5, 0.25].enumerated() {
            rewards[batch.index(row: row, completionToken: batch.completionLengths[row] - 1)] = value
        }
        batch.rewards = rewards
        trainer.computeAdvantages(&batch)
        return batch
    }

    private func gradients(_ store: ParameterStore) -> [Float] {
        Array(UnsafeBufferPointer(start: store.gradients.base, count: store.count))
    }

    @Test("two halves weighted by their tokens give the gradients and loss of one pass over the whole minibatch")
    func halvesEqualOnePass() throws {
        var config = ToyTask.config(.gae)
        config.entropyCoefficient = 0.01
        config.valueClip = 0.2
        let trainer = try ToyTask.trainer(config: config, seed: 71)
        let batch = scoredBatch(trainer)
        // move the policy and value head off the behaviour weights, so ratios differ from 1 and some clip
        var rng = RandomGenerator(seed: 72)
        for store in [trainer.policy.parameters, trainer.valueHead.parameters] {
            for i in 0..<store.count { store.values.base[i] += 0.05 * rng.nextNormal() }
        }

        let split = try trainer.minibatchGradients(batch, rows: [0, 1, 2])
        let splitPolicy = gradients(trainer.policy.parameters), splitHead = gradients(trainer.valueHead.parameters)

        // the same loss over all three rows in one pass, from the public pieces
        trainer.policy.parameters.zeroGradients()
        trainer.valueHead.parameters.zeroGradients()
        let out = trainer.policy.forward(tokens: batch.inputs, batch: batch.batchSize, length: batch.length)
        let logp = selectedLogProbs(out.logits, targets: batch.targets, temperature: batch.temperature, mask: batch.mask)
        let pg = clippedPolicyLoss(logProbs: logp, oldLogProbs: batch.oldLogProbs, advantages: batch.advantages,
                                   mask: batch.mask, clipEpsilon: config.clipEpsilon, dualClip: config.dualClip)
        let entropy = maskedMean(tokenEntropy(out.logits, temperature: batch.temperature, mask: batch.mask), mask: batch.mask)
        let value = clippedValueLoss(values: trainer.valueHead(out.finalHidden), oldValues: batch.values, returns: batch.returns,
                                     mask: batch.mask, clip: config.valueClip)
        let loss = add(sub(pg.loss, scale(entropy, config.entropyCoefficient)), scale(value.loss, config.valueCoefficient))
        loss.backward()

        #expect(abs(split.loss - Double(loss.item)) < 1e-5)
        #expect(abs(split.policyLoss - Double(pg.loss.item)) < 1e-5)
        #expect(abs(split.entropy - Double(entropy.item)) < 1e-5)
        #expect(abs(split.valueLoss - Double(value.loss.item)) < 1e-5)
        #expect(abs(split.clipFraction - pg.clipFraction) < 1e-9 && abs(split.approximateKL - pg.approximateKL) < 1e-6)
        #expect(pg.clipFraction > 0, "the test should exercise the clip")
        allClose(splitPolicy, gradients(trainer.policy.parameters), rtol: 1e-4, atol: 1e-6, "policy gradients")
        allClose(splitHead, gradients(trainer.valueHead.parameters), rtol: 1e-4, atol: 1e-6, "value head gradients")
        #expect(splitPolicy.contains { $0 != 0 } && splitHead.contains { $0 != 0 })
    }

    @Test("a minibatch's gradients replace the previous ones and are the same bits every time")
    func repeatable() throws {
        let trainer = try ToyTask.trainer(config: ToyTask.config(.gae), seed: 73)
        let batch = scoredBatch(trainer)
        let first = try trainer.minibatchGradients(batch, rows: [2, 0])
        let firstGradients = gradients(trainer.policy.parameters)
        _ = try trainer.minibatchGradients(batch, rows: [1])
        let again = try trainer.minibatchGradients(batch, rows: [2, 0])
        #expect(first == again)
        #expect(firstGradients.map(\.bitPattern) == gradients(trainer.policy.parameters).map(\.bitPattern))
    }
}
