import Foundation
import Model
import Tensor
import TestSupport
import Testing

// The data-parallel `TrainingStep` on a small transformer with tied embeddings (where accumulating two shards into
// one buffer would add in another order than the tree): 2 and 4 shards give the whole batch's gradient, a run
// repeats bit for bit, and two "processes" (a recording reduction) end with the bits of one process.

/// Cross-entropy of next tokens on rows of a (B, T) batch, each shard on its own replica.
final class RowsCrossEntropy: TrainingObjective {
    struct Rows { let x: [Int32], y: [Int32], rows: Int }
    let models: ReplicaSet<Transformer>
    let length: Int
    init(_ model: Transformer, length: Int) {
        models = ReplicaSet(model) { $0.replica() }
        self.length = length
    }
    var trainedStores: [ParameterStore] { [models[0].parameters] }
    func replicaStores(_ replica: Int) -> [ParameterStore] { [models[replica].parameters] }
    func shards(of batch: Rows, count: Int) -> [Rows] {
        shardRanges(batch.rows, shards: count).map { r in
            let span = (r.lowerBound * length)..<(r.upperBound * length)
            return Rows(x: Array(batch.x[span]), y: Array(batch.y[span]), rows: r.count)
        }
    }
    func size(of shard: Rows) -> ShardSize { ShardSize(targets: shard.y.filter { $0 >= 0 }.count, rows: shard.rows) }
    func loss(_ shard: inout Rows, replica: Int) -> ShardLoss {
        let logits = models[replica].forward(tokens: shard.x, batch: shard.rows, length: length).logits
        let ce = crossEntropy(logits, targets: shard.y, ignoreIndex: -100)
        return ShardLoss(perTarget: ce, metrics: ["ce": (Double(ce.item), .target)])
    }
}

/// Two processes in one: rank 1 runs first and leaves its shards' gradients and values here; rank 0 then adds
/// them to its own in `ShardSum`'s order. (Rank 1's own result is not complete; the test reads rank 0's.)
final class RecordingReduction: ShardReduction {
    final class Board { var gradients: [Int: [[Float]]] = [:]; var values: [Int: [[Double]]] = [:] }
    let rank: Int, size = 2
    let board: Board
    init(rank: Int, board: Board) { self.rank = rank; self.board = board }

    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws {
        board.gradients[rank] = local
        guard let other = board.gradients[1 - rank] else { return }
        let all = rank == 0 ? local + other : other + local
        precondition(all.count == shardCount)
        func nest(_ i: Int, _ done: [UnsafeBufferPointer<Float>]) {
            if i == all.count { return total.withUnsafeMutableBufferPointer { ShardSum.tree(done, into: $0) } }
            all[i].withUnsafeBufferPointer { nest(i + 1, done + [$0]) }
        }
        nest(0, [])
    }

    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] {
        board.values[rank] = local
        guard let other = board.values[1 - rank] else { return Array(repeating: local[0], count: shardCount) }
        return rank == 0 ? local + other : other + local
    }
}

@Suite("training step over shards", .serialized)
struct TrainingStepShardTests {
    static let length = 9, rows = 8

    /// A tied-embedding model with weights large enough to matter, and a batch with ignored targets spread unevenly.
    static func setUp() throws -> (model: Transformer, batch: RowsCrossEntropy.Rows) {
        var rng = RandomGenerator(seed: 31)
        let model = try Transformer(config: TinyModels.config(tied: true), rng: &rng)
        for i in 0..<model.parameters.count { model.parameters.values.base[i] += 0.1 * rng.nextNormal() }
        let x = (0..<(rows * length)).map { _ in Int32(rng.nextInt(below: 11)) }
        // row r ignores its first r targets: shards hold different target counts
        let y = (0..<(rows * length)).map { i in i % length < i / length ? Int32(-100) : Int32(rng.nextInt(below: 11)) }
        return (model, RowsCrossEntropy.Rows(x: x, y: y, rows: rows))
    }

    static func gradients(_ store: ParameterStore) -> [Float] { Array(UnsafeBufferPointer(start: store.gradients.base, count: store.count)) }

