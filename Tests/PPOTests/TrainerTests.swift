import Foundation
import Model
import PPO
import Reward
import Tensor
import TestSupport
import Testing

// The trainer end to end on tiny models: it must learn the toy task, be bit-reproducible, touch exactly
// the parameters it should, and report every metric.

/// Bit patterns of a whole store.
private func bits(_ store: ParameterStore) -> [UInt32] {
    Array(UnsafeBufferPointer(start: store.values.base, count: store.count)).map(\.bitPattern)
}

/// Names of the views of `store` whose values differ from `before`.
private func changedViews(_ store: ParameterStore, from before: [Float]) -> Set<String> {
    Set(store.views.filter { v in (v.offset..<(v.offset + v.count)).contains { store.values.base[$0] != before[$0] } }.map(\.name))
}

/// Weights N(0, 0.5) (norms 1): far from HF's near-uniform initialisation.
private func randomizeForTest(_ store: ParameterStore, seed: UInt64) {
    var rng = RandomGenerator(seed: seed)
    store.initialize(rng: &rng) { v, rng in
        v.name.hasSuffix("norm.weight") ? [Float](repeating: 1, count: v.count) : (0..<v.count).map { _ in 0.5 * rng.nextNormal() }
    }
}

private func snapshot(_ store: ParameterStore) -> [Float] { Array(UnsafeBufferPointer(start: store.values.base, count: store.count)) }

@Suite("PPO trainer", .serialized)
struct TrainerTests {
    /// Mean reward of the first `head` and last `tail` of `iterations` iterations.
    private func learn(_ trainer: PPOTrainer, iterations: Int, seed: UInt64) throws -> (early: Double, late: Double, all: [PPOIterationMetrics]) {
        var rng = RandomGenerator(seed: seed)
        var metrics: [PPOIterationMetrics] = []
        for _ in 0..<iterations {
            metrics.append(try trainer.iterate(problems: ToyTask.problems(trainer.config.promptsPerIteration), rng: &rng))
        }
        let early = metrics.prefix(3).map(\.reward).reduce(0, +) / 3
        let late = metrics.suffix(3).map(\.reward).reduce(0, +) / 3
        return (early, late, metrics)
    }

    @Test("PPO with GAE raises the toy reward within 25 iterations (fixed seed)")
    func learnsWithGAE() throws {
        let trainer = try ToyTask.trainer(config: ToyTask.config(.gae), seed: 21)
        let r = try learn(trainer, iterations: 25, seed: 22)
        #expect(r.early < 0.3, "a random policy should earn about 0.15, got \(r.early)")
        #expect(r.late > 0.6, "rewards \(r.all.map { String(format: "%.2f", $0.reward) })")
        #expect(r.late > r.early + 0.3)
        #expect(r.all.allSatisfy { $0.values["value_loss"].map(\.isFinite) == true })
    }

    @Test("GRPO (4 samples per prompt, no critic) raises the toy reward within 25 iterations (fixed seed)")
    func learnsWithGRPO() throws {
        let trainer = try ToyTask.trainer(config: ToyTask.config(.grpo), seed: 31)
        let head = snapshot(trainer.valueHead.parameters)
        let r = try learn(trainer, iterations: 25, seed: 32)
        #expect(r.late > 0.6, "rewards \(r.all.map { String(format: "%.2f", $0.reward) })")
        #expect(r.late > r.early + 0.3)
        #expect(snapshot(trainer.valueHead.parameters) == head, "GRPO has no critic: the value head must not move")
        #expect(r.all.allSatisfy { $0.values["value_loss"] == nil && $0.values["explained_variance"] == nil })
    }

