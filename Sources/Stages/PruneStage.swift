import Checkpoint
import Data
import Eval
import Foundation
import Model
import StrictConfig
import Tensor

/// How `prune` ranks KV groups and MLP channels.
public enum PruneScore: String, Sendable, Codable, CaseIterable {
    /// The L1 norm of the unit's weights (`Transformer.l1PruningScores`).
    case l1
    /// Mean |input| of the unit's output-projection columns on calibration traces times those columns' L1 norms
    /// (`Transformer.activationPruningScores`).
    case activation
}

/// Settings of `prune`.
///
///     - kind: prune
///       target: 0.7               # stop at 70% of the parameters the student had when the stage began
///       fraction_per_round: 0.05  # each round removes at most 5% of the prunable parameters (of the stage's start)
///       steps_per_round: 20       # output-distill steps from the unpruned student after each round
///       score: l1                 # or activation (calibration: traces)
///       min_accuracy: 0.75        # stop when validation accuracy falls below; the last round is undone
///
/// Every other key is output-distill's (`alpha`, `temperature`, `learning_rate`, `batch_size`, `data`, ...), the
/// teacher being the student as the stage began.
public struct PruneConfiguration: StageConfiguration {
    /// The fine-tuning between rounds: output-distill's settings, its `steps` being `steps_per_round`.
    public var fineTune: OutputDistillConfiguration
    public var score = PruneScore.l1
    /// At most this fraction of the prunable parameters (every KV group's and MLP channel's, counted when the stage
    /// began) goes in one round.
    public var fractionPerRound = 0.05
    /// Fine-tuning steps after each round.
    public var stepsPerRound = 20
    /// The stage ends when no further unit fits above this fraction of the parameters the student had when the stage
    /// began (so it ends within one MLP channel per layer above it).
    public var target = 0.7
    /// The stage ends when validation accuracy after a round is below this (0...1); nil: no floor.
    public var minAccuracy: Double?
    /// Validation questions decoded greedily after each round (the first of the validation split).
    public var validationProblems = 64
    /// Most new tokens per validation answer.
    public var maxNewTokens = 320
    /// Training traces (the first of the stage's data) the activation score runs on.
    public var calibration = 16
    /// Lines of the keys the structural checks name, for their messages.
    var lines: [String: Int] = [:]

    /// Keys of the other training stages that mean nothing here, with what to use instead.
    static let refused = [
        "steps": "prune fine-tunes `steps_per_round` steps after each round; give that instead",
        "eval_every": "prune validates after every round; remove it",
        "patience": "prune stops at `target` or below `min_accuracy`; remove it",
        "restore_best": "prune ends with the last round that satisfies `min_accuracy`; remove it",
    ]

