import Checkpoint
import Distributed
import Eval
import Model
import PPO
import Reward
import Tensor
import Testing
import TestSupport
import Tokenizers

// Sampling split across ranks (issue 26): every sampled row draws from its own stream, a call's rows decode in fixed
// batches (`RowSplit`), each rank decodes a block of them and the rows are gathered in row order. Checked against one
// process, bit for bit, with fake groups of 2 and 3 ranks whose other ranks' bytes are recorded by running them first,
// one gather at a time (`ReplayedRank`).

@Suite("sampling split across ranks")
struct SamplingSplitTests {
    static let problems = (0..<10).map { i in PPOProblem(question: "Compute \(i) + \(i % 3).", referenceAnswer: "\(i + i % 3)") }

    /// `run(group)` as every rank of groups of 2 and 3 would run it, each rank's result handed to `check` with its rank
    /// and size. The other ranks' bytes of gather k are recorded by running each rank up to gather k first.
    static func asRanks<T>(sizes: [Int] = [2, 3], checksResend: Bool = true, _ run: (ReplayedRank) throws -> T,
                           check: (T, Int, Int) throws -> Void) throws {
        for size in sizes {
            var gathers: [[[UInt8]]] = []  // [gather][rank]
            while true {
                var next: [[UInt8]] = []
                var finished = 0
                for rank in 0..<size {
                    let group = ReplayedRank(rank: rank, size: size, known: gathers, checksResend: checksResend)
                    do {
                        let result = try run(group)
                        finished += 1
                        if gathers.count == group.gathersMade { try check(result, rank, size) }
                    } catch is ReplayedRank.Recorded {
                        next.append(group.lastSent!)
                    }
                }
                if finished == size { break }
                try #require(next.count == size, "ranks of \(size) disagree on their number of gathers")
                gathers.append(next)
            }
        }
    }

    @Test("a split generation over 2 and 3 ranks is one process's, bit for bit; each rank decodes only its block of the fixed batches")
    func generation() throws {
        let model = try ValidationSplitTests.model(seed: 21)
        let prompts = try Self.problems.map { try TraceCodec.math.prompt(question: $0.question) }
        let base = RandomGenerator(seed: 4)
        let streams = prompts.indices.map { base.substream(question: $0 / 2, sample: $0 % 2) }
        let options = SamplingOptions(temperature: 1, maxNewTokens: 12, stopTokens: [])
        let one = try model.generate(prompts: prompts, options: options, streams: streams, split: .inOneProcess(parts: 4))
        #expect(Set(one.tokens).count > 5, "the rows should differ, or their order would not be tested")
        try Self.asRanks({ group -> (Generation, [Int]) in
            var decoded: [Int] = []
            let split = RowSplit(parts: 4, block: group.block(of:), map: { n, body in
                try group.mapInOrder(n) { j in decoded.append(j); return try body(j) }
            })
            return (try model.generate(prompts: prompts, options: options, streams: streams, split: split), decoded)
        }, check: { result, rank, size in
            let (g, decoded) = result
            #expect(decoded == Array(ReplayedRank(rank: rank, size: size, known: []).block(of: 4)), "rank \(rank) of \(size) decoded \(decoded)")
            expectSameBits(g, one, "rank \(rank) of \(size)")
        })
    }

    @Test("a row's tokens depend on its prompt and stream only: decoded alone, or among other rows, they are the same")
    func rowAlone() throws {
        let model = try ValidationSplitTests.model(seed: 22)
        let prompts = try Self.problems.map { try TraceCodec.math.prompt(question: $0.question) }
        let base = RandomGenerator(seed: 8)
        let streams = prompts.indices.map { base.substream(question: $0, sample: 0) }
        let options = SamplingOptions(temperature: 1.2, maxNewTokens: 10, stopTokens: [])
        let all = model.generate(prompts: prompts, options: options, streams: streams)
        for row in [0, 3, 9] {
            let alone = model.generate(prompts: [prompts[row]], options: options, streams: [streams[row]])
            #expect(alone.tokens[0] == all.tokens[row], "row \(row)")
            allClose(alone.logProbs[0], all.logProbs[row], rtol: 1e-4, atol: 1e-5, "row \(row) log-probs")
        }
        // another stream for row 3 changes row 3 and nothing else
        var other = streams
        other[3] = base.substream(question: 3, sample: 1)
        let changed = model.generate(prompts: prompts, options: options, streams: other)
        #expect(changed.tokens[3] != all.tokens[3])
        #expect(changed.tokens.indices.filter { $0 != 3 }.allSatisfy { changed.tokens[$0] == all.tokens[$0] })
    }

