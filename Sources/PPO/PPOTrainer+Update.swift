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

/// What `halfLoss` computed for one half of a minibatch: the loss to differentiate and its parts.
struct HalfLoss {
    let tensor: Tensor
    var loss: Double { Double(tensor.item) }
    let policyLoss, entropy, valueLoss, clipFraction, valueClipFraction, approximateKL: Double
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
                let mb = minibatchGradients(batch, rows: Array(order[(b * m / parts)..<(b * (m + 1) / parts)]))
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

    /// Sets the policy's (and with a critic the value head's) gradients to those of one minibatch's loss: the
    /// clipped surrogate - entropy coefficient x entropy (+ value coefficient x clipped value loss), each a mean
    /// over the minibatch's completion tokens. Returns the loss's parts, also token means.
    ///
    /// The minibatch runs in two halves at once, one per core (`Parallel.split`), the second on replicas of
    /// the models with gradients of their own that are then added to the models'. Each half's loss is a mean
    /// over its own tokens, so weighting it by its share of the minibatch's tokens makes the sum the
    /// minibatch's mean. The halves are fixed by `rows`, so the result does not depend on the thread count.
    public func minibatchGradients(_ batch: PPOBatch, rows: [Int]) -> PPOMinibatchLoss {
        precondition(!rows.isEmpty, "minibatchGradients: no rows")
        let pieces = Parallel.halves(rows).map { Minibatch(batch, rows: $0) }
        let counts = pieces.map { piece in piece.mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
        let weights = counts.map { Double($0) / Double(max(counts.reduce(0, +), 1)) }
        let models = [(policy, valueHead), (replicas.policy, replicas.valueHead)].prefix(pieces.count)
        for (model, head) in models {
            model.parameters.zeroGradients()
            if usesCritic { head.parameters.zeroGradients() }
        }
        var halves = [HalfLoss?](repeating: nil, count: pieces.count)
        halves.withUnsafeMutableBufferPointer { out in
            Parallel.split(pieces.count) { i in
                let half = halfLoss(pieces[i], policy: models[i].0, valueHead: models[i].1, temperature: batch.temperature)
                half.tensor.backward(seed: Tensor(shape: [], values: [Float(weights[i])]))
                out[i] = half
            }
        }
        if pieces.count > 1 {
            policy.parameters.addGradients(from: replicas.policy.parameters)
            if usesCritic { valueHead.parameters.addGradients(from: replicas.valueHead.parameters) }
        }
        let done = halves.map { $0! }
        func weighted(_ value: (HalfLoss) -> Double) -> Double { zip(done, weights).reduce(0) { $0 + value($1.0) * $1.1 } }
        return PPOMinibatchLoss(loss: weighted(\.loss), policyLoss: weighted(\.policyLoss), entropy: weighted(\.entropy),
                                valueLoss: weighted(\.valueLoss), clipFraction: weighted(\.clipFraction),
                                valueClipFraction: weighted(\.valueClipFraction), approximateKL: weighted(\.approximateKL))
    }

    /// The loss of one half of a minibatch on `policy` and `valueHead` (the trainer's own or their replicas):
    /// clipped surrogate - entropy coefficient x entropy (+ value coefficient x clipped value loss), each a
    /// mean over the half's tokens, with the parts as metrics.
    func halfLoss(_ mb: Minibatch, policy: Transformer, valueHead: ValueHead, temperature: Float) -> HalfLoss {
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
        guard usesCritic else {
            return HalfLoss(tensor: loss, policyLoss: pl, entropy: entropy, valueLoss: 0, clipFraction: pg.clipFraction,
                            valueClipFraction: 0, approximateKL: pg.approximateKL)
        }
        let v = clippedValueLoss(values: valueHead(out.finalHidden), oldValues: mb.values, returns: mb.returns,
                                 mask: mb.mask, clip: config.valueClip)
        return HalfLoss(tensor: add(loss, scale(v.loss, config.valueCoefficient)), policyLoss: pl, entropy: entropy,
                        valueLoss: Double(v.loss.item), clipFraction: pg.clipFraction, valueClipFraction: v.clipFraction,
                        approximateKL: pg.approximateKL)
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