    @Test("same seed, problems and threads give bit-identical weights, controllers and metrics; another seed does not")
    func determinism() throws {
        func run(_ seed: UInt64) throws -> (policy: [UInt32], head: [UInt32], state: [String: Double], rewards: [Double]) {
            var config = ToyTask.config(.gae)
            config.temperature = .entropyTarget(target: 0.8, rate: 0.2, minimum: 0.5, maximum: 1.5, initial: 1)
            config.klTarget = 1
            let trainer = try ToyTask.trainer(config: config, seed: 5)
            var rng = RandomGenerator(seed: seed)
            var rewards: [Double] = []
            for _ in 0..<3 { rewards.append(try trainer.iterate(problems: ToyTask.problems(16), rng: &rng).reward) }
            return (bits(trainer.policy.parameters), bits(trainer.valueHead.parameters), trainer.controllerState, rewards)
        }
        let a = try run(9), b = try run(9), c = try run(10)
        #expect(a.policy == b.policy)
        #expect(a.head == b.head)
        #expect(a.state == b.state)
        #expect(a.rewards == b.rewards)
        #expect(a.policy != c.policy, "a different sampling seed must change the result")
    }

    @Test("one iteration on math traces: every metric present and finite; policy, critic move; reference and teacher do not")
    func fullIteration() throws {
        var config = PPOConfig(learningRate: 1e-3, minibatches: 2, klEstimator: .k3, teacherLogRatioCoefficient: 0.1,
                               promptsPerIteration: 4, maxNewTokens: 12)
        config.approxKLLimit = nil
        let trainer = try ToyTask.trainer(config: config, tokenizer: .math, reward: CompositeReward(config: RewardConfig()),
                                          teacher: true, seed: 41)
        let policy = snapshot(trainer.policy.parameters), head = snapshot(trainer.valueHead.parameters)
        let reference = snapshot(trainer.reference.parameters), teacher = snapshot(trainer.teacher!.parameters)
        let problems = [PPOProblem(question: "Compute 2 + 3.", referenceAnswer: "5", teacherTrace: "2 + 3 = 5\nanswer: 5"),
                        PPOProblem(question: "Compute 7 * 6.", referenceAnswer: "42"),
                        PPOProblem(question: "Compute 9 - 4.", referenceAnswer: "5"),
                        PPOProblem(question: "Compute 8 / 2.", referenceAnswer: "4")]
        var rng = RandomGenerator(seed: 42)
        let m = try trainer.iterate(problems: problems, rng: &rng)
        for key in ["reward", "kl", "kl_coefficient", "entropy", "temperature", "clip_fraction", "value_loss", "policy_loss",
                    "approx_kl", "verified_step_rate", "answer_accuracy", "epochs_run", "tokens_per_second", "teacher_log_ratio",
                    "reward_answer", "reward_step_validity", "reward_format", "reward_length", "reward_teacher_agreement", "grad_norm"] {
            #expect(m.values[key]?.isFinite == true, "\(key): \(String(describing: m.values[key]))")
        }
        #expect(m.sequences == 4 && m.update.updates == 4 && m.values["epochs_run"] == 2)
        #expect(m.temperature == 1 && m.klCoefficient == 0.05)
        #expect(m.teacherLogRatio != 0, "a teacher with other weights cannot agree with the student on every token")
        #expect(changedViews(trainer.policy.parameters, from: policy) == Set(trainer.policy.parameters.names))
        #expect(changedViews(trainer.valueHead.parameters, from: head) == Set(trainer.valueHead.parameters.names))
        #expect(snapshot(trainer.reference.parameters) == reference)
        #expect(snapshot(trainer.teacher!.parameters) == teacher)
        #expect(trainer.policyOptimizer.stepCount == 4 && trainer.valueOptimizer.stepCount == 4)
        // the controllers moved: adaptive KL toward its target, temperature toward its entropy target
        #expect(trainer.klController.coefficient != 0.05)
        #expect(trainer.temperatureController.temperature != 1)
    }