    /// Every field, each with its default; `fineTune`'s steps are replaced by `stepsPerRound`, and it neither
    /// validates, stops early nor restores (prune does that per round).
    public init(fineTune: OutputDistillConfiguration? = nil, score: PruneScore = .l1, fractionPerRound: Double = 0.05, stepsPerRound: Int = 20,
                target: Double = 0.7, minAccuracy: Double? = nil, validationProblems: Int = 64, maxNewTokens: Int = 320, calibration: Int = 16) {
        var f = fineTune ?? OutputDistillConfiguration(training: TrainingSettings(steps: stepsPerRound, learningRate: 5e-4, warmupSteps: 0))
        f.training.steps = stepsPerRound
        f.training.evalEvery = 0
        f.training.patience = 0
        f.training.restoreBest = false
        self.fineTune = f
        self.score = score
        self.fractionPerRound = fractionPerRound
        self.stepsPerRound = stepsPerRound
        self.target = target
        self.minAccuracy = minAccuracy
        self.validationProblems = validationProblems
        self.maxNewTokens = maxNewTokens
        self.calibration = calibration
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: OutputDistillConfiguration.keys + CodingKeys.allCases.map(\.rawValue))
        for key in ["target", "fraction_per_round"] { lines[key] = try node.child(key).line ?? node.line }
    }

    public func check(in curriculum: Curriculum, index: Int) throws {
        try fineTune.check(in: curriculum, index: index)
        // teacher-sft cuts a from_teacher student again from the trained teacher, into the curriculum's shape
        if curriculum.models.studentFromTeacher != nil, curriculum.stages.dropFirst(index + 1).contains(where: { $0.kind == TeacherSFTStage.kindName }) {
            throw CurriculumError(file: curriculum.file, keyPath: "stages[\(index)]", line: nil,
                                  message: "a teacher-sft stage after prune would cut the student from the teacher again, undoing the pruning; "
                                      + "put prune after teacher-sft")
        }
        // after another prune the shape is known only when the stage starts, which checks it then
        guard !curriculum.stages.prefix(index).contains(where: { $0.kind == PruneStage.kindName }) else { return }
        if let (key, message) = problem(with: curriculum.studentConfig) {
            throw CurriculumError(file: curriculum.file, keyPath: "stages[\(index)].\(key)", line: lines[key], message: message)
        }
    }

    /// Why `target` or `fraction_per_round` cannot work on a student of `config` (the key and the message), or nil.
    func problem(with config: TransformerConfig) -> (key: String, message: String)? {
        let layers = config.numHiddenLayers, groups = config.numKeyValueHeads, channels = config.intermediateSize
        let (groupSize, channelSize) = Transformer.pruningUnitSizes(config)
        let total = Transformer.parameterSpecs(config).reduce(0) { $0 + $1.shape.reduce(1, *) }
        if groups == 1 && channels == 1 {
            return ("target", "the student has one KV group and one MLP channel per layer: nothing is left to prune; remove the stage")
        }
        let smallest = total - layers * ((groups - 1) * groupSize + (channels - 1) * channelSize)
        let goal = target * Double(total)
        let oneGroup = groups == 1 ? "; it has one KV group left, which no layer can lose, so only MLP channels can go" : ""
        if Double(smallest) > goal {
            let least = (Double(smallest) / Double(total) * 1000).rounded(.up) / 1000
            return ("target", "the student (\(total) parameters) shrinks to \(smallest) at most (\(percent(smallest, total))): every layer keeps one KV "
                        + "group and one MLP channel\(oneGroup); raise target to at least \(least)")
        }
        if Double(total - layers * channelSize) < goal {
            let most = (Double(total - layers * channelSize) / Double(total) * 1000).rounded(.down) / 1000
            return ("target", "\(target) of \(total) parameters is less than one MLP channel per layer (\(layers * channelSize) parameters) "
                        + "below the student's size: nothing would be pruned; lower target to at most \(most)")
        }
        let prunable = layers * (groups * groupSize + channels * channelSize)
        if fractionPerRound * Double(prunable) < Double(layers * channelSize) {
            let least = (Double(layers * channelSize) / Double(prunable) * 1000).rounded(.up) / 1000
            return ("fraction_per_round", "\(fractionPerRound) of the student's \(prunable) prunable parameters is less than one MLP channel in "
                        + "every layer (\(layers * channelSize)), so no round could remove anything; raise it to at least \(least)")
        }
        return nil
    }

    /// The settings' encoding with the fine-tune's `data` resolved; comments for what is off or left to the model.
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        var resolved = self
        resolved.fineTune.data = fineTune.resolvedData(in: curriculum, index: index)
        return ConfigTree.resolved(resolved) + (minAccuracy == nil ? ["# min_accuracy: none (no floor)"] : [])
            + fineTune.resolvedLines(in: curriculum, index: index).filter { $0.hasPrefix("#") }
    }
}

