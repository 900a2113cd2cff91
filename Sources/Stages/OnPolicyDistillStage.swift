import Checkpoint
import Data
import Foundation
import Model
import PPO
import Reward
import Tensor

/// Settings of `on-policy-distill`.
///
///     - kind: on-policy-distill
///       iterations: 40
///       objective: gkd          # or reverse_kl_pg
///       beta: 0.5               # gkd: 0 forward KL, 1 reverse KL
///       lambda: 0.5             # gkd: share of iterations on the student's own samples (the rest on teacher traces)
///       data: teacher_traces    # gkd's off-policy batches: teacher_traces, reference or both
///       learning_rate: 1.0e-5
///       prompts_per_iteration: 16
///       samples_per_prompt: 1
///       max_new_tokens: 64
///       temperature: 1          # or {entropy_target: {target: 0.5}} or a schedule, as ppo-trace
///       reward_weight: 0        # > 0 adds the trace reward (reward: {...}) to the advantage
///       reward_discount: 1
///       step_rewards: true
///       reward: {weights: {answer: 1, step_validity: 0.5}}
///       eval_every: 10
///       validation_problems: 32
///       patience: 0
///       restore_best: true
public struct OnPolicyDistillConfiguration: StageConfiguration {
    /// Iterations (one sampled batch and one update each) in the budget.
    public var iterations = 40
    /// Validate (greedy, on validation questions) every this many iterations; also before the first and after the last.
    public var evalEvery = 10
    /// Validation questions scored each time.
    public var validationProblems = 32
    /// Stop after this many validations without a better validation accuracy (0: never stop early).
    public var patience = 0
    /// At the end, put back the student of the best validation accuracy, the stage's start included.
    public var restoreBest = true
    /// gkd's off-policy traces; nil resolves as output-distill's `data` does (teacher traces after a
    /// `teacher-traces` stage, else the references).
    public var data: DistillationData? = nil
    /// The trace reward (judges samples and validation; enters the advantage with `reward_weight` > 0).
    public var reward = RewardConfig()
    /// The objective and the training settings.
    public var distillation = OnPolicyDistillationConfig()

    public init(_ node: ConfigNode) throws {
        iterations = try node.int("iterations", iterations, min: 1)
        evalEvery = try node.int("eval_every", evalEvery, min: 0)
        validationProblems = try node.int("validation_problems", validationProblems, min: 1)
        patience = try node.int("patience", patience, min: 0)
        restoreBest = try node.bool("restore_best", restoreBest)
        var d = OnPolicyDistillationConfig()
        let objective = try node.choice("objective", d.objective.rawValue, OnPolicyObjective.allCases.map(\.rawValue))
        d.objective = OnPolicyObjective(rawValue: objective)!
        let beta = try node.optionalDouble("beta", range: 0...1)
        let lambda = try node.optionalDouble("lambda", range: 0...1)
        let rawData = try node.optionalString("data")
        if d.objective != .gkd {
            for (key, given) in [("beta", beta != nil), ("lambda", lambda != nil), ("data", rawData != nil)] where given {
                throw try node.child(key).error("only used with objective: gkd; remove it or set objective: gkd")
            }
        }
        if let beta { d.beta = Float(beta) }
        if let lambda { d.lambda = lambda }
        if d.objective != .gkd { d.lambda = 1 }  // reverse_kl_pg trains on the student's samples only
        data = try rawData.map { raw in
            guard let v = DistillationData(rawValue: raw) else {
                throw try node.child("data").error("'\(raw)' is not one of: teacher_traces, reference, both")
            }
            return v
        }
        d.learningRate = try node.float("learning_rate", d.learningRate, range: 1e-12...10)
        d.weightDecay = try node.float("weight_decay", d.weightDecay, range: 0...10)
        d.maxGradNorm = try node.float("max_grad_norm", d.maxGradNorm ?? 1, range: 1e-9...1e9)
        d.promptsPerIteration = try node.int("prompts_per_iteration", d.promptsPerIteration, min: 1)
        d.samplesPerPrompt = try node.int("samples_per_prompt", d.samplesPerPrompt, min: 1)
        d.maxNewTokens = try node.int("max_new_tokens", d.maxNewTokens, min: 1)
        let t = try node.child("temperature")
        if t.isPresent {
            d.temperature = try t.decode(TemperatureControl.self) { error in
                guard let e = error as? PPOConfigError else { return nil }
                // the decoder names fields from `temperature`; this node is `temperature` already
                let field = e.field == "temperature" ? "" : String(e.field.dropFirst(e.field.hasPrefix("temperature.") ? 12 : 0))
                return (field, e.reason)
            }
        }
        d.rewardWeight = try node.float("reward_weight", d.rewardWeight, range: 0...1e6)
        d.rewardDiscount = try node.float("reward_discount", d.rewardDiscount, range: 0...1)
        d.stepRewards = try node.bool("step_rewards", d.stepRewards)
        let r = try node.child("reward")
        if r.isPresent {
            try r.requireMapping()
            reward = try r.decode(RewardConfig.self) { error in
                switch error as? RewardConfigError {
                case .unknownKey(let key, let known)?: return (key, "unknown key; known keys: \(known.joined(separator: ", "))")
                case .invalidValue(let key, let reason)?: return (key, reason)
                default: return nil
                }
            }
        }
        do { try d.validate() } catch let e as PPOConfigError {
            throw try node.child(e.field.split(separator: ".").first.map(String.init) ?? e.field).error(e.reason)
        }
        distillation = d
    }

