import Checkpoint
import Foundation
import Model
import StrictConfig
import Tensor

/// Settings of `temperature-search`.
public struct TemperatureSearchConfiguration: StageConfiguration, Equatable {
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

    /// Every field, each with its default.
    public init(minTemperature: Float = 1, maxTemperature: Float = 8, trials: Int = 4, stepsPerTrial: Int = 20, batchSize: Int = 16,
                learningRate: Float = 2e-3, alpha: Float = 0.9, data: DistillationData? = nil) {
        self.minTemperature = minTemperature
        self.maxTemperature = maxTemperature
        self.trials = trials
        self.stepsPerTrial = stepsPerTrial
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.alpha = alpha
        self.data = data
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: CodingKeys.allCases.map(\.rawValue))
    }

    public func check(in curriculum: Curriculum, index: Int) throws {
        if let data, data != .reference, !curriculum.hasTeacherTraces(before: index) {
            throw CurriculumError(file: curriculum.file, keyPath: "stages[\(index)].data", line: nil,
                                  message: "data: \(data.rawValue) needs a teacher-traces stage earlier; add one or use data: reference")
        }
    }
}

extension TemperatureSearchConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case minTemperature = "min_temperature", maxTemperature = "max_temperature", trials, stepsPerTrial = "steps_per_trial"
        case batchSize = "batch_size", learningRate = "learning_rate", alpha, data
    }

    /// Reads the stage's keys strictly (its `kind` is the curriculum's).
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: ["kind"] + CodingKeys.allCases.map(\.rawValue))
        minTemperature = try c.float("min_temperature", range: 1e-3...100) ?? minTemperature
        maxTemperature = try c.float("max_temperature", range: 1e-3...100) ?? maxTemperature
        trials = try c.int("trials", min: 1) ?? trials
        stepsPerTrial = try c.int("steps_per_trial", min: 1) ?? stepsPerTrial
        batchSize = try c.int("batch_size", min: 1) ?? batchSize
        learningRate = try c.float("learning_rate", range: 1e-9...10) ?? learningRate
        alpha = try c.float("alpha", range: 0...1) ?? alpha
        data = try c.choice("data", DistillationData.self) ?? data
        if maxTemperature < minTemperature {
            throw c.issue("max_temperature", "\(maxTemperature) is below min_temperature \(minTemperature)")
        }
    }
}

/// `temperature-search`: random search over the distillation temperature. Each trial (one unit of work) copies
/// the current student, trains the copy for a short budget at a T drawn from the range, and scores it by
/// validation KL(teacher || student) at T = 1 (the next distillation stage's validation loss); the student itself
/// is not changed. The best T is kept in the stage's record and becomes the default base temperature of the
/// distillation stages that follow.
///
/// A trial trains with the loss and optimisation of the next `output-distill` or `feature-align` stage (its output
/// terms), so T is tuned for the loss that stage will use: its divergence, label smoothing, gradient clip and
/// learning-rate schedule (warmup and cosine over that stage's steps, the trial running its first
/// `steps_per_trial`, peaking at this stage's `learning_rate`), through the same `OutputDistillObjective` and
/// `TrainingStep`. The trial's alpha is this stage's `alpha`, its batch size this stage's `batch_size`; the teacher
/// runs in full (a next stage's `targets: topk` cache is not read). Without a distillation stage after it, a trial
/// uses an output-distill stage's defaults.
final class TemperatureSearchStage: Stage {
    static let kindName = "temperature-search"
    static let kind = StageKind(name: kindName, parse: TemperatureSearchConfiguration.init) { c, context, index in
        try TemperatureSearchStage(c, context: context, index: index)
    }

    let config: TemperatureSearchConfiguration
    let index: Int
    let examples: [TokenizedTrace]
    /// The settings of the distillation stage the search tunes T for (see the type's comment).
    let next: OutputDistillConfiguration
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
        next = try Self.nextDistillation(in: context.curriculum, after: index)
    }

    /// The output settings of the first `output-distill` or `feature-align` stage after `index`, or an
    /// output-distill stage's defaults when there is none.
    static func nextDistillation(in curriculum: Curriculum, after index: Int) throws -> OutputDistillConfiguration {
        for entry in curriculum.stages.dropFirst(index + 1) {
            if let c = entry.configuration as? OutputDistillConfiguration { return c }
            if let c = entry.configuration as? FeatureAlignConfiguration { return c.output }
        }
        return try OutputDistillConfiguration(ConfigNode.parse(yaml: "{}", file: curriculum.file))
    }

    /// The settings a trial at temperature `t` trains with: the next stage's, at constant T = `t` and alpha, on
    /// the full teacher.
    func trialConfiguration(temperature t: Float) -> OutputDistillConfiguration {
        var c = next
        c.temperature = TemperatureSetting()
        c.temperature.base = t
        c.alphaStart = config.alpha
        c.alphaEnd = config.alpha
        c.targets = .full
        c.training.batchSize = config.batchSize
        c.training.learningRate = config.learningRate
        c.training.minLearningRate = min(c.training.minLearningRate, config.learningRate)
        return c
    }

    var totalSteps: Int { config.trials }
    var isEvaluationDue: Bool { false }

    func advance(_ context: RunContext) throws -> [String: Double] {
        let t = config.minTemperature + (config.maxTemperature - config.minTemperature) * context.rng.nextFloat()
        var initRNG = RandomGenerator(seed: 0)
        let trial = try Transformer(config: context.student.config, rng: &initRNG)
        trial.parameters.copyValues(from: context.student.parameters)
        trial.dropoutProbability = 0  // a trial draws nothing from the run's generator but its T
        let c = trialConfiguration(temperature: t)
        let objective = try OutputDistillObjective(c, context: context, index: index, student: trial, teacher: context.teacher,
                                                   examples: examples)
        let trainingStep = TrainingStep(objective, shardCount: context.curriculum.run.gradientShards, reduction: context.group)
        let optimizer = AdamW(store: trial.parameters)
        var cursor = DataCursor(count: examples.count, seed: context.curriculum.seed &+ UInt64(index) &* 7919 &+ UInt64(step))
        var firstLoss = Double.nan, diverged = false
        for s in 0..<config.stepsPerTrial {
            let rows = cursor.next(config.batchSize)
            try objective.prepare(rows: rows, next: nil, step: s)
            let result = try trainingStep.gradients(TraceBatch(rows.map { examples[$0] }))
            if s == 0 { firstLoss = result.loss }
            guard result.loss.isFinite else { diverged = true; break }
            trainingStep.clipGradients(maxNorm: c.training.gradientClip)
            optimizer.step(learningRate: c.training.schedule.rate(at: s))
        }
        // a trial whose loss stopped being a number is never chosen
        let loss = diverged ? Double.infinity : withNoGrad { validationKL(trial, context) }
        results["t_\(step)"] = Double(t)
        results["loss_\(step)"] = loss
        if best == nil || loss < best!.loss { best = (Double(t), loss) }
        step += 1
        return ["trial_temperature": Double(t), "trial_first_loss": firstLoss, "validation/loss": loss,
                "best_temperature": best!.temperature]
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