extension PruneConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case score, fractionPerRound = "fraction_per_round", stepsPerRound = "steps_per_round", target, minAccuracy = "min_accuracy"
        case validationProblems = "validation_problems", maxNewTokens = "max_new_tokens", calibration
    }

    /// Reads the prune keys and the fine-tune's output-distill keys beside them, strictly; the training keys prune
    /// fixes itself are refused with the reason.
    public init(from decoder: Decoder) throws {
        let c = try StrictContainer(decoder, known: ["kind"] + OutputDistillConfiguration.keys + CodingKeys.allCases.map(\.rawValue))
        for key in Self.refused.keys.sorted() where c.contains(key) { throw c.issue(key, "not a prune key: \(Self.refused[key]!)") }
        let rounds = try c.int("steps_per_round", min: 1) ?? 20
        // the student is trained already: a gentler rate, and no warmup to eat a short round
        let defaults = TrainingSettings(steps: rounds, learningRate: 5e-4, warmupSteps: 0)
        self.init(fineTune: try OutputDistillConfiguration(from: decoder, trainingDefaults: defaults, embedded: true), stepsPerRound: rounds)
        score = try c.choice("score", PruneScore.self) ?? score
        fractionPerRound = try c.double("fraction_per_round") ?? fractionPerRound
        if !(fractionPerRound > 0 && fractionPerRound <= 0.5) {
            throw c.issue("fraction_per_round", "must be in (0, 0.5], found \(fractionPerRound): each round removes at most this "
                          + "fraction of the prunable parameters (0.05 as the seeds advise)")
        }
        target = try c.double("target") ?? target
        if !(target > 0 && target < 1) {
            throw c.issue("target", "must be a fraction in (0, 1) of the student's parameters when the stage begins, found \(target) (0.7 keeps 70%)")
        }
        minAccuracy = try c.double("min_accuracy", range: 0...1)
        validationProblems = try c.int("validation_problems", min: 1) ?? validationProblems
        maxNewTokens = try c.int("max_new_tokens", min: 1) ?? maxNewTokens
        calibration = try c.int("calibration", min: 1) ?? calibration
        if c.contains("calibration") && score != .activation {
            throw c.issue("calibration", "only used with score: activation; remove it or set score: activation")
        }
    }

    /// The prune keys, then output-distill's but those prune fixes itself (`refused`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(target, forKey: .target)
        try c.encode(fractionPerRound, forKey: .fractionPerRound)
        try c.encode(stepsPerRound, forKey: .stepsPerRound)
        try c.encode(score.rawValue, forKey: .score)
        try c.encodeIfPresent(minAccuracy, forKey: .minAccuracy)
        try c.encode(validationProblems, forKey: .validationProblems)
        try c.encode(maxNewTokens, forKey: .maxNewTokens)
        if score == .activation { try c.encode(calibration, forKey: .calibration) }
        try fineTune.encode(to: OmittingEncoder(encoder, omitting: Set(Self.refused.keys)))
    }
}

private func percent(_ part: Int, _ whole: Int) -> String {
    String(format: "%.1f%%", 100 * Double(part) / Double(max(whole, 1)))
}

/// `prune`: structured pruning of KV groups and MLP channels in rounds, with distillation between them (issue 24).
///
/// Each round scores the units (`score`), removes the lowest ones, at most `fraction_per_round` of the prunable
/// parameters and never below `target`, with the same counts in every layer (`Transformer.pruningRound`), and makes
/// the student physically smaller (`Transformer.pruned`: the run's student is replaced, so checkpoints, later stages
/// and exports see the new shapes). It then fine-tunes `steps_per_round` output-distill steps from the student as
/// the stage began (kept frozen as role `prune_teacher`) and validates: accuracy and step validity of greedy answers
/// to `validation_problems` validation questions, and the decoding tokens/s. One validation row per round (the
/// start's as `start/...` in the first step's row). The stage ends when no further unit fits above `target`, or when a
/// round's accuracy falls below `min_accuracy`: then that round is undone and the student of the round before (kept
/// as role `prune_kept`, or the unpruned one) is handed on.
///
/// A unit of work is one fine-tuning step; resume rebuilds the pruned student, the frozen start, the kept copy and the
/// round's optimizer from the checkpoint, so a run resumed mid-round is bit-identical.
final class PruneStage: Stage {
    static let kindName = "prune"
    static let kind = StageKind(name: kindName, parse: PruneConfiguration.init) { c, context, index in
        try PruneStage(c, context: context, index: index)
    }
    static let teacherRole = "prune_teacher"
    static let keptRole = "prune_kept"