    @Test("one PPO iteration with its rollout sampled by 2 and 3 ranks ends with one process's weights and metrics, bit for bit")
    func ppoIteration() throws {
        func trainer(_ split: RowSplit) throws -> PPOTrainer {
            var rng = RandomGenerator(seed: 3)
            let t = try PPOTrainer(policy: ValidationSplitTests.model(seed: 1), valueHead: ValueHead(hiddenSize: 16, rng: &rng),
                                   reference: ValidationSplitTests.model(seed: 1), teacher: nil, codec: .math,
                                   reward: CompositeReward(config: RewardConfig()),
                                   config: PPOConfig(learningRate: 1e-3, minibatches: 2, advantage: .grpo, groupSize: 3, maxNewTokens: 12))
            t.sampling = split
            return t
        }
        func iterate(_ t: PPOTrainer) throws -> (String, [String: Double], RandomGenerator) {
            var rng = RandomGenerator(seed: 11)
            var m = try t.iterate(problems: Self.problems, rng: &rng)
            m.seconds = 0; m.tokensPerSecond = 0
            return (parameterHash(t.policy.parameters), m.values, rng)
        }
        let reference = try trainer(.inOneProcess(parts: 6))
        let before = parameterHash(reference.policy.parameters)
        let one = try iterate(reference)
        #expect(one.0 != before, "the update should change the policy")
        try Self.asRanks({ group in
            try iterate(trainer(RowSplit(parts: 6, block: group.block(of:), map: { try group.mapInOrder($0, $1) })))
        }, check: { result, rank, size in
            #expect(result.0 == one.0, "rank \(rank) of \(size): other policy weights")
            #expect(result.2 == one.2, "rank \(rank) of \(size): the generator moved differently")
            for (k, v) in one.1 { #expect(result.1[k]?.bitPattern == v.bitPattern, "rank \(rank) of \(size): \(k)") }
        })
    }

    @Test("one on-policy distillation iteration sampled by 2 and 3 ranks ends with one process's student, bit for bit")
    func onPolicyIteration() throws {
        func iterate(_ split: RowSplit) throws -> String {
            let d = try OnPolicyDistiller(student: ValidationSplitTests.model(seed: 4), teacher: ValidationSplitTests.model(seed: 5), codec: .math,
                                          reward: CompositeReward(config: RewardConfig()),
                                          config: OnPolicyDistillationConfig(objective: .reverseKLPolicyGradient, learningRate: 1e-3,
                                                                             samplesPerPrompt: 2, maxNewTokens: 12))
            d.sampling = split
            var rng = RandomGenerator(seed: 6)
            _ = try d.iterate(problems: Self.problems, rng: &rng)
            return parameterHash(d.student.parameters)
        }
        let one = try iterate(.inOneProcess(parts: 4))
        #expect(one != parameterHash(try ValidationSplitTests.model(seed: 4).parameters))
        try Self.asRanks({ group in
            try iterate(RowSplit(parts: 4, block: group.block(of:), map: { try group.mapInOrder($0, $1) }))
        }, check: { result, rank, size in #expect(result == one, "rank \(rank) of \(size): other student weights") })
    }

    @Test("an evaluation with pass@k, its greedy and sampled batches decoded by 2 and 3 ranks, is one process's report but for timing")
    func evaluation() throws {
        let model = try ValidationSplitTests.model(seed: 23)
        let problems = (0..<9).map { i in
            EvalProblem(id: "p\(i)", domain: "addition", question: "Compute \(i) + 4.", referenceSteps: ["\(i) + 4 = \(i + 4)"],
                        referenceAnswer: "\(i + 4)", line: i + 1)
        }
        let suite = EvalSuite(name: "tiny", source: "test", format: .traces, problems: problems)
        let evaluator = try Evaluator(config: EvalConfig(maxNewTokens: 10, batchSize: 4, samples: 3, ks: [1, 3], temperature: 1, seed: 2))
        let one = try evaluator.evaluate(model: model, codec: .math, suite: suite, label: "s", role: "student")
        #expect(one.sampling?.generatedTokens ?? 0 > 0)
        // each batch's bytes carry the seconds it took, so a rank run again sends other bytes: no resend check
        try Self.asRanks(checksResend: false, { group in
            try evaluator.evaluate(model: model, codec: .math, suite: suite, label: "s", role: "student",
                                   batches: { try group.mapInOrder($0, $1) })
        }, check: { r, rank, size in
            #expect(r.problems == one.problems, "rank \(rank) of \(size): problem results")
            #expect(r.greedy == one.greedy && r.domains == one.domains, "rank \(rank) of \(size): greedy metrics")
            #expect(r.timing.generatedTokens == one.timing.generatedTokens)
            var a = try #require(r.sampling), b = try #require(one.sampling)
            (a.seconds, a.tokensPerSecond, b.seconds, b.tokensPerSecond) = (0, 0, 0, 0)
            #expect(a == b, "rank \(rank) of \(size): sampling metrics")
        })
    }

    @Test("a rank that sends bytes that are not its batch's rows is a typed error naming the batch, not a crash")
    func unreadablePart() throws {
        let model = try ValidationSplitTests.model(seed: 21)
        let prompts: [[Int32]] = [[1, 2], [1, 3], [1, 4], [1, 5]]
        let streams = prompts.indices.map { RandomGenerator(seed: 1).substream(question: $0, sample: 0) }
        // rank 1 of 2 holds part 1 and sends 5 bytes for it
        var packed: [UInt8] = []
        withUnsafeBytes(of: UInt64(5).littleEndian) { packed += $0 }
        packed += [1, 2, 3, 4, 5]
        let group = ScriptedRank(rank: 0, size: 2, others: [[], packed])
        let split = RowSplit(parts: 2, block: group.block(of:), map: { try group.mapInOrder($0, $1) })
        #expect(throws: GenerationSplitError.unreadablePart(part: 1, rows: 2, bytes: 5)) {
            try model.generate(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: 4), streams: streams, split: split)
        }
        // a whole part's bytes cut anywhere are refused, never read past their end
        let g = model.generate(prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: 4, stopTokens: []), streams: streams)
        let bytes = g.bytes
        #expect(Generation(bytes: bytes).map { $0.tokens == g.tokens && $0.logProbs == g.logProbs } == true)
        for cut in [1, 8, 23, 24 + 7, bytes.count - 1] { #expect(Generation(bytes: Array(bytes.prefix(cut))) == nil, "cut at \(cut)") }
    }

    @Test("distill report's KL to the teacher, its fixed batches computed by 2 and 3 ranks, is one process's value, bit for bit")
    func teacherDivergence() throws {
        let teacher = try ValidationSplitTests.model(seed: 24), student = try ValidationSplitTests.model(seed: 25)
        let problems = (0..<9).map { i in
            EvalProblem(id: "p\(i)", domain: "addition", question: "Compute \(i) + \(10 * i).", referenceSteps: ["\(i) + \(10 * i) = \(11 * i)"],
                        referenceAnswer: "\(11 * i)", line: i + 1)
        }
        // 9 problems in batches of 2: 5 batches, so that 2 and 3 ranks hold blocks of unequal size
        let one = try #require(TeacherDivergence.meanKL(teacher: teacher, student: student, codec: .math, problems: problems, batchSize: 2))
        #expect(one > 1e-3, "two different models should be measurably apart: \(one)")
        try Self.asRanks({ group -> (Double?, [Int]) in
            var computed: [Int] = []
            let kl = try TeacherDivergence.meanKL(teacher: teacher, student: student, codec: .math, problems: problems, batchSize: 2,
                                                  batches: { n, body in try group.mapInOrder(n) { j in computed.append(j); return try body(j) } })
            return (kl, computed)
        }, check: { result, rank, size in
            #expect(result.1 == Array(ReplayedRank(rank: rank, size: size, known: []).block(of: 5)), "rank \(rank) of \(size) computed batches \(result.1)")
            #expect(result.0?.bitPattern == one.bitPattern, "rank \(rank) of \(size): \(String(describing: result.0)) against \(one)")
        })
        // a rank that sends a batch cut short is named as a typed error, not read past its end
        var packed: [UInt8] = []
        withUnsafeBytes(of: UInt64(12).littleEndian) { packed += $0 }
        packed += [UInt8](repeating: 0, count: 12)
        let group = ScriptedRank(rank: 0, size: 2, others: [[], packed + packed])
        #expect(throws: EvalError.unreadableBatch(batch: 2, rows: 1, bytes: 12)) {
            try TeacherDivergence.meanKL(teacher: teacher, student: student, codec: .math, problems: Array(problems.prefix(4)), batchSize: 1,
                                         batches: { try group.mapInOrder($0, $1) })
        }
    }