    /// Off-policy batches of teacher traces need a `teacher-traces` stage before this one (as output-distill's `data`).
    public func check(in curriculum: Curriculum, index: Int) throws {
        let tracesBefore = curriculum.hasTeacherTraces(before: index)
        if let data, data != .reference, !tracesBefore {
            throw CurriculumError(file: curriculum.file, keyPath: "stages[\(index)].data", line: nil,
                                  message: "data: \(data.rawValue) needs a teacher-traces stage earlier in the curriculum; add one or use data: reference")
        }
    }
}

/// `on-policy-distill`: the student samples completions of training questions and the teacher scores the same
/// tokens (GKD's generalised JSD, or the reverse-KL policy gradient), optionally with the verified-step and
/// answer reward in the same advantage; see `OnPolicyDistiller`. With `gkd` and lambda < 1, the other
/// iterations train on teacher traces (chosen by the run generator, so a resumed run draws the same). The
/// temperature controller, the data cursors and early stopping are checkpointed; with `restore_best` the student
/// of the best validation accuracy is kept as role `student_best` and put back at the end.
final class OnPolicyDistillStage: Stage {
    static let kindName = "on-policy-distill"
    static let kind = StageKind(name: kindName, parse: OnPolicyDistillConfiguration.init) { c, context, index in
        try OnPolicyDistillStage(c, context: context, index: index)
    }

    let config: OnPolicyDistillConfiguration
    let index: Int
    let distiller: OnPolicyDistiller
    let problems: [PPOProblem]
    let validation: [PPOProblem]
    /// gkd's off-policy traces (empty when every iteration is on-policy).
    let traces: [TokenizedTrace]
    private var cursor: DataCursor
    private var traceCursor: DataCursor?
    private(set) var step = 0
    /// Validation values at the stage's start (before any update), for the before/after comparison.
    private var start: [String: Double] = [:]
    /// Watches the validation accuracy, ties broken by the reward (as its negative: lower is better).
    private var early: EarlyStopping
    private static let bestRole = "student_best"

    init(_ c: OnPolicyDistillConfiguration, context: RunContext, index: Int) throws {
        config = c
        self.index = index
        distiller = try OnPolicyDistiller(student: context.student, teacher: context.teacher, codec: context.codec,
                                          reward: CompositeReward(config: c.reward), config: c.distillation)
        context.setOptimizers([("student", distiller.optimizer)])
        var teacherTrace: [String: String] = [:]
        for t in try context.teacherTraces() where teacherTrace[t.question ?? ""] == nil { teacherTrace[t.question ?? ""] = t.traceText }
        func problem(_ r: TraceRecord, reference: Bool) -> PPOProblem {
            PPOProblem(question: r.question ?? "", referenceAnswer: r.answer,
                       teacherTrace: teacherTrace[r.question ?? ""] ?? (reference ? r.traceText : nil))
        }
        problems = context.data.train.enumerated().map { problem($1, reference: $0 < context.data.referenceCount) }
        validation = context.data.validation.prefix(c.validationProblems).map { problem($0, reference: true) }
        guard !problems.isEmpty else { throw StageError.noData(stage: index, reason: "no training questions to sample") }
        guard !validation.isEmpty else { throw StageError.noData(stage: index, reason: "no validation questions; raise data.validation_size") }
        cursor = DataCursor(count: problems.count, seed: context.curriculum.seed &+ UInt64(index) &* 1_000_003)
        if c.distillation.objective == .gkd && c.distillation.lambda < 1 {
            traces = try DistillationData.resolve(c.data, in: context.curriculum, index: index).examples(context, index: index)
            guard !traces.isEmpty else {
                throw StageError.noData(stage: index, reason: "lambda \(c.distillation.lambda) < 1 needs traces for the off-policy batches and there are none; set lambda: 1 or give reference traces")
            }
            traceCursor = DataCursor(count: traces.count, seed: context.curriculum.seed &+ UInt64(index) &* 2_000_029)
        } else {
            traces = []
        }
        early = EarlyStopping(patience: c.patience)
        if c.restoreBest { context.registerCopy(of: context.student, role: Self.bestRole) }
    }

