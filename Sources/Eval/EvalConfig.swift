/// How a model is evaluated: decoding limits, batching, and the sampled decoding behind pass@k and maj@k.
///
/// Greedy decoding always runs (accuracy, step metrics, throughput and latency come from it). With
/// `samples` > 0 each problem is also sampled `samples` times for pass@k and maj@k.
public struct EvalConfig: Sendable, Equatable {
    /// Most new tokens per answer (the model's context also caps it). 320 covers the longest reference trace
    /// of the built-in suite at difficulty 2 (304 characters with the answer line).
    public var maxNewTokens: Int = 320
    /// Problems (or samples) decoded together. Latency per problem is the time of the batch that produced it,
    /// so it grows with the batch; use 1 for unbatched latency.
    public var batchSize: Int = 16
    /// Sampled answers per problem for pass@k and maj@k; 0 turns sampling off.
    public var samples: Int = 0
    /// The k values of pass@k and maj@k, each in 1...samples; empty means [1, samples].
    public var ks: [Int] = []
    /// Sampling temperature (0.6 with top-p 0.95: DeepSeek-R1's setting for pass@1 estimates).
    public var temperature: Float = 0.6
    /// Nucleus sampling threshold in (0, 1]; nil or 1 keeps every token.
    public var topP: Float? = 0.95
    /// Seed of the sampling generator (same seed, suite, model and batch size: the same samples).
    public var seed: UInt64 = 0

    /// The defaults above.
    public init() {}

    /// A config with the given fields (defaults as documented on each field).
    public init(maxNewTokens: Int = 320, batchSize: Int = 16, samples: Int = 0, ks: [Int] = [], temperature: Float = 0.6,
                topP: Float? = 0.95, seed: UInt64 = 0) {
        self.maxNewTokens = maxNewTokens
        self.batchSize = batchSize
        self.samples = samples
        self.ks = ks
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
    }

    /// The k values used: `ks` sorted without repeats, or [1, samples] when empty; [] without sampling.
    public var resolvedKs: [Int] {
        guard samples > 0 else { return [] }
        return Array(Set(ks.isEmpty ? [1, samples] : ks)).sorted()
    }

    /// Checks every field and their combinations.
    /// - Throws: `EvalError.invalidSetting` naming the option (command-line spelling) and how to fix it.
    public func validate() throws {
        func fail(_ option: String, _ reason: String) -> EvalError { .invalidSetting(setting: option, reason: reason) }
        guard maxNewTokens >= 1 else { throw fail("--max-new-tokens", "\(maxNewTokens) must be at least 1") }
        guard batchSize >= 1 else { throw fail("--batch-size", "\(batchSize) must be at least 1") }
        guard samples >= 0 else { throw fail("--samples", "\(samples) must be 0 (greedy only) or more") }
        if samples == 0 {
            guard ks.isEmpty else { throw fail("--k", "pass@k and maj@k need sampled answers; add --samples N with N >= \(ks.max() ?? 1)") }
            return
        }
        guard temperature.isFinite, temperature > 0 else {
            throw fail("--temperature", "\(temperature) must be above 0 for sampling (greedy decoding already runs)")
        }
        if let topP { guard topP > 0, topP <= 1 else { throw fail("--top-p", "\(topP) must be in (0, 1]") } }
        if let bad = ks.first(where: { !(1...samples).contains($0) }) {
            throw fail("--k", "\(bad) must be in 1...\(samples) (the number of --samples)")
        }
    }
}