    @Test("scoring at the sampling temperature reproduces the sampler's log-probs, and the first update sees ratio 1")
    func scoringMatchesSampling() throws {
        var config = ToyTask.config(.gae)
        config.epochs = 1
        config.minibatches = 1
        let trainer = try ToyTask.trainer(config: config, tokenizer: .math, seed: 91)
        randomizeForTest(trainer.policy.parameters, seed: 92)  // a peaked distribution, so a temperature bug would show
        trainer.reference.parameters.copyValues(from: trainer.policy.parameters)
        var rng = RandomGenerator(seed: 93)
        let prompts = try [trainer.prompt(for: PPOProblem(question: "Compute 2 + 2.", referenceAnswer: "4")),
                           trainer.prompt(for: PPOProblem(question: "7 * 8 = ?", referenceAnswer: "56"))]
        let generation = trainer.policy.generate(prompts: prompts, options: SamplingOptions(temperature: 0.7, maxNewTokens: 9), rng: &rng)
        var batch = PPOBatch(prompts: prompts, completions: generation.tokens, temperature: 0.7)
        trainer.score(&batch)
        for row in 0..<2 {
            let scored = (0..<generation.tokens[row].count).map { batch.oldLogProbs[batch.index(row: row, completionToken: $0)] }
            let entropies = (0..<generation.tokens[row].count).map { batch.entropies[batch.index(row: row, completionToken: $0)] }
            allClose(scored, generation.logProbs[row], rtol: 1e-4, atol: 1e-4, "row \(row) log-probs")
            allClose(entropies, generation.entropies[row], rtol: 1e-4, atol: 1e-4, "row \(row) entropies")
        }
        // the reference is the policy: the KL estimates vanish
        #expect(trainer.klEstimates(batch).allSatisfy { abs($0) < 1e-6 })
        batch.rewards = batch.mask
        trainer.computeAdvantages(&batch)
        let stats = try trainer.update(batch, rng: &rng)
        #expect(stats.updates == 1 && stats.approximateKL < 1e-9 && stats.clipFraction == 0)
    }

    @Test("GRPO advantages are the group-relative scores on every token, not whitened again: a group that scored alike gets 0")
    func grpoAdvantagesNotShifted() throws {
        var config = ToyTask.config(.grpo)
        config.groupSize = 2
        config.whitenAdvantages = true
        let trainer = try ToyTask.trainer(config: config, seed: 95)
        let p: [Int32] = [1, 5, 6]
        // group 1: rewards 1 and 0 (lengths 3 and 1); group 2: both 0.5 (lengths 2 and 4)
        var batch = PPOBatch(prompts: [p, p, p, p], completions: [[7, 8, 9], [7], [8, 9], [7, 7, 8, 9]], temperature: 1)
        batch.rewards = [Float](repeating: 0, count: batch.mask.count)
        for (row, (value, length)) in [(Float(1), 3), (0, 1), (0.5, 2), (0.5, 4)].enumerated() {
            batch.rewards[batch.index(row: row, completionToken: length - 1)] = value
        }
        trainer.computeAdvantages(&batch)
        // group 1: mean 0.5, unbiased std sqrt(0.5) = 0.70711: advantages +-0.5 / (0.70711 + 1e-4)
        let a = 0.5 / (Float(0.5).squareRoot() + 1e-4)
        for (row, (expected, length)) in [(a, 3), (-a, 1), (0, 2), (0, 4)].enumerated() {
            let got = (0..<length).map { batch.advantages[batch.index(row: row, completionToken: $0)] }
            allClose(got, [Float](repeating: expected, count: length), rtol: 1e-5, atol: 1e-6, "row \(row)")
        }
        // off the completion tokens the advantage is 0
        #expect(zip(batch.advantages, batch.mask).allSatisfy { $1 != 0 || $0 == 0 })

        // scale_rewards none (Dr. GRPO): the same batch gets r - mean_group, +-0.5, unscaled
        config.scaleRewards = .none
        let unscaled = try ToyTask.trainer(config: config, seed: 95)
        unscaled.computeAdvantages(&batch)
        for (row, (expected, length)) in [(Float(0.5), 3), (-0.5, 1), (0, 2), (0, 4)].enumerated() {
            let got = (0..<length).map { batch.advantages[batch.index(row: row, completionToken: $0)] }
            allClose(got, [Float](repeating: expected, count: length), rtol: 1e-5, atol: 1e-6, "unscaled row \(row)")
        }
    }

    @Test("the approximate-KL limit stops the epoch loop early")
    func earlyStop() throws {
        var config = ToyTask.config(.gae)
        config.learningRate = 0.05  // large steps move the policy far within one epoch
        config.epochs = 4
        config.approxKLLimit = 1e-4
        let trainer = try ToyTask.trainer(config: config, seed: 51)
        var rng = RandomGenerator(seed: 52)
        let m = try trainer.iterate(problems: ToyTask.problems(16), rng: &rng)
        #expect(m.update.stoppedEarly)
        #expect(m.update.updates >= 1 && m.update.epochsRun < 4)
        #expect(trainer.policyOptimizer.stepCount == m.update.updates)
    }

