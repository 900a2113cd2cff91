import Foundation
import Model
import PPO
import Reward
import Tensor

// A task small enough to learn in seconds: a 1-layer transformer over the alphabet {a, b, newline} is
// prompted with "b\n" and rewarded for the fraction of `a`s among its (at most 6) completion characters.
// A random policy earns about 0.15 (1 in 6 tokens, and EOS may end the completion early).

/// Reward: number of `a`s in the trace / `length`, placed on the trace's last line.
struct CountA: RewardFunction {
    let name = "count_a"
    let length: Int

    func evaluate(_ input: RewardInput) -> RewardResult {
        let total = Double(input.trace.text.filter { $0 == "a" }.count) / Double(length)
        let steps = input.trace.lines.last.map { [StepReward(span: $0.span, reward: total)] } ?? []
        return RewardResult(total: total, components: [RewardComponent(name: name, value: total)], stepRewards: steps)
    }
}

enum ToyTask {
    static let tokenizer = Tokenizer(characters: Array("ab\n"))
    static let newTokens = 6

    static func config(_ advantage: AdvantageEstimator = .gae) -> PPOConfig {
        PPOConfig(learningRate: 3e-3, valueLearningRate: 1e-2, entropyCoefficient: 0, epochs: 2, minibatches: 2,
                  approxKLLimit: nil, klCoefficient: 0.01, klTarget: nil, advantage: advantage,
                  groupSize: advantage == .grpo ? 4 : 1, promptsPerIteration: advantage == .grpo ? 4 : 16,
                  maxNewTokens: newTokens, temperature: .schedule(.constant(temperature: 1)))
    }

    static func modelConfig(vocab: Int) -> TransformerConfig {
        TransformerConfig(vocabSize: vocab, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2,
                          maxPositionEmbeddings: 48)
    }

    /// A trainer whose models all come from `seed`; the reference starts as an exact copy of the policy.
    static func trainer(config: PPOConfig, tokenizer: Tokenizer = tokenizer, reward: CompositeReward? = nil,
                        teacher: Bool = false, seed: UInt64) throws -> PPOTrainer {
        var rng = RandomGenerator(seed: seed)
        let mc = modelConfig(vocab: tokenizer.vocabularySize)
        let policy = try Transformer(config: mc, rng: &rng)
        let reference = try Transformer(config: mc, rng: &rng)
        reference.parameters.copyValues(from: policy.parameters)
        let head = ValueHead(hiddenSize: mc.hiddenSize, rng: &rng)
        let t = teacher ? try Transformer(config: mc, rng: &rng) : nil
        return try PPOTrainer(policy: policy, valueHead: head, reference: reference, teacher: t, tokenizer: tokenizer,
                              reward: reward ?? CompositeReward([WeightedReward(CountA(length: newTokens), weight: 1)]),
                              config: config)
    }

    static func problems(_ n: Int) -> [PPOProblem] {
        (0..<n).map { _ in PPOProblem(question: "b", referenceAnswer: "a") }
    }
}
