import Model

/// A batch of sampled sequences laid out for scoring and training, with every per-token quantity PPO needs.
///
/// Layout: B rows, T = longest sequence - 1 positions. Row i holds sequence s (prompt of P tokens, then
/// the completion): `inputs[i, t] = s[t]`, `targets[i, t] = s[t + 1]`, so position t's logits predict
/// target t. Completion token k sits at position P - 1 + k, and `mask` is 1 exactly there. Rows are padded
/// on the right with `Tokenizer.pad`; causal attention never lets a position see the padding after it, so
/// no attention mask is needed. Every per-token array is (B, T) row-major.
public struct PPOBatch: Sendable {
    /// Rows (sequences).
    public let batchSize: Int
    /// Positions per row (longest sequence - 1).
    public let length: Int
    /// Prompt length of each row.
    public let promptLengths: [Int]
    /// Completion length of each row.
    public let completionLengths: [Int]
    /// Model inputs (B, T).
    public let inputs: [Int32]
    /// Next-token targets (B, T).
    public let targets: [Int32]
    /// 1 on completion tokens, 0 on prompt and padding (B, T).
    public let mask: [Float]
    /// Temperature the completions were sampled at; every log-prob and entropy below is at this temperature.
    public let temperature: Float
    /// log pi_old(target) under the policy at sampling time (B, T).
    public var oldLogProbs: [Float]
    /// log pi_ref(target) under the frozen reference (B, T).
    public var referenceLogProbs: [Float]
    /// log pi_teacher(target) when the teacher reward is on (B, T).
    public var teacherLogProbs: [Float]?
    /// Value-head estimates at sampling time (B, T) (zeros with GRPO).
    public var values: [Float]
    /// Entropy of the sampling distribution at each position (B, T).
    public var entropies: [Float]
    /// Per-token rewards (B, T).
    public var rewards: [Float]
    /// Advantages (B, T).
    public var advantages: [Float]
    /// Value targets (B, T).
    public var returns: [Float]

    /// Lays out `prompts[i] + completions[i]` for each row; the scored arrays start at zero.
    /// - Precondition: every prompt and completion is non-empty, and counts agree.
    public init(prompts: [[Int32]], completions: [[Int32]], temperature: Float) {
        precondition(!prompts.isEmpty && prompts.count == completions.count,
                     "PPOBatch: \(prompts.count) prompts for \(completions.count) completions")
        precondition(prompts.allSatisfy { !$0.isEmpty } && completions.allSatisfy { !$0.isEmpty },
                     "PPOBatch: prompts and completions must be non-empty")
        precondition(temperature > 0, "PPOBatch: temperature must be > 0, got \(temperature)")
        let b = prompts.count
        let t = zip(prompts, completions).map { $0.count + $1.count }.max()! - 1
        var inputs = [Int32](repeating: Tokenizer.pad, count: b * t)
        var targets = [Int32](repeating: Tokenizer.pad, count: b * t)
        var mask = [Float](repeating: 0, count: b * t)
        for i in 0..<b {
            let s = prompts[i] + completions[i]
            for p in 0..<(s.count - 1) {
                inputs[i * t + p] = s[p]
                targets[i * t + p] = s[p + 1]
                if p >= prompts[i].count - 1 { mask[i * t + p] = 1 }
            }
        }
        batchSize = b
        length = t
        promptLengths = prompts.map(\.count)
        completionLengths = completions.map(\.count)
        self.inputs = inputs
        self.targets = targets
        self.mask = mask
        self.temperature = temperature
        let zeros = [Float](repeating: 0, count: b * t)
        oldLogProbs = zeros
        referenceLogProbs = zeros
        teacherLogProbs = nil
        values = zeros
        entropies = zeros
        rewards = zeros
        advantages = zeros
        returns = zeros
    }

    /// The flat index of completion token `k` of row `row`.
    @inline(__always)
    public func index(row: Int, completionToken k: Int) -> Int {
        precondition(k >= 0 && k < completionLengths[row], "completion token \(k) outside row \(row)'s \(completionLengths[row])")
        return row * length + promptLengths[row] - 1 + k
    }

    /// Number of completion tokens in the batch.
    public var tokenCount: Int { completionLengths.reduce(0, +) }

    /// The per-row sum of a (B, T) array over the completion tokens.
    public func rowSums(_ x: [Float]) -> [Double] {
        (0..<batchSize).map { i in
            (0..<completionLengths[i]).reduce(0.0) { $0 + Double(x[index(row: i, completionToken: $1)]) }
        }
    }
}