    private func expectSameBits(_ a: Generation, _ b: Generation, _ who: String) {
        #expect(a.tokens == b.tokens, "\(who): tokens")
        #expect(a.logProbs.map { $0.map(\.bitPattern) } == b.logProbs.map { $0.map(\.bitPattern) }, "\(who): log-probs")
        #expect(a.entropies.map { $0.map(\.bitPattern) } == b.entropies.map { $0.map(\.bitPattern) }, "\(who): entropies")
        #expect(a.finishReasons == b.finishReasons && a.nonFiniteLogitsAt == b.nonFiniteLogitsAt, "\(who): ends")
    }
}

/// One rank of a fake group that knows the other ranks' bytes of its first `known.count` gathers: those return every
/// rank's bytes in rank order; the next one records what this rank sends and stops there (`Recorded`).
final class ReplayedRank: Collective {
    struct Recorded: Error {}
    let rank: Int
    let size: Int
    let known: [[[UInt8]]]
    private(set) var gathersMade = 0
    private(set) var lastSent: [UInt8]?
    /// Whether a gather already recorded must be sent again byte for byte (off where the bytes carry a measured time).
    let checksResend: Bool
    init(rank: Int, size: Int, known: [[[UInt8]]], checksResend: Bool = true) {
        self.rank = rank; self.size = size; self.known = known; self.checksResend = checksResend
    }
    func barrier() throws {}
    func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] { bytes }
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        lastSent = bytes
        guard gathersMade < known.count else { throw Recorded() }
        defer { gathersMade += 1 }
        if checksResend {
            #expect(known[gathersMade][rank] == bytes, "rank \(rank) of \(size) sent other bytes in gather \(gathersMade) the second time")
        }
        return known[gathersMade]
    }
    func maximum(_ value: Int64) throws -> Int64 { value }
    func allreduceSum(_ values: inout [Float]) throws { Issue.record("no gradient here") }
    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws { Issue.record("no gradient here") }
    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] { local }
}