    let config: PruneConfiguration
    let index: Int
    let examples: [TokenizedTrace]
    let suite: EvalSuite
    /// The student as the stage began, frozen: the fine-tuning's teacher, and what `target` is a fraction of.
    private var original: Transformer
    /// The last pruned student whose validation accuracy met `min_accuracy` (nil: none yet, the original stands in).
    private var kept: Transformer?
    /// The fine-tuning of the round in progress (nil between rounds).
    private var fineTune: TrainingStage<OutputDistillObjective>?
    private(set) var step = 0
    private var round = 0
    private var roundStep = 0
    private var data = DataPosition()
    /// No further unit fits above the target.
    private var reachedTarget = false
    /// The last round's accuracy fell below `min_accuracy`.
    private var crossedFloor = false
    private var current = 0
    private var start: [String: Double] = [:]

    init(_ c: PruneConfiguration, context: RunContext, index: Int) throws {
        config = c
        self.index = index
        examples = try c.fineTune.resolvedData(in: context.curriculum, index: index).examples(context, index: index)
        guard !examples.isEmpty else { throw StageError.noData(stage: index, reason: "there are no training traces to fine-tune on between rounds") }
        let rows = Array(context.data.validation.prefix(c.validationProblems))
        guard !rows.isEmpty else {
            throw StageError.noData(stage: index, reason: "there are no validation rows to measure accuracy on; raise data.validation_size")
        }
        suite = EvalSuite(name: "validation", source: "the run's validation split", format: .traces,
                          problems: rows.enumerated().map { i, r in
                              EvalProblem(id: r.id ?? "validation-\(i)", domain: r.domain ?? "", question: r.question ?? "",
                                          referenceSteps: r.steps, referenceAnswer: r.answer, line: i + 1)
                          })
        original = try Transformer(config: context.student.config)
        original.parameters.copyValues(from: context.student.parameters)
        context.register(role: Self.teacherRole, store: original.parameters, configJSON: original.config.jsonString())
        current = context.student.parameterCount
        context.setOptimizers([])
    }

    var originalParameters: Int { original.parameterCount }
    /// The fewest parameters the stage may leave.
    var targetParameters: Int { Int((config.target * Double(originalParameters)).rounded(.up)) }
    /// The most parameters one round may remove.
    var budget: Int {
        let c = original.config
        let (group, channel) = Transformer.pruningUnitSizes(c)
        return Int(config.fractionPerRound * Double(c.numHiddenLayers * (c.numKeyValueHeads * group + c.intermediateSize * channel)))
    }

    /// The steps done plus an estimate of those to come (rounds still needed at the full budget); exact once the stage ends.
    var totalSteps: Int {
        if reachedTarget || crossedFloor { return step }
        let thisRound = roundStep > 0 ? config.stepsPerRound - roundStep : 0
        let gap = max(0, current - targetParameters), rounds = (gap + budget - 1) / max(budget, 1)
        return step + max(1, thisRound + rounds * config.stepsPerRound)
    }

    // at or past: `resume --accept-changes` may lower steps_per_round in the middle of a round
    var isEvaluationDue: Bool { roundStep >= config.stepsPerRound }

    func advance(_ context: RunContext) throws -> [String: Double] {
        var metrics: [String: Double] = [:]
        if step == 0 && start.isEmpty {
            if let (key, message) = config.problem(with: context.student.config) {
                throw StageError.cannotRun(stage: index, reason: "\(key): \(message)")
            }
            start = try validate(context)
            if let floor = config.minAccuracy, let accuracy = start["accuracy"], accuracy < floor {
                throw StageError.cannotRun(stage: index, reason: "min_accuracy \(floor) is above the student's validation accuracy \(accuracy) "
                                           + "before any pruning; lower it or leave it out")
            }
            context.logger.notice("prune round 0: \(row(start))")
            for (k, v) in start { metrics["start/" + k] = v }
        }
        if roundStep == 0 { try pruneOneRound(context) }
        guard let fineTune else { preconditionFailure("prune: a round in progress has its fine-tuning") }
        for (k, v) in try fineTune.advance(context) { metrics[k] = v }
        step += 1
        roundStep += 1
        data = fineTune.cursor.position
        metrics["parameters"] = Double(current)
        metrics["round"] = Double(round)
        return metrics
    }

