import Foundation

/// What a training objective computed on one shard of a batch: the loss to minimise in two parts, each a mean
/// over its own unit, and the metrics, each with the unit it averages over. The units let the shards of a batch
/// add up to the whole batch's loss: a shard's per-target part weighs its share of the batch's target tokens,
/// its per-row part its share of the rows (rows are padded to the batch's length).
public struct ShardLoss {
    /// What a loss part or a metric averages over.
    public enum Unit: Sendable { case target, row }
    /// Means over target tokens (cross-entropy, a distillation divergence, PPO's token means); nil when none.
    public var perTarget: Tensor?
    /// Means over rows, every padded position of each counted alike (hidden-state and attention-map MSE).
    public var perRow: Tensor?
    /// The shard's metrics by name, each a mean over `unit`.
    public var metrics: [String: (value: Double, unit: Unit)]

    /// A shard's loss; at least one part must be given.
    public init(perTarget: Tensor? = nil, perRow: Tensor? = nil, metrics: [String: (value: Double, unit: Unit)]) {
        precondition(perTarget != nil || perRow != nil, "ShardLoss: give a per-target or a per-row part")
        self.perTarget = perTarget
        self.perRow = perRow
        self.metrics = metrics
    }

    /// The loss of a shard whose target tokens and rows are these fractions of the whole batch's.
    public func weighted(targetShare: Float, rowShare: Float) -> Tensor {
        let t = perTarget.map { scale($0, targetShare) }, r = perRow.map { scale($0, rowShare) }
        guard let t else { return r! }
        return r.map { add(t, $0) } ?? t
    }
}

/// How big a shard is in the units its loss parts average over.
public struct ShardSize: Sendable, Equatable {
    /// Target tokens (positions that carry a per-target loss).
    public var targets: Int
    /// Rows.
    public var rows: Int

    public init(targets: Int, rows: Int) {
        self.targets = targets
        self.rows = rows
    }
}

/// The loss of one shard of a batch and its metrics: what a training stage, the PPO update or a user's script
/// supplies to `TrainingStep`, which owns the rest (shards, replicas, weighting, the fixed-order sum, clipping).
/// A new loss is one conforming type, not a copy of the step (as TRL's trainers differ only in `compute_loss`).
///
/// Replicas: shard `l` of the shards this process computes runs on replica `l`; replica 0 is the objective's own
/// modules, replica r >= 1 modules over the same weights with gradients of their own (`Transformer.replica()`),
/// so the shards run at once, one per core, and their gradients stay apart until `ShardSum` adds them.
public protocol TrainingObjective: AnyObject {
    /// What one step trains on (a padded batch of traces, a PPO minibatch).
    associatedtype Batch
    /// One shard of a batch, with whatever its loss needs (its rows, its dropout generator).
    associatedtype Shard

    /// The parameter stores the step trains, in a fixed order (the order of the flattened gradient).
    var trainedStores: [ParameterStore] { get }
    /// The stores of replica `replica` (>= 1), in `trainedStores`' order: the same values, gradients of their
    /// own. Called on the calling thread before the shards run, so a replica may be made on first use here.
    func replicaStores(_ replica: Int) -> [ParameterStore]
    /// `batch` cut into `count` shards (fewer when it has fewer rows), fixed by the batch alone, never by the
    /// thread or process count. Runs on the calling thread of every process with the same batch: draw any
    /// per-shard randomness (dropout generators) here, in shard order.
    func shards(of batch: Batch, count: Int) throws -> [Shard]
    /// The sizes the step weighs a shard's loss parts and metrics by.
    func size(of shard: Shard) -> ShardSize
    /// The loss of `shard` on replica `replica`'s modules. Shards run concurrently, each on its own replica.
    func loss(_ shard: inout Shard, replica: Int) throws -> ShardLoss
}

/// Replicas of a module made on first use: `self[0]` is the module itself, `self[r]` (r >= 1) its r-th replica.
/// Make the replicas a step needs (through `TrainingObjective.replicaStores`) before the shards run concurrently.
/// A replica first asked for from concurrent shards is still made once: the list of replicas is behind a lock (two
/// shards that each appended one at once corrupted the heap: `make demo` crashed so on 2026-12-06 in PPO's update,
/// whose GRPO loss reads the value head's replicas, which its `replicaStores` did not make).
public final class ReplicaSet<Module> {
    /// The module itself (replica 0).
    public let module: Module
    private let make: (Module) -> Module
    private var made: [Module] = []
    private let lock = NSLock()

    /// `make` builds a replica of the module (weights shared, gradients its own).
    public init(_ module: Module, make: @escaping (Module) -> Module) {
        self.module = module
        self.make = make
    }

    /// Replica `r` (0: the module), made here if it does not exist yet.
    public subscript(_ r: Int) -> Module {
        if r == 0 { return module }
        lock.lock()
        defer { lock.unlock() }
        while made.count < r { made.append(make(module)) }
        return made[r - 1]
    }

    /// Replicas made so far (replica 0, the module, not counted).
    public var replicaCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return made.count
    }
}
