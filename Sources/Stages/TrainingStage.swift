import Checkpoint
import Foundation
import Model
import Tensor

/// What one training step computed on a batch or on one share of it: the loss to minimise in two parts, each a
/// mean over its own unit, and the metrics, each with the unit it averages over. The units let the shares of a
/// batch, run one per core, add up to the whole batch's loss: a share's per-target part weighs its share of the
/// batch's target tokens, its per-row part its share of the rows (rows are padded to the batch's length).
struct StepLoss {
    enum Unit { case target, row }
    /// Means over target tokens (cross-entropy, the distillation divergence); nil when the loss has none.
    var perTarget: Tensor?
    /// Means over rows, every padded position of each counted alike (hidden-state and attention-map MSE).
    var perRow: Tensor?
    var metrics: [String: (value: Double, unit: Unit)]

    init(perTarget: Tensor? = nil, perRow: Tensor? = nil, metrics: [String: (value: Double, unit: Unit)]) {
        self.perTarget = perTarget
        self.perRow = perRow
        self.metrics = metrics
    }

    /// The loss of a share whose target tokens and rows are these fractions of the whole batch's.
    func weighted(targetShare: Float, rowShare: Float) -> Tensor {
        let t = perTarget.map { scale($0, targetShare) }, r = perRow.map { scale($0, rowShare) }
        guard let t else { return r! }
        return r.map { add(t, $0) } ?? t
    }
}

/// The shared machinery of the stages that train a transformer on traces: the seeded data cursor, AdamW with
/// cosine warmup, global-norm clipping over every trained store, dropout from the run generator, validation
/// every N steps, early stopping with patience and the best weights kept (as role `<model>_best`), the weights
/// the stage started from included (validated before the first step).
///
/// A kind supplies the loss of a batch (`stepLoss`) and the validation loss of a batch (`validationLoss`).
///
/// A step runs the batch as two halves at once, one per core (`Parallel.split`; a step of 16 rows is too
/// small to split op by op), the second half on replicas of the trained models with gradients of their own
/// that are then added to the models' (as the PPO update does). The halves are fixed by the row count, so a
/// step computes the same bits with any thread count and a resumed run stays bit-identical.
class TrainingStage: Stage {
    let settings: TrainingSettings
    let index: Int
    /// The model this stage trains and its checkpoint role.
    let model: Transformer
    let modelRole: String
    /// Every store the optimizer updates, by role (the model first).
    let trained: [(role: String, store: ParameterStore)]
    let optimizers: [(role: String, optimizer: AdamW)]
    let examples: [TokenizedTrace]
    let validationExamples: [TokenizedTrace]
    var cursor: DataCursor
    var early: EarlyStopping
    private(set) var step = 0
    var totalSteps: Int { settings.steps }
    private let bestRole: String

    init(settings: TrainingSettings, index: Int, context: RunContext, model: Transformer, modelRole: String,
         extraTrained: [(role: String, store: ParameterStore)] = [], examples: [TokenizedTrace],
         validationExamples: [TokenizedTrace]) throws {
        guard !examples.isEmpty else {
            throw StageError.noData(stage: index, reason: "there are no training traces for this stage")
        }
        self.settings = settings
        self.index = index
        self.model = model
        self.modelRole = modelRole
        self.trained = [(modelRole, model.parameters)] + extraTrained
        self.optimizers = trained.map { ($0.role, AdamW(store: $0.store, weightDecay: settings.weightDecay)) }
        self.examples = examples
        self.validationExamples = validationExamples
        cursor = DataCursor(count: examples.count, seed: context.curriculum.seed &+ UInt64(index) &* 1_000_003)
        early = EarlyStopping(patience: settings.patience)
        bestRole = modelRole + "_best"
        context.setOptimizers(optimizers)
        // without `dropout:` the model's own rate, not one an earlier stage set: a resumed run rebuilds its models at
        // their own rates, so inheriting the earlier stage's would make it differ from the uninterrupted run
        model.dropoutProbability = settings.dropout
            ?? (modelRole == "teacher" ? model.config.hiddenDropout : context.curriculum.models.studentDropout)
        if settings.restoreBest { context.registerCopy(of: model, role: bestRole) }
    }

    /// The loss of one share of a training batch (`share` 0 or 1: the first or second half) on the share's
    /// models (`model(share:)`, and a kind's own trained modules likewise); `dropout` is the share's generator
    /// for dropout (nil when the model has none).
    func stepLoss(_ batch: TraceBatch, share: Int, dropout: inout RandomGenerator?, context: RunContext) throws -> StepLoss {
        fatalError("TrainingStage subclasses implement stepLoss")
    }

    /// Called with a training batch's example rows before its halves run (on the calling thread): a kind reads
    /// what the batch needs from files here (the top-k targets cache).
    func prepare(rows: [Int]) throws {}

    /// The model share `share` of a step trains: the model itself for the first half, its replica for the second.
    func model(share: Int) -> Transformer { share == 0 ? model : modelReplica }