    /// Scores the units, removes the round's share and starts the round's fine-tuning on the smaller student.
    private func pruneOneRound(_ context: RunContext) throws {
        let student = context.student
        let scores = config.score == .l1 ? student.l1PruningScores()
            : student.activationPruningScores(calibration: examples.prefix(config.calibration).map(\.tokens))
        let (groups, channels) = Transformer.pruningRound(student.config, scores: scores, budget: budget, floor: targetParameters)
        let smaller = try student.pruned(Transformer.plan(keeping: scores, groups: groups, channels: channels))
        context.replaceStudent(smaller)
        round += 1
        current = smaller.parameterCount
        fineTune = try makeFineTune(context)
        let what = "\(student.config.numKeyValueHeads) -> \(groups) KV groups, \(student.config.intermediateSize) -> \(channels) MLP channels per layer"
        context.logger.info("prune round \(round): \(what); \(current) parameters")
    }

    /// The output-distill fine-tuning of the current student from the frozen start, at the round's step and data position.
    private func makeFineTune(_ context: RunContext) throws -> TrainingStage<OutputDistillObjective> {
        let stage = try OutputDistillStage.make(config.fineTune, context: context, index: index, teacher: original, examples: examples)
        try stage.restore(StageProgress(step: roundStep, data: data), context: context)
        return stage
    }

    /// Greedy answers to the validation questions: accuracy, step validity, decoding tokens/s, and the parameter count.
    private func validate(_ context: RunContext) throws -> [String: Double] {
        let evaluator = try Evaluator(config: EvalConfig(maxNewTokens: config.maxNewTokens, samples: 0))
        let report = try evaluator.evaluate(model: context.student, codec: context.codec, suite: suite, label: "student", role: "student")
        var values = ["accuracy": report.greedy.accuracy, "tokens_per_second": report.timing.tokensPerSecond,
                      "parameters": Double(context.student.parameterCount),
                      "parameter_fraction": Double(context.student.parameterCount) / Double(originalParameters)]
        // no claim in any answer: no step validity (left out rather than NaN, which the start's record could not hold in JSON)
        if let validity = report.greedy.stepValidity { values["step_validity"] = validity }
        return values
    }

