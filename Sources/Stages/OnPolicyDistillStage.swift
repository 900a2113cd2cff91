import Checkpoint
import Data
import Foundation
import Model
import PPO
import Reward
import StrictConfig
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
public struct OnPolicyDistillConfiguration: StageConfiguration, Equatable {
    /// The iteration budget, validation, early stopping and restore-best (shared with the other sampling stage).
    public var loop = ValidatedLoopSettings(iterations: 40)
    /// Iterations (one sampled batch and one update each) in the budget.
    public var iterations: Int { get { loop.iterations } set { loop.iterations = newValue } }
    /// Validate (greedy, on validation questions) every this many iterations; also before the first and after the last.
    public var evalEvery: Int { get { loop.evalEvery } set { loop.evalEvery = newValue } }
    /// Validation questions scored each time.
    public var validationProblems: Int { get { loop.validationProblems } set { loop.validationProblems = newValue } }
    /// Stop after this many validations without a better validation accuracy (0: never stop early).
    public var patience: Int { get { loop.patience } set { loop.patience = newValue } }
    /// At the end, put back the student of the best validation accuracy, the stage's start included.
    public var restoreBest: Bool { get { loop.restoreBest } set { loop.restoreBest = newValue } }
    /// gkd's off-policy traces; nil resolves as output-distill's `data` does (teacher traces after a
    /// `teacher-traces` stage, else the references).
    public var data: DistillationData? = nil
    /// The trace reward (judges samples and validation; enters the advantage with `reward_weight` > 0).
    public var reward = RewardConfig()
    /// The objective and the training settings.
    public var distillation = OnPolicyDistillationConfig()

