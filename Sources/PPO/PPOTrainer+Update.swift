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

extension PPOTrainer {
    /// Runs `epochs` passes over `batch` in `minibatches` shuffled minibatches (shuffled with `rng`): clipped
    /// surrogate + value coefficient x clipped value loss - entropy coefficient x entropy, one AdamW step per
    /// minibatch after global-norm clipping over the policy and value head together. Stops the epoch loop,
    /// before stepping, at the first minibatch whose approximate KL exceeds `approxKLLimit`.
    /// - Precondition: the batch has been scored and has advantages (and returns with GAE), and at least
    ///   `minibatches` rows.
    public func update(_ batch: PPOBatch, rng: inout RandomGenerator) -> PPOUpdateStatistics {
        let b = batch.batchSize, parts = config.minibatches
        precondition(b >= parts, "update: \(b) sequences cannot form \(parts) minibatches")
        var s = PPOUpdateStatistics()
        var valueLoss = 0.0, valueClip = 0.0
        let policyRate = config.learningRate * learningRateScale
        let valueRate = (config.valueLearningRate ?? config.learningRate) * learningRateScale
        epochs: for _ in 0..<config.epochs {
            var order = Array(0..<b)
            for i in stride(from: b - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }  // Fisher-Yates
            for m in 0..<parts {
                let mb = Minibatch(batch, rows: Array(order[(b * m / parts)..<(b * (m + 1) / parts)]))
                policy.parameters.zeroGradients()
                if usesCritic { valueHead.parameters.zeroGradients() }
                let out = policy.forward(tokens: mb.inputs, batch: mb.rows, length: mb.length)
                let logp = selectedLogProbs(out.logits, targets: mb.targets, temperature: batch.temperature, mask: mb.mask)
                let pg = clippedPolicyLoss(logProbs: logp, oldLogProbs: mb.oldLogProbs, advantages: mb.advantages,
                                           mask: mb.mask, clipEpsilon: config.clipEpsilon, dualClip: config.dualClip)
                if let limit = config.approxKLLimit, pg.approximateKL > limit {
                    s.stoppedEarly = true
                    break epochs
                }
                var loss = pg.loss
                if config.entropyCoefficient > 0 {
                    let entropy = maskedMean(tokenEntropy(out.logits, temperature: batch.temperature, mask: mb.mask), mask: mb.mask)
                    s.entropy += Double(entropy.item)
                    loss = sub(loss, scale(entropy, config.entropyCoefficient))
                } else {
                    s.entropy += withNoGrad { Double(maskedMean(tokenEntropy(out.logits, temperature: batch.temperature, mask: mb.mask), mask: mb.mask).item) }
                }
                if usesCritic {
                    let v = clippedValueLoss(values: valueHead(out.finalHidden), oldValues: mb.values, returns: mb.returns,
                                             mask: mb.mask, clip: config.valueClip)
                    valueLoss += Double(v.loss.item)
                    valueClip += v.clipFraction
                    loss = add(loss, scale(v.loss, config.valueCoefficient))
                }
                loss.backward()
                let norm = clipGradients()
                s.policyLoss += Double(pg.loss.item)
                s.clipFraction += pg.clipFraction
                s.approximateKL += pg.approximateKL
                s.gradientNorm += Double(norm)
                s.updates += 1
                guard norm.isFinite else { s.skippedSteps += 1; continue }  // a NaN step would ruin the weights
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

    /// Global-norm clipping over the policy and (with a critic) the value head together, as
    /// `torch.nn.utils.clip_grad_norm_` over both parameter lists. Returns the norm before clipping.
    func clipGradients() -> Float {
        let stores = usesCritic ? [policy.parameters, valueHead.parameters] : [policy.parameters]
        let norm = stores.reduce(Float(0)) { let n = $1.gradientNorm(); return $0 + n * n }.squareRoot()
        guard let maxNorm = config.maxGradNorm, norm > maxNorm, norm.isFinite else { return norm }
        let k = maxNorm / (norm + 1e-6)
        for store in stores {
            let g = store.gradients.base
            for v in store.views where !v.frozen {
                for i in v.offset..<(v.offset + v.count) { g[i] *= k }
            }
        }
        return norm
    }
}
