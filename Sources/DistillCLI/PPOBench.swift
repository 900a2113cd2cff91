import Foundation
import Model
import PPO
import Reward
import Tensor

/// One PPO update on the recipe of ../shared/anchors/torch_anchor.py's `ppo` phase: student policy (2 x 128),
/// value head, frozen reference; 16 sequences of 32 random prompt tokens + 64 sampled tokens; timed: scoring
/// without gradients (policy log-probs, entropies and values, reference log-probs), rewards
/// -0.05 (logp - ref_logp) per token + a synthetic terminal score (fraction of even tokens - 0.5), GAE
/// (gamma 1, lambda 0.95) with whitening, then 2 epochs x 4 minibatches of clipped policy loss (eps 0.2)
/// + 0.5 x clipped value loss (0.2) - 0.01 x entropy, global-norm clipping at 1.0 and AdamW (lr 3e-4,
/// weight decay 0.01). Sampling is not timed.
struct PPOBench {
    let reps: Int
    static let batch = 16, prompt = 32, newTokens = 64

    /// The anchor's settings as a PPOConfig (fixed KL coefficient 0.05, no early stop, constant T = 1).
    static let config = PPOConfig(learningRate: 3e-4, weightDecay: 0.01, clipEpsilon: 0.2, valueClip: 0.2,
                                  valueCoefficient: 0.5, entropyCoefficient: 0.01, gamma: 1, lambda: 0.95, epochs: 2,
                                  minibatches: 4, approxKLLimit: nil, klEstimator: .k1, klCoefficient: 0.05, klTarget: nil,
                                  advantage: .gae, whitenAdvantages: true, maxGradNorm: 1, promptsPerIteration: 16,
                                  maxNewTokens: newTokens, temperature: .schedule(.constant(temperature: 1)))

    func run(into report: inout BenchReport, log: (String) -> Void) throws {
        var rng = RandomGenerator(seed: 0)
        let cfg = ModelBench.student
        let policy = try Transformer(config: cfg, rng: &rng)
        let reference = try Transformer(config: cfg, rng: &rng)
        reference.parameters.copyValues(from: policy.parameters)
        let head = ValueHead(hiddenSize: cfg.hiddenSize, rng: &rng)
        // 61 characters + 3 specials = the anchor's vocabulary of 64 (the tokenizer plays no part in the update)
        let tokenizer = Tokenizer(characters: Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"))
        let trainer = try PPOTrainer(policy: policy, valueHead: head, reference: reference, teacher: nil, tokenizer: tokenizer,
                                     reward: CompositeReward(config: RewardConfig()), config: Self.config)
        let prompts = (0..<Self.batch).map { _ in (0..<Self.prompt).map { _ in Int32(rng.nextInt(below: cfg.vocabSize)) } }
        let completions = policy.generate(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: Self.newTokens,
                                                                                      stopTokens: []), rng: &rng).tokens
        let (s, cpu) = try Self.medianWallAndCPU(reps: reps) {
            var batch = PPOBatch(prompts: prompts, completions: completions, temperature: 1)
            trainer.score(&batch)
            var rewards = trainer.klEstimates(batch).map { -0.05 * $0 }
            for (row, c) in completions.enumerated() {
                let even = Float(c.filter { $0 % 2 == 0 }.count) / Float(c.count)
                rewards[batch.index(row: row, completionToken: c.count - 1)] += even - 0.5
            }
            batch.rewards = rewards
            trainer.computeAdvantages(&batch)
            _ = try trainer.update(batch, rng: &rng)
        }
        let tokens = Double(Self.batch * (Self.prompt + Self.newTokens))
        report["ppo_update_ms"] = .double(s * 1e3)
        report["ppo_update_tok_s"] = .double(tokens / s)
        report["ppo_update_cpu_ms"] = .double(cpu * 1e3)
        log(String(format: "ppo update (16 x 96, 2 epochs x 4 minibatches): %.1f ms (process CPU %.1f ms)", s * 1e3, cpu * 1e3))
    }

    /// Medians of wall time and of process CPU time (all threads) of `body` over `reps` calls after one
    /// warm-up call. CPU time is the anchor's `_cpu_ms`: with --threads 1 it is robust to other processes.
    static func medianWallAndCPU(reps: Int, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        func cpuNow() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        try body()
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<reps {
            let w0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuNow()
            try body()
            cpu.append(cpuNow() - c0)
            wall.append(Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9)
        }
        func median(_ x: [Double]) -> Double {
            let s = x.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        return (median(wall), median(cpu))
    }
}