    /// Every field, each with its default.
    public init(iterations: Int = 40, evalEvery: Int = 10, validationProblems: Int = 32, patience: Int = 0, restoreBest: Bool = true,
                data: DistillationData? = nil, reward: RewardConfig = RewardConfig(),
                distillation: OnPolicyDistillationConfig = OnPolicyDistillationConfig()) {
        loop = ValidatedLoopSettings(iterations: iterations, evalEvery: evalEvery, validationProblems: validationProblems,
                                     patience: patience, restoreBest: restoreBest)
        self.data = data
        self.reward = reward
        self.distillation = distillation
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: CodingKeys.allCases.map(\.rawValue))
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

extension OnPolicyDistillConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case iterations, evalEvery = "eval_every", validationProblems = "validation_problems", patience, restoreBest = "restore_best"
        case objective, beta, lambda, data, learningRate = "learning_rate", weightDecay = "weight_decay", maxGradNorm = "max_grad_norm"
        case promptsPerIteration = "prompts_per_iteration", samplesPerPrompt = "samples_per_prompt", maxNewTokens = "max_new_tokens"
        case temperature, rewardWeight = "reward_weight", rewardDiscount = "reward_discount", stepRewards = "step_rewards", reward
    }

    /// Reads the stage's keys strictly (its `kind` is the curriculum's); `temperature` and `reward` read themselves.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: ["kind"] + CodingKeys.allCases.map(\.rawValue))
        try loop.read(c)
        var d = OnPolicyDistillationConfig()
        d.objective = try c.choice("objective", OnPolicyObjective.self) ?? d.objective
        let beta = try c.double("beta", range: 0...1)
        let lambda = try c.double("lambda", range: 0...1)
        let given = try c.choice("data", DistillationData.self)
        if d.objective != .gkd {
            for (key, isGiven) in [("beta", beta != nil), ("lambda", lambda != nil), ("data", given != nil)] where isGiven {
                throw c.issue(key, "only used with objective: gkd; remove it or set objective: gkd")
            }
        }
        if let beta { d.beta = Float(beta) }
        if let lambda { d.lambda = lambda }
        if d.objective != .gkd { d.lambda = 1 }  // reverse_kl_pg trains on the student's samples only
        data = given
        d.learningRate = try c.float("learning_rate", range: 1e-12...10) ?? d.learningRate
        d.weightDecay = try c.float("weight_decay", range: 0...10) ?? d.weightDecay
        d.maxGradNorm = try c.float("max_grad_norm", range: 1e-9...1e9) ?? d.maxGradNorm ?? 1
        d.promptsPerIteration = try c.int("prompts_per_iteration", min: 1) ?? d.promptsPerIteration
        d.samplesPerPrompt = try c.int("samples_per_prompt", min: 1) ?? d.samplesPerPrompt
        d.maxNewTokens = try c.int("max_new_tokens", min: 1) ?? d.maxNewTokens
        do {
            d.temperature = try c.value("temperature", TemperatureControl.self, expected: "a number, {entropy_target: {...}} or a schedule") ?? d.temperature
        } catch let e as PPOConfigError {
            // the control names its fields from `temperature`, which is this key already
            let below = e.field == "temperature" ? [] : e.field.dropFirst(e.field.hasPrefix("temperature.") ? 12 : 0).split(separator: ".").map { ConfigKey(String($0)) }
            throw ConfigIssue(path: c.codingPath + [ConfigKey("temperature")] + below, .invalid(e.reason))
        }
        d.rewardWeight = try c.float("reward_weight", range: 0...1e6) ?? d.rewardWeight
        d.rewardDiscount = try c.float("reward_discount", range: 0...1) ?? d.rewardDiscount
        d.stepRewards = try c.bool("step_rewards") ?? d.stepRewards
        reward = try c.settings("reward", RewardConfig.self) ?? reward
        do { try d.validate() } catch let e as PPOConfigError {
            throw c.issue(e.field.split(separator: ".").first.map(String.init) ?? e.field, e.reason)
        }
        distillation = d
    }

    /// Writes the keys `init(from:)` reads: the loop's, then the objective's (its own keys only with gkd).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let d = distillation
        try loop.encode(to: encoder)
        try c.encode(d.objective, forKey: .objective)
        if d.objective == .gkd {
            try c.encode(d.beta, forKey: .beta)
            try c.encode(d.lambda, forKey: .lambda)
            try c.encodeIfPresent(data, forKey: .data)
        }
        try c.encode(d.learningRate, forKey: .learningRate)
        try c.encode(d.weightDecay, forKey: .weightDecay)
        try c.encode(d.maxGradNorm ?? 1, forKey: .maxGradNorm)
        try c.encode(d.promptsPerIteration, forKey: .promptsPerIteration)
        try c.encode(d.samplesPerPrompt, forKey: .samplesPerPrompt)
        try c.encode(d.maxNewTokens, forKey: .maxNewTokens)
        try c.encode(d.temperature, forKey: .temperature)
        try c.encode(d.rewardWeight, forKey: .rewardWeight)
        try c.encode(d.rewardDiscount, forKey: .rewardDiscount)
        try c.encode(d.stepRewards, forKey: .stepRewards)
        try c.encode(reward, forKey: .reward)
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
    /// Validation, early stopping on the validation accuracy (ties broken by the reward) and restore-best.
    private var loop: ValidatedLoop
    var step: Int { loop.step }

    init(_ c: OnPolicyDistillConfiguration, context: RunContext, index: Int) throws {
        config = c
        self.index = index
        distiller = try OnPolicyDistiller(student: context.student, teacher: context.teacher, codec: context.codec,
                                          reward: CompositeReward(config: c.reward), config: c.distillation)
        distiller.reduction = context.group  // under mpirun each rank computes its block of a batch's shards
        distiller.shardCount = context.curriculum.run.gradientShards
        distiller.sampling = context.samplingSplit  // under mpirun each rank decodes its block of a rollout's batches
        context.setOptimizers([("student", distiller.optimizer)])
        (problems, validation) = try context.ppoProblems(validationCount: c.validationProblems)
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
        // accuracy moves in steps of 1 / validation_problems; the reward's share stays far below one such step (a
        // student that answers nothing right yet can still improve its traces)
        loop = ValidatedLoop(c.loop, context: context) { values in
            values["answer_accuracy"].map { $0 + 1e-6 * (values["reward"] ?? 0) }
        }
    }

    var totalSteps: Int { loop.totalSteps }

    var isEvaluationDue: Bool { loop.isEvaluationDue }

    func advance(_ context: RunContext) throws -> [String: Double] {
        try loop.validateStart(context) { try validate(context) }
        let d = config.distillation
        // TRL's GKD: an iteration is on-policy with probability lambda (drawn only when it is below 1, so a
        // purely on-policy stage consumes the generator exactly as sampling alone does)
        let onPolicy = d.lambda >= 1 || context.rng.nextDouble() < d.lambda
        let m: OnPolicyIterationMetrics
        if onPolicy {
            m = try distiller.iterate(problems: cursor.next(d.promptsPerIteration).map { problems[$0] }, rng: &context.rng)
        } else {
            let picked = traceCursor!.next(d.promptsPerIteration).map { traces[$0] }
            m = try distiller.iterate(prompts: picked.map { Array($0.tokens.prefix($0.promptLength)) },
                                  completions: picked.map { Array($0.tokens.dropFirst($0.promptLength)) })
        }
        guard m.loss.isFinite else {
            throw StageError.diverged(stage: index, step: step, reason: "the loss is \(m.loss); lower learning_rate or set max_grad_norm")
        }
        return loop.iterationDone(m.values)
    }

    private func validate(_ context: RunContext) throws -> [String: Double] {
        try distiller.evaluate(problems: validation, rng: &context.rng, map: context.validationBatches).values
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation {
        try loop.evaluation(validate(context), bestName: "best_score", context: context)
    }

    func progress() -> StageProgress {
        var controllers = loop.controllers.merging(["distiller": distiller.controllerState]) { a, _ in a }
        if let p = traceCursor?.position { controllers["trace_cursor"] = ["epoch": Double(p.epoch), "index": Double(p.index)] }
        return StageProgress(step: step, data: cursor.position, controllers: controllers)
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        loop.restore(progress)
        cursor = DataCursor(count: cursor.count, seed: cursor.seed, position: progress.data)
        if let state = progress.controllers["distiller"] { try distiller.restoreControllers(state) }
        // absent when the stage was saved with lambda 1 and resumed with a lower one (--accept-changes): start the traces afresh
        if let t = traceCursor, let s = progress.controllers["trace_cursor"] {
            guard let e = s["epoch"], let i = s["index"], e >= 0, i >= 0, e == e.rounded(), i == i.rounded(), e < 1e15, Int(i) < t.count else {
                throw PPOError.invalidControllerState(key: "trace_cursor", reason: "not an epoch and an index within \(t.count) traces")
            }
            traceCursor = DataCursor(count: t.count, seed: t.seed, position: DataPosition(epoch: Int(e), index: Int(i)))
        }
    }

    func finish(_ context: RunContext) throws {
        if let best = loop.finish(context) {
            context.logger.info("on-policy-distill: kept the student of iteration \(best.step) (validation accuracy + 1e-6 x reward \(best.score))")
        }
        context.setOptimizers([])
    }
}
