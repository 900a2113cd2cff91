import Dispatch

/// The data-parallel training step: one objective's batch cut into fixed shards, each shard's loss (weighted by
/// its share of the batch in its own unit) backpropagated on its own replica, one per core (`Parallel.split`; a
/// step of 16 rows is too small to split op by op), then the shards' gradients added in `ShardSum`'s fixed order
/// through a `ShardReduction` (one process: `LocalReduction`; MPI ranks: each computes a block of the shards).
/// The shards are fixed by the batch, so a step computes the same bits with any thread count and a resumed run
/// stays bit-identical. Clipping (`clipGradients`) is one global norm over every trained store.
///
/// The caller then steps its optimizers: the step owns no learning rate.
public final class TrainingStep<Objective: TrainingObjective> {
    /// The loss of a shard.
    public let objective: Objective
    /// Shards per batch (2 by default: one per core of the machine; an MPI run may use 4 or 8).
    public let shardCount: Int
    /// How the shards' gradients and values are added across processes.
    public let reduction: ShardReduction

    /// - Parameters:
    ///   - shardCount: shards per batch (>= 1); a batch with fewer rows runs one shard per row.
    ///   - reduction: the processes this step spans (default: this one alone).
    public init(_ objective: Objective, shardCount: Int = 2, reduction: ShardReduction = LocalReduction()) {
        precondition(shardCount >= 1, "TrainingStep: shardCount \(shardCount) must be at least 1")
        self.objective = objective
        self.shardCount = shardCount
        self.reduction = reduction
    }

    /// Sets every trained store's gradients to those of `batch`'s loss (identical on every process) and returns
    /// the loss and the metrics, each the sum of the shards' values weighted by their share in its unit. A shard
    /// whose loss is not finite is not backpropagated: check `loss.isFinite` before stepping.
    /// - Throws: what the objective throws; `TrainingStepError.tooFewShards` when there are fewer shards than
    ///   processes; what the reduction throws.
    public func gradients(_ batch: Objective.Batch) throws -> TrainingStepResult {
        var shards = try objective.shards(of: batch, count: shardCount)
        let n = shards.count, rank = reduction.rank, size = reduction.size
        guard n >= size else { throw TrainingStepError.tooFewShards(shards: n, processes: size) }
        let sizes = shards.map { objective.size(of: $0) }
        let targets = sizes.reduce(0) { $0 + $1.targets }, rows = sizes.reduce(0) { $0 + $1.rows }
        let targetShares = sizes.map { Float($0.targets) / Float(max(targets, 1)) }
        let rowShares = sizes.map { Float($0.rows) / Float(max(rows, 1)) }
        let first = rank * n / size, count = (rank + 1) * n / size - first

        let stores = objective.trainedStores
        let replicas = (0..<count).map { $0 == 0 ? stores : objective.replicaStores($0) }
        for r in replicas { for s in r { s.zeroGradients() } }
        var results = [Result<(ShardLoss, Double), Error>?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { out in
            shards.withUnsafeMutableBufferPointer { shards in
                Parallel.split(count) { l in
                    out[l] = Result {
                        let i = first + l
                        let part = try objective.loss(&shards[i], replica: l)
                        let loss = part.weighted(targetShare: targetShares[i], rowShare: rowShares[i])
                        let value = Double(loss.item)
                        if value.isFinite { loss.backward() }
                        return (part, value)
                    }
                }
            }
        }
        let done = try results.map { try $0!.get() }
        try reduce(replicas, first: first, shardCount: n)

        // every shard's loss and metrics, in global shard order on every process
        let keys = done[0].0.metrics.keys.sorted()
        let units = keys.map { done[0].0.metrics[$0]!.unit }
        let local = done.map { part, value in [value] + keys.map { part.metrics[$0]?.value ?? .nan } }
        let all = size == 1 ? local : try reduction.gather(local: local, first: first, shardCount: n)
        // metrics weighted in double precision (the losses' float shares would cost them 7 digits)
        let targetWeights = sizes.map { Double($0.targets) / Double(max(targets, 1)) }
        let rowWeights = sizes.map { Double($0.rows) / Double(max(rows, 1)) }
        var metrics: [String: Double] = [:]
        for (i, values) in all.enumerated() {
            for (k, key) in keys.enumerated() {
                metrics[key, default: 0] += values[1 + k] * (units[k] == .target ? targetWeights[i] : rowWeights[i])
            }
        }
        return TrainingStepResult(loss: all.reduce(0) { $0 + $1[0] }, metrics: metrics, shards: n)
    }

    /// Adds the local shards' gradients (replica l holds shard first + l) and, across processes, every rank's,
    /// into the trained stores.
    private func reduce(_ replicas: [[ParameterStore]], first: Int, shardCount: Int) throws {
        let stores = replicas[0]
        if reduction.size == 1 {
            // one process: the tree store by store, in place, no flattening (the same bits as the flattened tree)
            guard replicas.count > 1 else { return }
            for (k, store) in stores.enumerated() {
                let shards = replicas.map { UnsafeBufferPointer(start: UnsafePointer($0[k].gradients.base), count: store.count) }
                ShardSum.tree(shards, into: UnsafeMutableBufferPointer(start: store.gradients.base, count: store.count))
            }
            return
        }
        let length = stores.reduce(0) { $0 + $1.count }
        let local = replicas.map { r in
            var flat = [Float]()
            flat.reserveCapacity(length)
            for s in r { flat += UnsafeBufferPointer(start: s.gradients.base, count: s.count) }
            return flat
        }
        var total = [Float](repeating: 0, count: length)
        try reduction.sum(local: local, first: first, shardCount: shardCount, into: &total)
        precondition(total.count == length, "ShardReduction.sum returned \(total.count) values for \(length)")
        var offset = 0
        total.withUnsafeBufferPointer { t in
            for s in stores {
                s.gradients.base.update(from: t.baseAddress! + offset, count: s.count)
                offset += s.count
            }
        }
    }

    /// Global-norm clipping over every trained store together (`GradientClip.apply`); returns the norm before
    /// clipping. nil `maxNorm` only measures.
    @discardableResult
    public func clipGradients(maxNorm: Float?) -> Float { GradientClip.apply(to: objective.trainedStores, maxNorm: maxNorm) }
}

/// What one `TrainingStep.gradients` computed.
public struct TrainingStepResult: Sendable, Equatable {
    /// The batch's loss: the sum of the shards' weighted losses, in shard order.
    public var loss: Double
    /// The objective's metrics, each the sum of the shards' values weighted by their share in the metric's unit.
    public var metrics: [String: Double]
    /// Shards the batch ran as.
    public var shards: Int
}

/// A step that cannot run.
public enum TrainingStepError: Error, CustomStringConvertible, Equatable {
    /// The batch makes fewer shards than there are processes.
    case tooFewShards(shards: Int, processes: Int)

