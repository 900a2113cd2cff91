import Checkpoint
import Distributed
import Foundation
import Model
import Tensor

/// A `TrainingObjective` over padded batches of traces, as the training stages run it: the loss of a shard (in
/// `TrainingObjective`), the validation metrics, and the hooks around a step. `TrainingStage` owns the rest.
protocol StageObjective: TrainingObjective where Batch == TraceBatch, Shard == TraceShard {
    /// The model the stage trains (the first trained store is its parameters).
    var model: Transformer { get }
    /// Every store the optimizer updates, by role (the model first), in `trainedStores`' order.
    var trained: [(role: String, store: ParameterStore)] { get }
    /// The run: its generator forks each shard's dropout generator.
    var context: RunContext { get }
    /// Called on the calling thread before step `step` with its batch's example rows and, when another step
    /// follows, the rows it will draw: a kind reads what the batch needs from files here (the top-k targets cache).
    func prepare(rows: [Int], next: [Int]?, step: Int) throws
    /// The validation metrics of one batch (each a mean over the batch's target tokens); `validation/loss` is the
    /// value early stopping watches.
    func validationMetrics(_ batch: TraceBatch, context: RunContext) throws -> [String: Double]
    /// Called when the stage completes, after the best weights were put back.
    func finish(_ context: RunContext) throws
}

/// One shard of a training batch: its rows (padded to the batch's length), where it stands among the batch's
/// shards, and its dropout generator (nil when the model has none).
struct TraceShard {
    let batch: TraceBatch
    let index: Int
    let count: Int
    var dropout: RandomGenerator?
}

extension StageObjective {
    var trainedStores: [ParameterStore] { trained.map(\.store) }

    func shards(of batch: TraceBatch, count: Int) -> [TraceShard] {
        let parts = batch.shards(count)
        // one dropout generator per shard, forked in shard order: the same draws with any thread or process count
        return parts.enumerated().map { i, part in
            TraceShard(batch: part, index: i, count: parts.count, dropout: model.dropoutProbability > 0 ? context.rng.fork() : nil)
        }
    }

    func size(of shard: TraceShard) -> ShardSize { ShardSize(targets: shard.batch.targetCount, rows: shard.batch.batch) }

    func prepare(rows: [Int], next: [Int]?, step: Int) throws {}
    func finish(_ context: RunContext) throws {}
}

/// A stage that trains a transformer on traces with one `StageObjective`: the seeded data cursor, AdamW with
/// cosine warmup, the data-parallel `TrainingStep` (the batch's shards at once, one per core, on replicas of the
/// trained models; global-norm clipping over every trained store), dropout from the run generator, validation
/// every N steps, early stopping with patience and the best weights kept (as role `<model>_best`), the weights
/// the stage started from included (validated before the first step).
///
/// The step's shards are fixed by the row count, so a step computes the same bits with any thread count and a
/// resumed run stays bit-identical.
final class TrainingStage<Objective: StageObjective>: Stage {
    let settings: TrainingSettings
    let index: Int
    /// The loss of a shard and the validation metrics.
    let objective: Objective
    /// The data-parallel step over the objective.
    let trainingStep: TrainingStep<Objective>
    /// The model this stage trains and its checkpoint role.
    var model: Transformer { objective.model }
    let modelRole: String
    let optimizers: [(role: String, optimizer: AdamW)]
    let examples: [TokenizedTrace]
    let validationExamples: [TokenizedTrace]
    var cursor: DataCursor
    var early: EarlyStopping
    private(set) var step = 0
    var totalSteps: Int { settings.steps }
    private let bestRole: String

    init(settings: TrainingSettings, index: Int, context: RunContext, objective: Objective, modelRole: String,
         examples: [TokenizedTrace], validationExamples: [TokenizedTrace]) throws {
        guard !examples.isEmpty else {
            throw StageError.noData(stage: index, reason: "there are no training traces for this stage")
        }
        self.settings = settings
        self.index = index
        self.objective = objective
        // under mpirun each rank computes its block of the shards and the gradients are summed in ShardSum's order
        trainingStep = TrainingStep(objective, shardCount: context.curriculum.run.gradientShards, reduction: context.group)
        self.modelRole = modelRole
        self.optimizers = objective.trained.map { ($0.role, AdamW(store: $0.store, weightDecay: settings.weightDecay)) }
        self.examples = examples
        self.validationExamples = validationExamples
        cursor = DataCursor(count: examples.count, seed: context.curriculum.seed &+ UInt64(index) &* 1_000_003)
        early = EarlyStopping(patience: settings.patience)
        bestRole = modelRole + "_best"
        context.setOptimizers(optimizers)
        let model = objective.model
        // without `dropout:` the model's own rate, not one an earlier stage set: a resumed run rebuilds its models at
        // their own rates, so inheriting the earlier stage's would make it differ from the uninterrupted run
        model.dropoutProbability = settings.dropout
            ?? (modelRole == "teacher" ? model.config.hiddenDropout : context.curriculum.models.studentDropout)
        if settings.restoreBest { context.registerCopy(of: model, role: bestRole) }
    }

