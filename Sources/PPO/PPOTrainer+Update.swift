import Foundation
import Model
import Tensor

// The PPO update: epochs over shuffled minibatches of a scored rollout.

/// The rows of a batch gathered for one minibatch, trimmed to the longest of them. Per-token arrays (M, L).
struct Minibatch {
    let rows: Int, length: Int
    var inputs: [Int32] = [], targets: [Int32] = []
    var mask: [Float] = [], oldLogProbs: [Float] = [], advantages: [Float] = [], returns: [Float] = [], values: [Float] = []

    init(_ b: PPOBatch, rows picked: [Int]) {
        rows = picked.count
        // positions past a row's last target are padding for every row of this minibatch
        length = picked.map { b.promptLengths[$0] + b.completionLengths[$0] - 1 }.max()!
        let n = rows * length
        inputs.reserveCapacity(n); targets.reserveCapacity(n); mask.reserveCapacity(n)
        oldLogProbs.reserveCapacity(n); advantages.reserveCapacity(n); returns.reserveCapacity(n); values.reserveCapacity(n)
        for r in picked {
            let lo = r * b.length, hi = lo + length
            inputs += b.inputs[lo..<hi]; targets += b.targets[lo..<hi]; mask += b.mask[lo..<hi]
            oldLogProbs += b.oldLogProbs[lo..<hi]; advantages += b.advantages[lo..<hi]
            returns += b.returns[lo..<hi]; values += b.values[lo..<hi]
        }
    }
}

/// One minibatch's loss and its parts, each a mean over the minibatch's completion tokens.
public struct PPOMinibatchLoss: Sendable, Equatable {
    /// The loss whose gradients `minibatchGradients` computed.
    public let loss: Double
    /// Clipped surrogate.
    public let policyLoss: Double
    /// Mean token entropy at the rollout temperature.
    public let entropy: Double
    /// Clipped value loss (0 without a critic).
    public let valueLoss: Double
    /// Fraction of tokens whose policy gradient the clip zeroed.
    public let clipFraction: Double
    /// Fraction of tokens whose value gradient the value clip zeroed (0 without a critic).
    public let valueClipFraction: Double
    /// Approximate KL(old || new), k3 on the ratio.
    public let approximateKL: Double
}

extension PPOTrainer {
    /// Runs `epochs` passes over `batch` in `minibatches` shuffled minibatches (shuffled with `rng`): clipped
    /// surrogate + value coefficient x clipped value loss - entropy coefficient x entropy, one AdamW step per
    /// minibatch after global-norm clipping over the policy and value head together. Stops the epoch loop,
    /// before stepping, at the first minibatch whose approximate KL exceeds `approxKLLimit`.
    /// - Precondition: the batch has been scored and has advantages (and returns with GAE), and at least one row
    ///   (with fewer rows than `minibatches`, one minibatch per row).
    /// - Throws: what `minibatchGradients` throws.
    public func update(_ batch: PPOBatch, rng: inout RandomGenerator) throws -> PPOUpdateStatistics {
        // fewer rows than minibatches only when `filter_groups` kept few groups: one row per minibatch then
        let b = batch.batchSize, parts = min(config.minibatches, b)
        precondition(b >= 1, "update: an empty batch")
        var s = PPOUpdateStatistics()
        var valueLoss = 0.0, valueClip = 0.0
        let policyRate = config.learningRate * learningRateScale
        let valueRate = (config.valueLearningRate ?? config.learningRate) * learningRateScale
        epochs: for _ in 0..<config.epochs {
            var order = Array(0..<b)
            for i in stride(from: b - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }  // Fisher-Yates
            for m in 0..<parts {
                let mb = try minibatchGradients(batch, rows: Array(order[(b * m / parts)..<(b * (m + 1) / parts)]))
                if let limit = config.approxKLLimit, mb.approximateKL > limit {
                    s.stoppedEarly = true
                    break epochs
                }
                let norm = clipGradients()
                s.policyLoss += mb.policyLoss
                s.clipFraction += mb.clipFraction
                s.approximateKL += mb.approximateKL
                s.entropy += mb.entropy
                if usesCritic {
                    valueLoss += mb.valueLoss
                    valueClip += mb.valueClipFraction
                }
                s.gradientNorm += Double(norm)
                s.updates += 1
                // a NaN step would ruin the weights (a shard whose loss is not finite is not backpropagated)
                guard norm.isFinite, mb.loss.isFinite else { s.skippedSteps += 1; continue }
                policyOptimizer.step(learningRate: policyRate)
                if usesCritic { valueOptimizer.step(learningRate: valueRate) }
            }
        }
        let n = Double(max(s.updates, 1))
        s.policyLoss /= n; s.clipFraction /= n; s.approximateKL /= n; s.gradientNorm /= n; s.entropy /= n
        if usesCritic { s.valueLoss = valueLoss / n; s.valueClipFraction = valueClip / n }
        s.epochsRun = Double(s.updates) / Double(parts)
        return s
    }

