import Checkpoint
import Data
import Foundation
import Model
import PPO
import Reward
import StrictConfig
import Tensor

/// Settings of `ppo-trace`.
///
///     - kind: ppo-trace
///       iterations: 30
///       eval_every: 10
///       validation_problems: 32
///       patience: 0            # validations without a better reward before stopping (0: never)
///       restore_best: true     # end with the student of the best validation reward (the start included)
///       reward: {weights: {answer: 1, step_validity: 0.5}}   # RewardConfig keys
///       ppo: {learning_rate: 1.0e-5, advantage: grpo, group_size: 4, temperature: {entropy_target: {target: 0.6}}}
public struct PPOTraceConfiguration: StageConfiguration, Equatable {
    /// PPO iterations (rollout + update) in the budget.
    public var iterations = 30
    /// Validate (greedy, on validation questions) every this many iterations; also before the first and after the last.
    public var evalEvery = 10
    /// Validation questions scored each time.
    public var validationProblems = 32
    /// Stop after this many validations without a better validation reward (0: never stop early).
    public var patience = 0
    /// At the end, put back the student of the best validation reward, the stage's start included, so the
    /// stage never hands on a student worse on validation than it received.
    public var restoreBest = true
    public var reward = RewardConfig()
    public var ppo = PPOConfig()

    /// Every field, each with its default.
    public init(iterations: Int = 30, evalEvery: Int = 10, validationProblems: Int = 32, patience: Int = 0, restoreBest: Bool = true,
                reward: RewardConfig = RewardConfig(), ppo: PPOConfig = PPOConfig()) {
        self.iterations = iterations
        self.evalEvery = evalEvery
        self.validationProblems = validationProblems
        self.patience = patience
        self.restoreBest = restoreBest
        self.reward = reward
        self.ppo = ppo
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: CodingKeys.allCases.map(\.rawValue))
    }
}

extension PPOTraceConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case iterations, evalEvery = "eval_every", validationProblems = "validation_problems", patience, restoreBest = "restore_best"
        case reward, ppo
    }

    /// Reads the stage's keys strictly (its `kind` is the curriculum's); `reward` and `ppo` read themselves.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: ["kind"] + CodingKeys.allCases.map(\.rawValue))
        iterations = try c.int("iterations", min: 1) ?? iterations
        evalEvery = try c.int("eval_every", min: 0) ?? evalEvery
        validationProblems = try c.int("validation_problems", min: 1) ?? validationProblems
        patience = try c.int("patience", min: 0) ?? patience
        restoreBest = try c.bool("restore_best") ?? restoreBest
        reward = try c.settings("reward", RewardConfig.self) ?? reward
        ppo = try c.settings("ppo", PPOConfig.self) ?? ppo
    }
}

extension StrictContainer {
    /// A reward or PPO settings object at `key`: their typed errors become issues at their key path below `key`.
    func settings<T: Decodable>(_ key: String, _ type: T.Type) throws -> T? {
        func issue(_ field: String, _ message: String) -> ConfigIssue {
            let below = field == "(top level)" ? [] : field.split(separator: ".").map { ConfigKey(String($0)) }
            return ConfigIssue(path: codingPath + [ConfigKey(key)] + below, .invalid(message))
        }
        do {
            return try value(key, type, expected: "a mapping of keys to values")
        } catch let e as PPOConfigError {
            throw issue(e.field, e.reason)
        } catch RewardConfigError.unknownKey(let field, let known) {
            throw issue(field, "unknown key; known keys: \(known.joined(separator: ", "))")
        } catch RewardConfigError.invalidValue(let field, let reason) {
            throw issue(field, reason)
        }
    }
}

/// `ppo-trace`: PPO on the student (Schulman et al. 2017) with the composite reasoning-trace reward (answer,
/// per-step verification, agreement with the teacher's trace, format, length), a KL penalty toward a frozen copy
/// of the student made when the stage starts, and an adaptive sampling temperature. The value head (role
/// `value_head`), the frozen reference (role `reference`), both optimizers and the KL and temperature
/// controllers are checkpointed, so a resumed stage continues exactly. With `restore_best` the student of the
/// best validation reward is kept as role `student_best` and put back at the end.
final class PPOTraceStage: Stage {
    static let kindName = "ppo-trace"
    static let kind = StageKind(name: kindName, parse: PPOTraceConfiguration.init) { c, context, index in
        try PPOTraceStage(c, context: context, index: index)
    }

    let config: PPOTraceConfiguration
    let index: Int
    let trainer: PPOTrainer
    let problems: [PPOProblem]
    let validation: [PPOProblem]
    private var cursor: DataCursor
    private(set) var step = 0
    /// Validation values at the stage's start (before any update), for the before/after comparison.
    private var start: [String: Double] = [:]
    /// Watches the validation reward (as its negative: lower is better).
    private var early: EarlyStopping
    private static let bestRole = "student_best"