    public var description: String {
        switch self {
        case .tooFewShards(let shards, let processes):
            return "a step's batch made \(shards) shards for \(processes) processes; give each process at least one: raise the batch size "
                + "(or the shard count) to at least \(processes), or run fewer processes"
        }
    }
}

/// Global-norm gradient clipping over several stores together, as `torch.nn.utils.clip_grad_norm_` over their
/// parameter lists: the norm of the concatenated gradients, and when it exceeds `maxNorm` every trainable
/// gradient scaled by maxNorm / (norm + 1e-6), so the direction of the whole is kept.
public enum GradientClip {
    /// Clips `stores` together; returns the norm before clipping (nil `maxNorm`: measures only). A norm that is
    /// not finite is returned unclipped (a caller skips such a step).
    @discardableResult
    public static func apply(to stores: [ParameterStore], maxNorm: Float?) -> Float {
        let norm = stores.count == 1 ? stores[0].gradientNorm()
            : stores.reduce(Float(0)) { let n = $1.gradientNorm(); return $0 + n * n }.squareRoot()
        guard let maxNorm, norm > maxNorm, norm.isFinite else { return norm }
        let k = maxNorm / (norm + 1e-6)
        for s in stores { s.scaleTrainableGradients(by: k) }
        return norm
    }
}

/// Cuts `0..<count` into `shards` contiguous ranges (fewer when `count` is smaller; none when 0), the earlier
/// ones longer by one when it does not divide: for 2 shards the halves of `Parallel.halves`.
public func shardRanges(_ count: Int, shards: Int) -> [Range<Int>] {
    let k = min(shards, count)
    return (0..<k).map { i in ((count * i + k - 1) / k)..<((count * (i + 1) + k - 1) / k) }
}