    /// Sets the policy's (and with a critic the value head's) gradients to those of one minibatch's loss: the
    /// clipped surrogate - entropy coefficient x entropy (+ value coefficient x clipped value loss), each a mean
    /// over the minibatch's completion tokens. Returns the loss's parts, also token means.
    ///
    /// The minibatch runs through the data-parallel `TrainingStep` (`PPOUpdateObjective`): two shards at once, one
    /// per core, the second on replicas of the models; each shard's loss is a mean over its own tokens, weighted by
    /// its share of the minibatch's tokens. The shards are fixed by `rows`, so the result does not depend on the
    /// thread count. A loss that is not a number leaves the gradients unfinished: `update` skips such a step.
    /// - Throws: what the step's reduction throws (a lost or disagreeing MPI rank), instead of stopping the process.
    public func minibatchGradients(_ batch: PPOBatch, rows: [Int]) throws -> PPOMinibatchLoss {
        precondition(!rows.isEmpty, "minibatchGradients: no rows")
        let result = try updateStep.gradients(PPOMinibatchRows(batch: batch, rows: rows))
        let m = result.metrics
        return PPOMinibatchLoss(loss: result.loss, policyLoss: m["policy_loss"]!, entropy: m["entropy"]!,
                                valueLoss: m["value_loss"]!, clipFraction: m["clip_fraction"]!,
                                valueClipFraction: m["value_clip_fraction"]!, approximateKL: m["approximate_kl"]!)
    }

    /// The loss of one shard of a minibatch on `policy` and `valueHead` (the trainer's own or their replicas):
    /// clipped surrogate - entropy coefficient x entropy (+ value coefficient x clipped value loss), each a
    /// mean over the shard's tokens, with the parts as metrics.
    func shardLoss(_ mb: Minibatch, policy: Transformer, valueHead: ValueHead, temperature: Float) -> ShardLoss {
        let out = policy.forward(tokens: mb.inputs, batch: mb.rows, length: mb.length)
        let logp = selectedLogProbs(out.logits, targets: mb.targets, temperature: temperature, mask: mb.mask)
        let pg = clippedPolicyLoss(logProbs: logp, oldLogProbs: mb.oldLogProbs, advantages: mb.advantages,
                                   mask: mb.mask, clipEpsilon: config.clipEpsilon, dualClip: config.dualClip)
        var loss = pg.loss
        let entropy: Double
        if config.entropyCoefficient > 0 {
            let e = maskedMean(tokenEntropy(out.logits, temperature: temperature, mask: mb.mask), mask: mb.mask)
            entropy = Double(e.item)
            loss = sub(loss, scale(e, config.entropyCoefficient))
        } else {
            entropy = withNoGrad { Double(maskedMean(tokenEntropy(out.logits, temperature: temperature, mask: mb.mask), mask: mb.mask).item) }
        }
        let pl = Double(pg.loss.item)
        func parts(valueLoss: Double, valueClipFraction: Double) -> [String: (value: Double, unit: ShardLoss.Unit)] {
            ["policy_loss": (pl, .target), "entropy": (entropy, .target), "value_loss": (valueLoss, .target),
             "clip_fraction": (pg.clipFraction, .target), "value_clip_fraction": (valueClipFraction, .target),
             "approximate_kl": (pg.approximateKL, .target)]
        }
        guard usesCritic else { return ShardLoss(perTarget: loss, metrics: parts(valueLoss: 0, valueClipFraction: 0)) }
        let v = clippedValueLoss(values: valueHead(out.finalHidden), oldValues: mb.values, returns: mb.returns,
                                 mask: mb.mask, clip: config.valueClip)
        return ShardLoss(perTarget: add(loss, scale(v.loss, config.valueCoefficient)),
                         metrics: parts(valueLoss: Double(v.loss.item), valueClipFraction: v.clipFraction))
    }

    /// Global-norm clipping over the policy and (with a critic) the value head together, as
    /// `torch.nn.utils.clip_grad_norm_` over both parameter lists (`GradientClip`). Returns the norm before clipping.
    func clipGradients() -> Float { updateStep.clipGradients(maxNorm: config.maxGradNorm) }
}

/// The rows of a scored batch that form one PPO minibatch: what `PPOUpdateObjective` trains on.
struct PPOMinibatchRows {
    let batch: PPOBatch
    let rows: [Int]
}

/// The PPO update's loss as a `TrainingObjective`: a minibatch's rows cut into contiguous shards, each shard's
/// clipped surrogate, entropy bonus and clipped value loss (token means) on the policy and value head, or on
/// their replicas.
final class PPOUpdateObjective: TrainingObjective {
    unowned let trainer: PPOTrainer
    let policies: ReplicaSet<Transformer>
    let heads: ReplicaSet<ValueHead>

    init(trainer: PPOTrainer) {
        self.trainer = trainer
        policies = ReplicaSet(trainer.policy) { $0.replica() }
        heads = ReplicaSet(trainer.valueHead) { $0.replica() }
    }

    /// The policy, and the value head when it takes part (GAE).
    var trainedStores: [ParameterStore] { replicaStores(0) }

    func replicaStores(_ replica: Int) -> [ParameterStore] {
        // the loss reads the value head's replica with GRPO too: made here, on the calling thread, with the policy's
        let policy = policies[replica], head = heads[replica]
        return trainer.usesCritic ? [policy.parameters, head.parameters] : [policy.parameters]
    }

    func shards(of batch: PPOMinibatchRows, count: Int) -> [(minibatch: Minibatch, temperature: Float)] {
        shardRanges(batch.rows.count, shards: count).map { (Minibatch(batch.batch, rows: Array(batch.rows[$0])), batch.batch.temperature) }
    }

    func size(of shard: (minibatch: Minibatch, temperature: Float)) -> ShardSize {
        ShardSize(targets: shard.minibatch.mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }, rows: shard.minibatch.rows)
    }

    func loss(_ shard: inout (minibatch: Minibatch, temperature: Float), replica: Int) -> ShardLoss {
        trainer.shardLoss(shard.minibatch, policy: policies[replica], valueHead: heads[replica], temperature: shard.temperature)
    }
}