    private func row(_ v: [String: Double]) -> String {
        let n = Int(v["parameters"] ?? 0)
        let validity = v["step_validity"].map { String(format: "%.1f%%", 100 * $0) } ?? "n/a (no claims)"
        return "\(n) parameters (\(percent(n, originalParameters)) of \(originalParameters)), validation accuracy "
            + String(format: "%.1f%%", 100 * (v["accuracy"] ?? .nan)) + ", step validity \(validity), "
            + String(format: "%.0f tokens/s", v["tokens_per_second"] ?? .nan)
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation {
        let values = try validate(context)
        roundStep = 0
        fineTune = nil
        context.setOptimizers([])
        var metrics: [String: Double] = ["validation/round": Double(round)]
        for (k, v) in values { metrics["validation/" + k] = v }
        context.logger.notice("prune round \(round): \(row(values))")
        if let floor = config.minAccuracy, let accuracy = values["accuracy"], accuracy < floor {
            crossedFloor = true
            let back = kept == nil ? "the stage's start" : "round \(round - 1)"
            context.logger.notice("prune: round \(round)'s accuracy \(accuracy) is below min_accuracy \(floor); it is undone, the student of \(back) goes on")
            return StageEvaluation(metrics: metrics, stop: true)
        }
        if config.minAccuracy != nil {
            let copy = try Transformer(config: context.student.config)
            copy.parameters.copyValues(from: context.student.parameters)
            context.register(role: Self.keptRole, store: copy.parameters, configJSON: copy.config.jsonString())
            kept = copy
        }
        // whether another unit fits does not depend on the scores, only on the counts
        let c = context.student.config
        let zeros = PruningScores(kvGroups: Array(repeating: Array(repeating: 0, count: c.numKeyValueHeads), count: c.numHiddenLayers),
                                  channels: Array(repeating: Array(repeating: 0, count: c.intermediateSize), count: c.numHiddenLayers))
        let next = Transformer.pruningRound(c, scores: zeros, budget: budget, floor: targetParameters)
        reachedTarget = next.groups == c.numKeyValueHeads && next.channels == c.intermediateSize
        return StageEvaluation(metrics: metrics)
    }

    func progress() -> StageProgress {
        let o = original.config
        let state: [String: Double] = [
            "round": Double(round), "round_step": Double(roundStep), "reached_target": reachedTarget ? 1 : 0,
            "crossed_floor": crossedFloor ? 1 : 0, "original_groups": Double(o.numKeyValueHeads),
            "original_channels": Double(o.intermediateSize), "original_head_dim": Double(o.explicitHeadDim ?? 0),
            "kept_groups": Double(kept?.config.numKeyValueHeads ?? 0), "kept_channels": Double(kept?.config.intermediateSize ?? 0),
        ]
        return StageProgress(step: step, data: data, controllers: ["prune": state, "start": start])
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        step = progress.step
        data = progress.data
        start = progress.controllers["start"] ?? [:]
        let p = progress.controllers["prune"] ?? [:]
        /// `prune.key` as a whole number of at least `least` (nil when absent), or an error naming it.
        func count(_ key: String, least: Int) throws -> Int? {
            guard let v = p[key] else { return nil }
            guard v.isFinite, v == v.rounded(), v >= Double(least), v < Double(Int32.max) else {
                throw StageError.damagedState(stage: index, key: "prune." + key, reason: "is \(v), not a whole number >= \(least)")
            }
            return Int(v)
        }
        round = try count("round", least: 0) ?? 0
        roundStep = try count("round_step", least: 0) ?? 0
        reachedTarget = p["reached_target"] == 1
        crossedFloor = p["crossed_floor"] == 1
        let student = context.student.config
        if round > 0 {
            // the student in the checkpoint is pruned: the start's shape comes from the saved counts (its weights are
            // loaded into the store registered here)
            guard let groups = try count("original_groups", least: 1), let channels = try count("original_channels", least: 1) else {
                throw StageError.damagedState(stage: index, key: "prune.original_groups", reason: "is missing after round \(round)")
            }
            var o = student.keeping(groups: groups, channels: channels)
            let headDim = try count("original_head_dim", least: 0) ?? 0
            o.explicitHeadDim = headDim > 0 ? headDim : nil
            original = try Transformer(config: o)
            context.register(role: Self.teacherRole, store: original.parameters, configJSON: o.jsonString())
        }
        if let groups = try count("kept_groups", least: 0), groups > 0 {
            guard let channels = try count("kept_channels", least: 1) else {
                throw StageError.damagedState(stage: index, key: "prune.kept_channels", reason: "is missing beside kept_groups")
            }
            let copy = try Transformer(config: student.keeping(groups: groups, channels: channels))
            context.register(role: Self.keptRole, store: copy.parameters, configJSON: copy.config.jsonString())
            kept = copy
        }
        current = context.student.parameterCount
        if roundStep > 0 { fineTune = try makeFineTune(context) }
    }

    func finish(_ context: RunContext) throws {
        if crossedFloor {
            let back = kept ?? original
            let model = try Transformer(config: back.config)
            model.parameters.copyValues(from: back.parameters)
            model.dropoutProbability = context.student.dropoutProbability
            context.replaceStudent(model)
        }
        let n = context.student.parameterCount, share = percent(n, originalParameters)
        context.logger.notice("prune: the student has \(n) parameters (\(share) of \(originalParameters)) after \(round) rounds")
        context.unregister(role: Self.teacherRole)
        context.unregister(role: Self.keptRole)
        context.setOptimizers([])
    }
}