    func advance(_ context: RunContext) throws -> [String: Double] {
        if step == 0 && settings.restoreBest && early.bestStep < 0 {
            // the weights the stage starts from are a candidate too: a stage never hands on a model that
            // validates worse than the one it received
            if let loss = try validationPass(context)["validation/loss"] { _ = record(loss, context: context) }
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let rows = cursor.next(settings.batchSize)
        // the cursor already stands after `rows`: a copy draws the next step's rows
        var peek = cursor
        try objective.prepare(rows: rows, next: step + 1 < settings.steps ? peek.next(settings.batchSize) : nil, step: step)
        let batch = TraceBatch(rows.map { examples[$0] })
        let result = try trainingStep.gradients(batch)
        guard result.loss.isFinite else {
            throw StageError.diverged(stage: index, step: step, reason: "the loss is \(result.loss); lower learning_rate or raise gradient_clip's strictness")
        }
        let norm = trainingStep.clipGradients(maxNorm: settings.gradientClip)
        let lr = settings.schedule.rate(at: step)
        for o in optimizers { o.optimizer.step(learningRate: lr) }
        step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var metrics = result.metrics
        metrics["loss"] = result.loss
        metrics["learning_rate"] = Double(lr)
        metrics["grad_norm"] = Double(norm)
        metrics["tokens_per_second"] = Double(batch.batch * batch.length) / max(seconds, 1e-9)
        metrics["epoch"] = Double(cursor.position.epoch)
        return metrics
    }

    var isEvaluationDue: Bool { settings.evaluationDue(after: step) }

    func evaluate(_ context: RunContext) throws -> StageEvaluation {
        let metrics = try validationPass(context)
        guard let loss = metrics["validation/loss"] else { return StageEvaluation(metrics: metrics) }
        let stop = record(loss, context: context)
        var out = metrics
        out["validation/best_loss"] = early.best
        return StageEvaluation(metrics: out, validationLoss: loss, stop: stop)
    }

    /// Feeds a validation loss of the current step to early stopping and keeps the weights when they are the
    /// best so far; returns whether patience ran out.
    private func record(_ loss: Double, context: RunContext) -> Bool {
        let (improved, stop) = early.update(loss, step: step)
        if improved, settings.restoreBest, let best = context.store(role: bestRole) { best.copyValues(from: model.parameters) }
        return stop
    }

    /// The validation metrics over the whole validation split (each batch's weighted by its target tokens). Under
    /// mpirun each rank computes a block of the batches and the ranks gather every batch's metrics in batch order, so
    /// the sums below add in the same order, to the same bits, for any number of ranks.
    private func validationPass(_ context: RunContext) throws -> [String: Double] {
        let batches = stride(from: 0, to: validationExamples.count, by: settings.batchSize).map {
            $0 ..< min($0 + settings.batchSize, validationExamples.count)
        }
        let results = try withNoGrad {
            try context.group.mapInOrder(batches.count) { j in
                let batch = TraceBatch(Array(validationExamples[batches[j]]))
                var metrics = try objective.validationMetrics(batch, context: context)
                metrics[Self.weightKey] = Double(batch.targetCount)
                return MetricBytes.encode(metrics)
            }
        }
        var sums: [String: Double] = [:]
        var weight = 0.0
        for (j, bytes) in results.enumerated() {
            guard var metrics = MetricBytes.decode(bytes), let w = metrics.removeValue(forKey: Self.weightKey) else {
                let n = batches.count, size = context.group.size
                throw DistributedError.rankFailed(rank: (0..<size).first { $0 * n / size <= j && j < ($0 + 1) * n / size } ?? 0, size: size,
                                                  reason: "sent validation batch \(j)'s metrics in \(bytes.count) bytes that do not decode")
            }
            for (k, v) in metrics { sums[k, default: 0] += v * w }
            weight += w
        }
        return sums.mapValues { $0 / max(weight, 1) }
    }

    /// A batch's weight (its target tokens) beside its metrics in what a rank sends.
    private static var weightKey: String { "\u{0}weight" }

    func progress() -> StageProgress {
        StageProgress(step: step, data: cursor.position, controllers: ["early_stopping": early.state])
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        step = progress.step
        cursor = DataCursor(count: cursor.count, seed: cursor.seed, position: progress.data)
        early.restore(progress.controllers["early_stopping"])
    }

    func finish(_ context: RunContext) throws {
        if settings.restoreBest, early.bestStep >= 0, let best = context.store(role: bestRole) {
            model.parameters.copyValues(from: best)
            if early.bestStep == 0 {
                context.logger.info("\(modelRole): kept the weights the stage started from: no step improved on their validation loss \(early.best)")
            } else {
                context.logger.info("\(modelRole): kept the weights of step \(early.bestStep) (validation loss \(early.best))")
            }
        }
        context.unregister(role: bestRole)
        context.setOptimizers([])
        try objective.finish(context)
    }
}

/// A stage that cannot go on.
public enum StageError: Error, CustomStringConvertible, Equatable {
    /// The stage has nothing to train on.
    case noData(stage: Int, reason: String)
    /// The loss stopped being a number.
    case diverged(stage: Int, step: Int, reason: String)
    /// The stage cannot run on the models as they stand when it starts (a shape an earlier stage changed, a
    /// setting the model cannot meet); the reason says what to change.
    case cannotRun(stage: Int, reason: String)
    /// A checkpoint's saved stage state (`controller.key`) holds a value the stage cannot resume from.
    case damagedState(stage: Int, key: String, reason: String)

    public var description: String {
        switch self {
        case .noData(let stage, let reason): return "stage \(stage): \(reason)"
        case .diverged(let stage, let step, let reason): return "stage \(stage) diverged at step \(step): \(reason)"
        case .cannotRun(let stage, let reason): return "stage \(stage): \(reason)"
        case .damagedState(let stage, let key, let reason):
            return "stage \(stage): the checkpoint's saved state \(key) \(reason); the file is damaged or was not written by this "
                + "stage: resume from an earlier checkpoint (move the newest step-N.h5 aside)"
        }
    }
}