    @Test("2 and 4 shards give the whole batch's loss and gradient (computed in one pass), and repeat bit for bit")
    func shardCounts() throws {
        let (model, batch) = try Self.setUp()
        #expect(model.config.tieWordEmbeddings)
        // the whole batch in one pass: the reference
        model.parameters.zeroGradients()
        let whole = crossEntropy(model.forward(tokens: batch.x, batch: Self.rows, length: Self.length).logits, targets: batch.y, ignoreIndex: -100)
        whole.backward()
        let reference = Self.gradients(model.parameters)

        var results: [Int: (TrainingStepResult, [Float])] = [:]
        for shards in [2, 4] {
            let step = TrainingStep(RowsCrossEntropy(model, length: Self.length), shardCount: shards)
            let first = try step.gradients(batch)
            let g = Self.gradients(model.parameters)
            let again = try step.gradients(batch)
            #expect(first == again, "\(shards) shards: the same values on a repeat")
            #expect(g.map(\.bitPattern) == Self.gradients(model.parameters).map(\.bitPattern), "\(shards) shards: the same bits on a repeat")
            #expect(first.shards == shards)
            #expect(abs(first.loss - Double(whole.item)) < 1e-5 && abs(first.metrics["ce"]! - Double(whole.item)) < 1e-5)
            allClose(g, reference, rtol: 1e-4, atol: 1e-6, "\(shards) shards against the whole batch")
            results[shards] = (first, g)
        }
        allClose(results[4]!.1, results[2]!.1, rtol: 1e-4, atol: 1e-6, "4 shards against 2")
        #expect(results[4]!.1.map(\.bitPattern) != results[2]!.1.map(\.bitPattern), "4 shards add in another order than 2")
    }

    @Test("two processes of 2 shards each end with the bits of one process running all 4 (the shard-reduction seam)")
    func twoRanks() throws {
        let (model, batch) = try Self.setUp()
        let single = TrainingStep(RowsCrossEntropy(model, length: Self.length), shardCount: 4)
        let one = try single.gradients(batch)
        let expected = Self.gradients(model.parameters)

        // each rank with its own copy of the weights (as separate processes would hold)
        func copy() throws -> Transformer {
            var rng = RandomGenerator(seed: 0)
            let m = try Transformer(config: model.config, rng: &rng)
            m.parameters.copyValues(from: model.parameters)
            return m
        }
        let board = RecordingReduction.Board()
        let rank1 = try copy(), rank0 = try copy()
        _ = try TrainingStep(RowsCrossEntropy(rank1, length: Self.length), shardCount: 4,
                             reduction: RecordingReduction(rank: 1, board: board)).gradients(batch)
        #expect(board.gradients[1]?.count == 2, "rank 1 computes shards 2 and 3")
        let two = try TrainingStep(RowsCrossEntropy(rank0, length: Self.length), shardCount: 4,
                                   reduction: RecordingReduction(rank: 0, board: board)).gradients(batch)
        #expect(Self.gradients(rank0.parameters).map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(two == one)
    }

    @Test("a replica first asked for by shards running at once is made once, each its own (PPO's GRPO loss read the value head's replicas so)")
    func replicasMadeOnceUnderConcurrency() {
        final class Module { let id: Int; init(_ id: Int) { self.id = id } }
        for trial in 0..<50 {
            var madeCount = 0  // counted inside `make`, which runs under the set's lock
            let set = ReplicaSet(Module(0)) { _ in madeCount += 1; usleep(200); return Module(madeCount) }  // a wide window for a race
            let ids = UnsafeMutableBufferPointer<Int>.allocate(capacity: 16)
            defer { ids.deallocate() }
            DispatchQueue.concurrentPerform(iterations: 16) { i in ids[i] = set[1 + i % 4].id }
            #expect(set.replicaCount == 4 && madeCount == 4, "trial \(trial): \(set.replicaCount) replicas, \(madeCount) made")
            #expect((0..<16).allSatisfy { ids[$0] == set[1 + $0 % 4].id }, "trial \(trial): a shard got another replica")
            #expect(Set((1...4).map { set[$0].id }).count == 4 && set[0].id == 0)
        }
    }

    @Test("a batch with fewer shards than processes is a typed error naming both counts")
    func tooFewShards() throws {
        let (model, batch) = try Self.setUp()
        let one = RowsCrossEntropy.Rows(x: Array(batch.x.prefix(Self.length)), y: Array(batch.y.prefix(Self.length)), rows: 1)
        let step = TrainingStep(RowsCrossEntropy(model, length: Self.length), shardCount: 2,
                                reduction: RecordingReduction(rank: 0, board: RecordingReduction.Board()))
        #expect(throws: TrainingStepError.tooFewShards(shards: 1, processes: 2)) { try step.gradients(one) }
        #expect(TrainingStepError.tooFewShards(shards: 1, processes: 2).description.contains("1 shards for 2 processes"))
    }
}