    @Test("controller state round-trips into a fresh trainer; a damaged state is refused and changes nothing")
    func controllerState() throws {
        var config = ToyTask.config(.gae)
        config.klTarget = 0.5
        config.temperature = .entropyTarget(target: 0.3, rate: 0.2, minimum: 0.5, maximum: 1.5, initial: 1)
        let a = try ToyTask.trainer(config: config, seed: 61)
        var rng = RandomGenerator(seed: 62)
        for _ in 0..<2 { _ = try a.iterate(problems: ToyTask.problems(16), rng: &rng) }
        let b = try ToyTask.trainer(config: config, seed: 61)
        try b.restoreControllers(a.controllerState)
        #expect(b.controllerState == a.controllerState)
        #expect(b.klController == a.klController && b.temperatureController == a.temperatureController && b.iteration == 2)
        let c = try ToyTask.trainer(config: config, seed: 61)
        let before = c.controllerState
        var damaged = a.controllerState
        damaged["temperature"] = nil
        #expect(throws: PPOError.self) { try c.restoreControllers(damaged) }
        #expect(c.controllerState == before)
    }

    @Test("evaluate changes no weight and greedy evaluation is repeatable")
    func evaluate() throws {
        let trainer = try ToyTask.trainer(config: ToyTask.config(.gae), tokenizer: .math,
                                          reward: CompositeReward(config: RewardConfig()), seed: 71)
        let weights = snapshot(trainer.policy.parameters)
        let problems = [PPOProblem(question: "Compute 1 + 1.", referenceAnswer: "2"), PPOProblem(question: "Compute 3 * 3.", referenceAnswer: "9")]
        var rng = RandomGenerator(seed: 1)
        let a = try trainer.evaluate(problems: problems, rng: &rng)
        let b = try trainer.evaluate(problems: problems, rng: &rng)
        #expect(snapshot(trainer.policy.parameters) == weights)
        #expect(a.problems == 2 && a.meanReward == b.meanReward && a.completionLength == b.completionLength)
        #expect(a.values["reward"]!.isFinite && a.values["verified_step_rate"]! >= 0 && a.values["answer_accuracy"]! >= 0)
        let sampled = try trainer.evaluate(problems: problems, temperature: 1, rng: &rng)
        #expect(sampled.completionLength > 0)
    }

    @Test("bad runs are typed errors: no problems, too few sequences, missing teacher, mismatched models, long prompts")
    func errors() throws {
        let trainer = try ToyTask.trainer(config: ToyTask.config(.gae), seed: 81)
        var rng = RandomGenerator(seed: 1)
        #expect(throws: PPOError.noProblems) { try trainer.iterate(problems: [], rng: &rng) }
        #expect(throws: PPOError.tooFewSequences(sequences: 1, minibatches: 2)) { try trainer.iterate(problems: ToyTask.problems(1), rng: &rng) }
        #expect(throws: PPOError.teacherRequired) {
            try ToyTask.trainer(config: PPOConfig(teacherLogRatioCoefficient: 0.5), seed: 1)
        }
        #expect(throws: PPOConfigError.self) { try ToyTask.trainer(config: PPOConfig(epochs: 0), seed: 1) }
        var r = RandomGenerator(seed: 2)
        let other = try Transformer(config: ToyTask.modelConfig(vocab: 9), rng: &r)
        #expect(throws: PPOError.self) {
            try PPOTrainer(policy: trainer.policy, valueHead: trainer.valueHead, reference: other, teacher: nil,
                           tokenizer: ToyTask.tokenizer, reward: trainer.reward, config: trainer.config)
        }
        let long = PPOProblem(question: String(repeating: "ab", count: 30), referenceAnswer: "a")
        #expect(throws: PPOError.promptTooLong(problem: 1, tokens: 62, limit: 48)) {
            try trainer.iterate(problems: [ToyTask.problems(1)[0], long], rng: &rng)
        }
    }
}
