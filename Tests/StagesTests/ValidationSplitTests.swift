import Distributed
import Model
import PPO
import Reward
import Tensor
import Testing
import Tokenizers

// The greedy validation of ppo-trace and on-policy-distill split across ranks (issue 26): each rank decodes a block of
// the batches of 64 problems (`Collective.mapInOrder`, what the stages pass as `map`), every batch's rows are
// gathered in batch order, and the metrics are added from them. Checked against the one-process evaluation, bit for
// bit, with fake groups of 2 and 3 ranks whose other ranks' bytes were recorded by running those ranks first.

@Suite("greedy validation split across ranks")
struct ValidationSplitTests {
    /// 150 questions: three batches (64, 64, 22), so 2 ranks hold 1 and 2 batches and 3 ranks one each.
    static let problems = (0..<150).map { i in PPOProblem(question: "Compute \(i) + \(i % 7).", referenceAnswer: "\(i + i % 7)") }

    static func model(seed: UInt64) throws -> Transformer {
        var rng = RandomGenerator(seed: seed)
        let config = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 16, intermediateSize: 32,
                                       numHiddenLayers: 1, numAttentionHeads: 2, maxPositionEmbeddings: 64)
        return try Transformer(config: config, rng: &rng)
    }

    /// `evaluate(map)` as every rank of groups of 2 and 3 ranks would run it, each rank's result checked bit for bit
    /// against `one` (the one-process evaluation), and each rank seen decoding exactly its block of the batches.
    private func expectSplitMatches(_ one: PPOEvaluation, _ evaluate: (PPOEvaluation.BatchMap) throws -> PPOEvaluation) throws {
        for size in [2, 3] {
            // first each rank alone, up to its gather: the bytes it sends
            var sent: [[UInt8]] = []
            for rank in 0..<size {
                let group = ScriptedRank(rank: rank, size: size, others: nil)
                do {
                    _ = try evaluate { n, body in try group.mapInOrder(n, body) }
                    Issue.record("rank \(rank) of \(size) did not reach its gather")
                } catch is ScriptedRank.Recorded {}
                sent.append(try #require(group.sent))
            }
            for rank in 0..<size {
                let group = ScriptedRank(rank: rank, size: size, others: sent)
                var decoded: [Int] = []
                var batches = 0
                let split = try evaluate { n, body in
                    batches = n
                    return try group.mapInOrder(n) { j in decoded.append(j); return try body(j) }
                }
                #expect(batches == 3)
                #expect(decoded == Array(group.block(of: 3)), "rank \(rank) of \(size) decoded batches \(decoded)")
                #expect(group.sent == sent[rank], "rank \(rank) of \(size) sent other bytes the second time")
                expectSameBits(split, one, "rank \(rank) of \(size)")
            }
        }
    }

    private func expectSameBits(_ a: PPOEvaluation, _ b: PPOEvaluation, _ who: String) {
        #expect(a.problems == b.problems)
        #expect(Set(a.values.keys) == Set(b.values.keys), "\(who)")
        for (k, v) in b.values { #expect(a.values[k]?.bitPattern == v.bitPattern, "\(who): \(k) \(a.values[k] ?? .nan) vs \(v)") }
    }

    @Test("PPO's greedy validation at 2 and 3 ranks gives one process's metrics bit for bit and leaves the generator as it was")
    func ppoTrainer() throws {
        var rng = RandomGenerator(seed: 3)
        let policy = try Self.model(seed: 1), reference = try Self.model(seed: 1)
        let trainer = try PPOTrainer(policy: policy, valueHead: ValueHead(hiddenSize: 16, rng: &rng), reference: reference, teacher: nil,
                                     codec: .math, reward: CompositeReward(config: RewardConfig()),
                                     config: PPOConfig(maxNewTokens: 24))
        var generator = RandomGenerator(seed: 9)
        let one = try trainer.evaluate(problems: Self.problems, rng: &generator)
        #expect(generator == RandomGenerator(seed: 9))  // greedy draws nothing: every rank starts each batch from it
        #expect(one.problems == 150 && one.completionLength > 0 && one.values.keys.contains { $0.hasPrefix("reward_") })
        // the first batch and the other two score differently (else a rank that sent the wrong batch could go unseen),
        // and one process's means are the problem-weighted means of the two parts (by hand: (64 a + 86 b) / 150)
        var g = RandomGenerator(seed: 9)
        let head = try trainer.evaluate(problems: Array(Self.problems[..<64]), rng: &g)
        let tail = try trainer.evaluate(problems: Array(Self.problems[64...]), rng: &g)
        #expect(head.completionLength != tail.completionLength || head.meanReward != tail.meanReward)
        #expect(abs(one.completionLength - (64 * head.completionLength + 86 * tail.completionLength) / 150) < 1e-9)
        #expect(abs(one.meanReward - (64 * head.meanReward + 86 * tail.meanReward) / 150) < 1e-9)
        try expectSplitMatches(one) { map in
            var g = RandomGenerator(seed: 9)
            defer { #expect(g == RandomGenerator(seed: 9)) }
            return try trainer.evaluate(problems: Self.problems, rng: &g, map: map)
        }
    }

    @Test("on-policy distillation's greedy validation at 2 and 3 ranks gives one process's metrics bit for bit")
    func onPolicyDistiller() throws {
        let distiller = try OnPolicyDistiller(student: Self.model(seed: 4), teacher: Self.model(seed: 5), codec: .math,
                                              reward: CompositeReward(config: RewardConfig()),
                                              config: OnPolicyDistillationConfig(maxNewTokens: 24))
        var generator = RandomGenerator(seed: 9)
        let one = try distiller.evaluate(problems: Self.problems, rng: &generator)
        try expectSplitMatches(one) { map in
            var g = RandomGenerator(seed: 9)
            return try distiller.evaluate(problems: Self.problems, rng: &g, map: map)
        }
    }

    @Test("a rank that sends bytes that are not its batch's rows is a typed error naming the batch, not a crash")
    func unreadableBatch() throws {
        let trainer = try PPOTrainer(policy: Self.model(seed: 1), valueHead: { var r = RandomGenerator(seed: 3); return ValueHead(hiddenSize: 16, rng: &r) }(),
                                     reference: Self.model(seed: 1), teacher: nil, codec: .math,
                                     reward: CompositeReward(config: RewardConfig()), config: PPOConfig(maxNewTokens: 8))
        // rank 1 of 2 holds batches 1 and 2: it sends two items, the first 3 bytes of nothing
        var packed: [UInt8] = []
        for item: [UInt8] in [[1, 2, 3], []] {
            withUnsafeBytes(of: UInt64(item.count).littleEndian) { packed += $0 }
            packed += item
        }
        let group = ScriptedRank(rank: 0, size: 2, others: [[], packed])
        var g = RandomGenerator(seed: 9)
        do {
            _ = try trainer.evaluate(problems: Self.problems, rng: &g) { n, body in try group.mapInOrder(n, body) }
            Issue.record("unreadable rows were accepted")
        } catch let e as PPOError {
            #expect(e == .unreadableEvaluationBatch(batch: 1, problems: 64, bytes: 3))
            #expect("\(e)".hasPrefix("evaluation batch 1 (64 problems) came back as 3 bytes"), "\(e)")
        }
    }
}

/// One rank of a fake group. Without `others` it records what it sends in its first allgather and stops there
/// (`Recorded`); with `others` (every rank's bytes, recorded so) the allgather returns them with this rank's own.
final class ScriptedRank: Collective {
    struct Recorded: Error {}
    let rank: Int
    let size: Int
    let others: [[UInt8]]?
    private(set) var sent: [UInt8]?
    init(rank: Int, size: Int, others: [[UInt8]]?) { self.rank = rank; self.size = size; self.others = others }
    func barrier() throws {}
    func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] { bytes }
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        sent = bytes
        guard let others else { throw Recorded() }
        return (0..<size).map { $0 == rank ? bytes : others[$0] }
    }
    func maximum(_ value: Int64) throws -> Int64 { value }
    func allreduceSum(_ values: inout [Float]) throws { Issue.record("no gradient here") }
    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws { Issue.record("no gradient here") }
    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] { local }
}