    init(_ c: PPOTraceConfiguration, context: RunContext, index: Int) throws {
        config = c
        self.index = index
        var rng = RandomGenerator(seed: context.curriculum.seed &+ 0x0990 &+ UInt64(index))
        let valueHead = ValueHead(hiddenSize: context.student.config.hiddenSize, rng: &rng)
        let reference = try Transformer(config: context.student.config, rng: &rng)
        reference.parameters.copyValues(from: context.student.parameters)  // frozen copy at the stage's start
        context.register(role: "value_head", store: valueHead.parameters)
        context.register(role: "reference", store: reference.parameters, configJSON: reference.config.jsonString())
        trainer = try PPOTrainer(policy: context.student, valueHead: valueHead, reference: reference,
                                 teacher: c.ppo.teacherLogRatioCoefficient > 0 ? context.teacher : nil,
                                 codec: context.codec, reward: CompositeReward(config: c.reward), config: c.ppo)
        trainer.reduction = context.group  // under mpirun each rank computes its block of a minibatch's shards
        trainer.shardCount = context.curriculum.run.gradientShards
        context.setOptimizers([("student", trainer.policyOptimizer), ("value_head", trainer.valueOptimizer)])
        // the teacher's verified trace for a question, when the teacher-traces stage kept one, else the
        // reference trace when the student's side has it (validation rows all have theirs)
        var teacherTrace: [String: String] = [:]
        for t in try context.teacherTraces() where teacherTrace[t.question ?? ""] == nil { teacherTrace[t.question ?? ""] = t.traceText }
        func problem(_ r: TraceRecord, reference: Bool) -> PPOProblem {
            PPOProblem(question: r.question ?? "", referenceAnswer: r.answer,
                       teacherTrace: teacherTrace[r.question ?? ""] ?? (reference ? r.traceText : nil))
        }
        problems = context.data.train.enumerated().map { problem($1, reference: $0 < context.data.referenceCount) }
        validation = context.data.validation.prefix(c.validationProblems).map { problem($0, reference: true) }
        cursor = DataCursor(count: problems.count, seed: context.curriculum.seed &+ UInt64(index) &* 1_000_003)
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
        let batch = cursor.next(config.ppo.promptsPerIteration).map { problems[$0] }
        let m = try trainer.iterate(problems: batch, rng: &context.rng)
        step += 1
        var values = m.values
        for (k, v) in start { values["start/" + k] = v }
        return values
    }

    private func validate(_ context: RunContext) throws -> [String: Double] {
        try trainer.evaluate(problems: validation, rng: &context.rng).values
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation {
        let values = try validate(context)
        var metrics = validationMetrics(values, start: start)
        let stop = record(values, step: step, context: context)
        metrics["validation/best_reward"] = -early.best
        return StageEvaluation(metrics: metrics, stop: stop)
    }

    /// Feeds a validation's reward to early stopping and keeps the student when it is the best so far;
    /// returns whether patience ran out.
    private func record(_ values: [String: Double], step: Int, context: RunContext) -> Bool {
        early.record(score: values["reward"], step: step, keepingBestIn: config.restoreBest ? Self.bestRole : nil, context: context)
    }

    func progress() -> StageProgress {
        StageProgress(step: step, data: cursor.position,
                      controllers: ["ppo": trainer.controllerState, "start": start, "early_stopping": early.state])
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        step = progress.step
        cursor = DataCursor(count: cursor.count, seed: cursor.seed, position: progress.data)
        if let state = progress.controllers["ppo"] { try trainer.restoreControllers(state) }
        start = progress.controllers["start"] ?? [:]
        early.restore(progress.controllers["early_stopping"])
    }

    func finish(_ context: RunContext) throws {
        if config.restoreBest, early.bestStep >= 0, let best = context.store(role: Self.bestRole) {
            context.student.parameters.copyValues(from: best)
            context.logger.info("ppo-trace: kept the student of iteration \(early.bestStep) (validation reward \(-early.best))")
        }
        context.unregister(role: Self.bestRole)
        context.unregister(role: "reference")
        context.setOptimizers([])
    }
}

/// A sampling stage's validation row (ppo-trace, on-policy-distill): each figure as `validation/NAME`, and the
/// stage start's as `validation/start_NAME` beside it.
func validationMetrics(_ values: [String: Double], start: [String: Double]) -> [String: Double] {
    var metrics: [String: Double] = [:]
    for (k, v) in values { metrics["validation/" + k] = v }
    for (k, v) in start { metrics["validation/start_" + k] = v }
    return metrics
}