    var totalSteps: Int { config.iterations }

    var isEvaluationDue: Bool { step == totalSteps || (config.evalEvery > 0 && step % config.evalEvery == 0) }

    func advance(_ context: RunContext) throws -> [String: Double] {
        if step == 0 && start.isEmpty {
            start = try validate(context)
            _ = record(start, step: 0, context: context)
        }
        let d = config.distillation
        // TRL's GKD: an iteration is on-policy with probability lambda (drawn only when it is below 1, so a
        // purely on-policy stage consumes the generator exactly as sampling alone does)
        let onPolicy = d.lambda >= 1 || context.rng.nextDouble() < d.lambda
        let m: OnPolicyIterationMetrics
        if onPolicy {
            m = try distiller.iterate(problems: cursor.next(d.promptsPerIteration).map { problems[$0] }, rng: &context.rng)
        } else {
            let picked = traceCursor!.next(d.promptsPerIteration).map { traces[$0] }
            m = distiller.iterate(prompts: picked.map { Array($0.tokens.prefix($0.promptLength)) },
                                  completions: picked.map { Array($0.tokens.dropFirst($0.promptLength)) })
        }
        guard m.loss.isFinite else {
            throw StageError.diverged(stage: index, step: step, reason: "the loss is \(m.loss); lower learning_rate or set max_grad_norm")
        }
        step += 1
        var values = m.values
        for (k, v) in start { values["start/" + k] = v }
        return values
    }

    private func validate(_ context: RunContext) throws -> [String: Double] {
        try distiller.evaluate(problems: validation, rng: &context.rng).values
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation {
        let values = try validate(context)
        var metrics = validationMetrics(values, start: start)
        let stop = record(values, step: step, context: context)
        metrics["validation/best_score"] = -early.best
        return StageEvaluation(metrics: metrics, stop: stop)
    }

    /// Feeds a validation's answer accuracy to early stopping, ties broken by the validation reward (a student
    /// that answers nothing right yet can still improve its traces), and keeps the student when it is the best
    /// so far; returns whether patience ran out.
    private func record(_ values: [String: Double], step: Int, context: RunContext) -> Bool {
        // accuracy moves in steps of 1 / validation_problems; the reward's share stays far below one such step
        let score = values["answer_accuracy"].map { $0 + 1e-6 * (values["reward"] ?? 0) }
        return early.record(score: score, step: step, keepingBestIn: config.restoreBest ? Self.bestRole : nil, context: context)
    }

    func progress() -> StageProgress {
        var controllers = ["distiller": distiller.controllerState, "start": start, "early_stopping": early.state]
        if let p = traceCursor?.position { controllers["trace_cursor"] = ["epoch": Double(p.epoch), "index": Double(p.index)] }
        return StageProgress(step: step, data: cursor.position, controllers: controllers)
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        step = progress.step
        cursor = DataCursor(count: cursor.count, seed: cursor.seed, position: progress.data)
        if let state = progress.controllers["distiller"] { try distiller.restoreControllers(state) }
        // absent when the stage was saved with lambda 1 and resumed with a lower one (--accept-changes): start the traces afresh
        if let t = traceCursor, let s = progress.controllers["trace_cursor"] {
            guard let e = s["epoch"], let i = s["index"], e >= 0, i >= 0, e == e.rounded(), i == i.rounded(), e < 1e15, Int(i) < t.count else {
                throw PPOError.invalidControllerState(key: "trace_cursor", reason: "not an epoch and an index within \(t.count) traces")
            }
            traceCursor = DataCursor(count: t.count, seed: t.seed, position: DataPosition(epoch: Int(e), index: Int(i)))
        }
        start = progress.controllers["start"] ?? [:]
        early.restore(progress.controllers["early_stopping"])
    }

    func finish(_ context: RunContext) throws {
        if config.restoreBest, early.bestStep >= 0, let best = context.store(role: Self.bestRole) {
            context.student.parameters.copyValues(from: best)
            context.logger.info("on-policy-distill: kept the student of iteration \(early.bestStep) (validation accuracy + 1e-6 x reward \(-early.best))")
        }
        context.unregister(role: Self.bestRole)
        context.setOptimizers([])
    }
}
