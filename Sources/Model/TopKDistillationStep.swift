import Tensor

/// One student step of top-k distillation from cached targets, for timing (issue 23's `lm_distill_topk_tok_s`):
/// the student's forward, alpha * T^2 * KL over the top-k buckets + (1 - alpha) * CE, and the backward pass into
/// the student's gradients. The teacher does not run: its targets come from the cache. Inputs are synthetic
/// (seeded random tokens; each target's k teacher ids random with sorted log-probs), every position a target.
public struct TopKDistillationStep {
    public let student: Transformer
    public let batch: Int
    public let length: Int
    public let temperature: Float
    public let alpha: Float
    /// (B, T) ids.
    public let tokens: [Int32]
    /// (B*T) next-token targets (the token itself shifted; the last position of each row predicts a random id).
    public let labels: [Int32]
    public let targets: TopKTargets

    /// The SmolLM2-135M architecture cut to `layers` layers (d 576, 9/3 heads, MLP 1536, vocabulary 49,152, tied):
    /// the student shape at 10 layers.
    public static func smolLM2Student(layers: Int = 10) -> TransformerConfig {
        TransformerConfig(vocabSize: 49_152, hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: layers, numAttentionHeads: 9,
                          numKeyValueHeads: 3, rmsNormEps: 1e-5, ropeTheta: 100_000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true)
    }

    /// A step of `batch` x `length` tokens with k entries per target, at `temperature` with weight `alpha` on the KL.
    public init(student: Transformer, batch: Int = 8, length: Int = 256, k: Int = 64, temperature: Float = 2, alpha: Float = 0.5,
                seed: UInt64 = 23) {
        let v = student.config.vocabSize
        precondition(k <= v, "k \(k) exceeds the vocabulary \(v)")
        self.student = student
        self.batch = batch
        self.length = length
        self.temperature = temperature
        self.alpha = alpha
        var rng = RandomGenerator(seed: seed)
        let n = batch * length
        let ids0 = (0..<n).map { _ in Int32(rng.nextInt(below: v)) }
        var next = [Int32](repeating: 0, count: n)
        for i in 0..<n { next[i] = (i + 1) % length == 0 ? Int32(rng.nextInt(below: v)) : ids0[i + 1] }
        tokens = ids0
        labels = next
        var lp = [Float](repeating: 0, count: n * k), ids = [Int32](repeating: 0, count: n * k), rest = [Float](repeating: 0, count: n)
        for t in 0..<n {
            var seen = Set<Int32>(), chosen: [Int32] = [], row: [Float] = []
            while chosen.count < k {
                let id = Int32(rng.nextInt(below: v))
                if seen.insert(id).inserted { chosen.append(id); row.append(-abs(rng.nextNormal()) * 4 - 0.5) }
            }
            row.sort(by: >)
            for j in 0..<k { ids[t * k + j] = chosen[j]; lp[t * k + j] = row[j] }
            rest[t] = -abs(rng.nextNormal()) - 1
        }
        targets = TopKTargets(k: k, temperature: 1, positions: Array(0..<n), logProbs: lp, ids: ids, leftover: rest)
    }

    /// Tokens one `run` trains on.
    public var tokensPerStep: Int { batch * length }

    /// Runs the step: forward, loss, backward (the student's gradients are zeroed first). Returns the loss.
    @discardableResult
    public func run() -> Float {
        student.parameters.zeroGradients()
        let loss = Self.loss(student: student, tokens: tokens, batch: batch, length: length, labels: labels, targets: targets,
                             temperature: temperature, alpha: alpha)
        loss.backward()
        return loss.item
    }

    /// alpha * T^2 * KL over the top-k buckets + (1 - alpha) * CE of `student` on `tokens`, as the stages compute it:
    /// through the fused output layer (the (B, T, V) logits never whole) when the vocabulary and the head allow it,
    /// else over the full logits.
    public static func loss(student: Transformer, tokens: [Int32], batch: Int, length: Int, labels: [Int32], targets: TopKTargets,
                            temperature: Float, alpha: Float) -> Tensor {
        if OutputChunking.applies(vocabulary: student.config.vocabSize), let weight = student.fusedOutputWeight {
            let hidden = student.forwardHidden(tokens: tokens, batch: batch, length: length).finalHidden
            let terms = OutputLossTerms(distillationWeight: alpha, crossEntropyWeight: 1 - alpha, temperature: temperature)
            return fusedOutputLoss(hidden: hidden, weight: weight, targets: labels, topK: targets, terms: terms).loss
        }
        let logits = student.forward(tokens: tokens, batch: batch, length: length).logits
        let kd = topKDistillationLoss(student: logits, targets: targets, temperature: temperature)
        let ce = crossEntropy(logits, targets: labels)
        return add(scale(kd, alpha), scale(ce, 1 - alpha))
    }
}
