import Checkpoint
import Foundation
import Model
import Tensor

/// Settings of `temperature-search`.
public struct TemperatureSearchConfiguration: StageConfiguration {
    /// The range T is drawn from (uniformly).
    public var minTemperature: Float = 1
    public var maxTemperature: Float = 8
    /// Candidates tried.
    public var trials = 4
    /// The short training budget of each candidate (output-distill steps from the current student).
    public var stepsPerTrial = 20
    public var batchSize = 16
    public var learningRate: Float = 2e-3
    /// The soft/hard weight during trials.
    public var alpha: Float = 0.9
    public var data: DistillationData?

    public init(_ node: ConfigNode) throws {
        minTemperature = try node.float("min_temperature", minTemperature, range: 1e-3...100)
        maxTemperature = try node.float("max_temperature", maxTemperature, range: 1e-3...100)
        trials = try node.int("trials", trials, min: 1)
        stepsPerTrial = try node.int("steps_per_trial", stepsPerTrial, min: 1)
        batchSize = try node.int("batch_size", batchSize, min: 1)
        learningRate = try node.float("learning_rate", learningRate, range: 1e-9...10)
        alpha = try node.float("alpha", alpha, range: 0...1)
        data = try node.optionalString("data").map { raw in
            guard let d = DistillationData(rawValue: raw) else {
                throw try node.child("data").error("'\(raw)' is not one of: teacher_traces, reference, both")
            }
            return d
        }
        if maxTemperature < minTemperature {
            throw try node.child("max_temperature").error("\(maxTemperature) is below min_temperature \(minTemperature)")
        }
    }

    public func check(in curriculum: Curriculum, index: Int) throws {
        if let data, data != .reference, !curriculum.hasTeacherTraces(before: index) {
            throw CurriculumError(file: curriculum.file, keyPath: "stages[\(index)].data", line: nil,
                                  message: "data: \(data.rawValue) needs a teacher-traces stage earlier; add one or use data: reference")
        }
    }
}

/// `temperature-search`: random search over the distillation temperature. Each trial (one unit of work) copies
/// the current student, trains the copy for a short budget at a T drawn from the range, and scores it by
/// validation KL(teacher || student) at T = 1; the student itself is not changed. The best T is kept in the
/// stage's record and becomes the default base temperature of the distillation stages that follow.
final class TemperatureSearchStage: Stage {
    static let kindName = "temperature-search"
    static let kind = StageKind(name: kindName, parse: TemperatureSearchConfiguration.init) { c, context, index in
        try TemperatureSearchStage(c, context: context, index: index)
    }

    let config: TemperatureSearchConfiguration
    let index: Int
    let examples: [TokenizedTrace]
    private(set) var step = 0
    private var results: [String: Double] = [:]
    private var best: (temperature: Double, loss: Double)?

    init(_ c: TemperatureSearchConfiguration, context: RunContext, index: Int) throws {
        config = c
        self.index = index
        var data = DistillationData.resolve(c.data, in: context.curriculum, index: index)
        // a search is only a short probe: without teacher traces it scores candidates on the references
        if data == .teacherTraces, try context.teacherTraces().isEmpty { data = .reference }
        examples = try data.examples(context, index: index)
    }

    var totalSteps: Int { config.trials }
    var isEvaluationDue: Bool { false }

    func advance(_ context: RunContext) throws -> [String: Double] {
        let t = config.minTemperature + (config.maxTemperature - config.minTemperature) * context.rng.nextFloat()
        var initRNG = RandomGenerator(seed: 0)
        let trial = try Transformer(config: context.student.config, rng: &initRNG)
        trial.parameters.copyValues(from: context.student.parameters)
        let optimizer = AdamW(store: trial.parameters)
        var cursor = DataCursor(count: examples.count, seed: context.curriculum.seed &+ UInt64(index) &* 7919 &+ UInt64(step))
        for _ in 0..<config.stepsPerTrial {
            let batch = TraceBatch(cursor.next(config.batchSize).map { examples[$0] })
            trial.parameters.zeroGradients()
            let teacher = withNoGrad { context.teacher.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits }
            let student = trial.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits
            let kd = distillationLoss(student: student, teacher: teacher, temperature: t, rowMask: batch.rowMask)
            let ce = crossEntropy(student, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex)
            add(scale(kd, config.alpha), scale(ce, 1 - config.alpha)).backward()
            _ = trial.parameters.clipGradients(maxNorm: 1)
            optimizer.step(learningRate: config.learningRate)
        }
        let loss = withNoGrad { validationKL(trial, context) }
        results["t_\(step)"] = Double(t)
        results["loss_\(step)"] = loss
        if best == nil || loss < best!.loss { best = (Double(t), loss) }
        step += 1
        return ["trial_temperature": Double(t), "validation/loss": loss, "best_temperature": best!.temperature]
    }

    private func validationKL(_ model: Transformer, _ context: RunContext) -> Double {
        var total = 0.0, weight = 0.0
        let v = context.data.validationTokens
        var start = 0
        while start < v.count {
            let batch = TraceBatch(Array(v[start..<min(start + config.batchSize, v.count)]))
            let teacher = context.teacher.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits
            let student = model.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits
            let kl = Double(distillationLoss(student: student, teacher: teacher, temperature: 1, rowMask: batch.rowMask).toArray()[0])
            total += kl * Double(batch.targetCount)
            weight += Double(batch.targetCount)
            start += batch.batch
        }
        return total / max(weight, 1)
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation { StageEvaluation(metrics: [:]) }

    func progress() -> StageProgress {
        var search = results
        if let best {
            search["chosen_temperature"] = best.temperature
            search["chosen_loss"] = best.loss
        }
        return StageProgress(step: step, controllers: ["search": search])
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        step = progress.step
        results = (progress.controllers["search"] ?? [:]).filter { $0.key.hasPrefix("t_") || $0.key.hasPrefix("loss_") }
        if let t = progress.controllers["search"]?["chosen_temperature"], let l = progress.controllers["search"]?["chosen_loss"] {
            best = (t, l)
        }
    }

    func finish(_ context: RunContext) throws {
        if let best {
            context.logger.info("temperature-search: chose T = \(String(format: "%.3f", best.temperature)) (validation KL \(String(format: "%.4f", best.loss)))")
        }
    }
}
