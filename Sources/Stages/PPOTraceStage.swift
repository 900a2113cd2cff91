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
    /// The iteration budget, validation, early stopping and restore-best (shared with the other sampling stage).
    public var loop = ValidatedLoopSettings(iterations: 30)
    /// PPO iterations (rollout + update) in the budget.
    public var iterations: Int { get { loop.iterations } set { loop.iterations = newValue } }
    /// Validate (greedy, on validation questions) every this many iterations; also before the first and after the last.
    public var evalEvery: Int { get { loop.evalEvery } set { loop.evalEvery = newValue } }
    /// Validation questions scored each time.
    public var validationProblems: Int { get { loop.validationProblems } set { loop.validationProblems = newValue } }
    /// Stop after this many validations without a better validation reward (0: never stop early).
    public var patience: Int { get { loop.patience } set { loop.patience = newValue } }
    /// At the end, put back the student of the best validation reward, the stage's start included, so the
    /// stage never hands on a student worse on validation than it received.
    public var restoreBest: Bool { get { loop.restoreBest } set { loop.restoreBest = newValue } }
    public var reward = RewardConfig()
    public var ppo = PPOConfig()

    /// Every field, each with its default.
    public init(iterations: Int = 30, evalEvery: Int = 10, validationProblems: Int = 32, patience: Int = 0, restoreBest: Bool = true,
                reward: RewardConfig = RewardConfig(), ppo: PPOConfig = PPOConfig()) {
        loop = ValidatedLoopSettings(iterations: iterations, evalEvery: evalEvery, validationProblems: validationProblems,
                                     patience: patience, restoreBest: restoreBest)
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
        try loop.read(c)
        reward = try c.settings("reward", RewardConfig.self) ?? reward
        ppo = try c.settings("ppo", PPOConfig.self) ?? ppo
    }

    /// Writes the keys `init(from:)` reads: the loop's, then `reward` and `ppo`.
    public func encode(to encoder: Encoder) throws {
        try loop.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(reward, forKey: .reward)
        try c.encode(ppo, forKey: .ppo)
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
    /// Validation, early stopping on the validation reward and restore-best.
    private var loop: ValidatedLoop
    var step: Int { loop.step }

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
                                 teacher: c.ppo.scoresWithTeacher || c.ppo.guidance == .teacher ? context.teacher : nil,
                                 codec: context.codec, reward: CompositeReward(config: c.reward), config: c.ppo)
        trainer.reduction = context.group  // under mpirun each rank computes its block of a minibatch's shards
        trainer.shardCount = context.curriculum.run.gradientShards
        trainer.sampling = context.samplingSplit  // under mpirun each rank decodes its block of a rollout's batches
        context.setOptimizers([("student", trainer.policyOptimizer), ("value_head", trainer.valueOptimizer)])
        (problems, validation) = try context.ppoProblems(validationCount: c.validationProblems)
        cursor = DataCursor(count: problems.count, seed: context.curriculum.seed &+ UInt64(index) &* 1_000_003)
        loop = ValidatedLoop(c.loop, context: context) { $0["reward"] }
    }

    var totalSteps: Int { loop.totalSteps }

    var isEvaluationDue: Bool { loop.isEvaluationDue }

    func advance(_ context: RunContext) throws -> [String: Double] {
        try loop.validateStart(context) { try validate(context) }
        // more than one draw per iteration only with filter_groups; the cursor is global, so a resume continues it
        let m = try trainer.iterate(drawing: { [problems] count in cursor.next(count).map { problems[$0] } }, rng: &context.rng)
        return loop.iterationDone(m.values)
    }

    private func validate(_ context: RunContext) throws -> [String: Double] {
        try trainer.evaluate(problems: validation, rng: &context.rng, map: context.validationBatches).values
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation {
        try loop.evaluation(validate(context), bestName: "best_reward", context: context)
    }

    func progress() -> StageProgress {
        StageProgress(step: step, data: cursor.position,
                      controllers: loop.controllers.merging(["ppo": trainer.controllerState]) { a, _ in a })
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        loop.restore(progress)
        cursor = DataCursor(count: cursor.count, seed: cursor.seed, position: progress.data)
        if let state = progress.controllers["ppo"] { try trainer.restoreControllers(state) }
    }

    func finish(_ context: RunContext) throws {
        if let best = loop.finish(context) {
            context.logger.info("ppo-trace: kept the student of iteration \(best.step) (validation reward \(best.score))")
        }
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
