import Tensor

/// The benches' training objective: a loss of a (rows, T) block of token ids and targets on one replica's
/// modules, the batch cut into shards by rows. The bench times `TrainingStep` itself with it (the stages'
/// data-parallel step: shards, replicas, weighting, the fixed-order sum), not a copy; every position has a
/// target, so each shard weighs its share of the rows.
final class BenchObjective: TrainingObjective {
    /// A (rows, length) block of ids and next-token targets, rows `first ..< first + rows` of the whole batch.
    struct Batch {
        let x: [Int32], y: [Int32]
        let rows: Int
        var first = 0
    }

    let length: Int
    private let stores: (Int) -> [ParameterStore]
    private let lossOf: (_ replica: Int, _ shard: Batch) -> Tensor

    /// `stores(r)` are replica r's trained stores (0: the modules themselves); `loss(r, shard)` builds a shard's
    /// loss, a mean over its positions, on replica r.
    init(length: Int, stores: @escaping (Int) -> [ParameterStore], loss: @escaping (Int, Batch) -> Tensor) {
        self.length = length
        self.stores = stores
        lossOf = loss
    }

    var trainedStores: [ParameterStore] { stores(0) }
    func replicaStores(_ replica: Int) -> [ParameterStore] { stores(replica) }

    func shards(of batch: Batch, count: Int) -> [Batch] {
        shardRanges(batch.rows, shards: count).map { r in
            let span = (r.lowerBound * length)..<(r.upperBound * length)
            return Batch(x: Array(batch.x[span]), y: Array(batch.y[span]), rows: r.count, first: batch.first + r.lowerBound)
        }
    }

    func size(of shard: Batch) -> ShardSize { ShardSize(targets: shard.rows * length, rows: shard.rows) }

    func loss(_ shard: inout Batch, replica: Int) -> ShardLoss {
        ShardLoss(perTarget: lossOf(replica, shard), metrics: [:])
    }
}

extension TrainingStep where Objective == BenchObjective {
    /// One step's gradients on `batch` (the bench's objective throws nothing and one process cannot fail to reduce).
    func benchGradients(_ batch: BenchObjective.Batch) {
        do {
            _ = try gradients(batch)
        } catch {
            preconditionFailure("the bench's step cannot fail: \(error)")
        }
    }
}