    /// The model's weights with gradients of their own (the second half of each step).
    private(set) lazy var modelReplica = model.replica()

    /// Each trained store with its replica's: the second half's gradients are added from the replica.
    var replicaStores: [(store: ParameterStore, replica: ParameterStore)] { [(model.parameters, modelReplica.parameters)] }

    /// The validation metrics of one batch (each a mean over the batch's target tokens); `validation/loss`
    /// is the value early stopping watches.
    func validationMetrics(_ batch: TraceBatch, context: RunContext) throws -> [String: Double] {
        fatalError("TrainingStage subclasses implement validationMetrics")
    }

    func advance(_ context: RunContext) throws -> [String: Double] {
        if step == 0 && settings.restoreBest && early.bestStep < 0 {
            // the weights the stage starts from are a candidate too: a stage never hands on a model that
            // validates worse than the one it received
            if let loss = try validationPass(context)["validation/loss"] { _ = record(loss, context: context) }
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let rows = cursor.next(settings.batchSize)
        try prepare(rows: rows)
        let batch = TraceBatch(rows.map { examples[$0] })
        let (lossValue, stepMetrics) = try gradients(batch, context: context)
        guard lossValue.isFinite else {
            throw StageError.diverged(stage: index, step: step, reason: "the loss is \(lossValue); lower learning_rate or raise gradient_clip's strictness")
        }
        let norm = clipGradients()
        let lr = settings.schedule.rate(at: step)
        for o in optimizers { o.optimizer.step(learningRate: lr) }
        step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var metrics = stepMetrics
        metrics["loss"] = lossValue
        metrics["learning_rate"] = Double(lr)
        metrics["grad_norm"] = Double(norm)
        metrics["tokens_per_second"] = Double(batch.batch * batch.length) / max(seconds, 1e-9)
        metrics["epoch"] = Double(cursor.position.epoch)
        return metrics
    }

    /// Sets every trained store's gradients to those of `batch`'s loss, its halves run at once (see the type's
    /// comment); returns the loss and the metrics, each weighted by its unit's share in the halves.
    private func gradients(_ batch: TraceBatch, context: RunContext) throws -> (loss: Double, metrics: [String: Double]) {
        let shares = batch.halves
        for t in trained { t.store.zeroGradients() }
        if shares.count > 1 { for r in replicaStores { r.replica.zeroGradients() } }
        // one dropout generator per share, forked in share order: the same draws with any thread count
        var generators: [RandomGenerator?] = shares.map { _ in model.dropoutProbability > 0 ? context.rng.fork() : nil }
        let targetShares = shares.map { Float($0.targetCount) / Float(max(batch.targetCount, 1)) }
        let rowShares = shares.map { Float($0.batch) / Float(batch.batch) }
        var results = [Result<(StepLoss, Double), Error>?](repeating: nil, count: shares.count)
        results.withUnsafeMutableBufferPointer { out in
            generators.withUnsafeMutableBufferPointer { gens in
                Parallel.split(shares.count) { i in
                    out[i] = Result {
                        let part = try stepLoss(shares[i], share: i, dropout: &gens[i], context: context)
                        let loss = part.weighted(targetShare: targetShares[i], rowShare: rowShares[i])
                        let value = Double(loss.toArray()[0])
                        if value.isFinite { loss.backward() }
                        return (part, value)
                    }
                }
            }
        }
        let done = try results.map { try $0!.get() }
        if shares.count > 1 { for r in replicaStores { r.store.addGradients(from: r.replica) } }
        var metrics: [String: Double] = [:]
        for (i, (part, _)) in done.enumerated() {
            for (key, m) in part.metrics {
                metrics[key, default: 0] += m.value * Double(m.unit == .target ? targetShares[i] : rowShares[i])
            }
        }
        return (done.reduce(0) { $0 + $1.1 }, metrics)
    }

    /// Global-norm clipping over every trained store together; returns the norm before clipping.
    private func clipGradients() -> Float {
        let norms = trained.map { $0.store.gradientNorm() }
        let total = norms.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for (t, n) in zip(trained, norms) where n > 0 {
            // scaling each store to maxNorm * n / total clips the concatenated gradient to maxNorm
            _ = t.store.clipGradients(maxNorm: settings.gradientClip * n / max(total, settings.gradientClip))
        }
        return total
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

    /// The validation metrics over the whole validation split (each batch's weighted by its target tokens).
    private func validationPass(_ context: RunContext) throws -> [String: Double] {
        var sums: [String: Double] = [:]
        var weight = 0.0
        try withNoGrad {
            var start = 0
            while start < validationExamples.count {
                let chunk = Array(validationExamples[start..<min(start + settings.batchSize, validationExamples.count)])
                let batch = TraceBatch(chunk)
                let w = Double(batch.targetCount)
                for (k, v) in try validationMetrics(batch, context: context) { sums[k, default: 0] += v * w }
                weight += w
                start += chunk.count
            }
        }
        return sums.mapValues { $0 / max(weight, 1) }
    }

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
