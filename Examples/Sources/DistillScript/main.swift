import Eval
import Model
import Reward
import Stages
import Tensor

/// A custom reward: 1 when the trace's last line states the reference answer.
struct StatesAnswer: RewardFunction {
    let name = "states_answer"
    func evaluate(_ input: RewardInput) -> RewardResult {
        let last = input.trace.lines.last, total: Double = last?.text == "answer: \(input.referenceAnswer)" ? 1 : 0
        return RewardResult(total: total, components: [RewardComponent(name: name, value: total)],
                            stepRewards: last.map { [StepReward(span: $0.span, reward: total)] } ?? [])
    }
}

/// A custom stage: the student answers `questions` validation questions greedily; the reward scores them (no training).
struct ProbeSettings: StageConfiguration {
    var questions: Int
    init(_ node: ConfigNode) throws { questions = try node.int("questions", 8, min: 1) }
}
final class RewardProbe: Stage {
    let settings: ProbeSettings, totalSteps = 1, isEvaluationDue = false
    var step = 0
    init(_ settings: ProbeSettings) { self.settings = settings }
    func advance(_ c: RunContext) throws -> [String: Double] {
        let rows = Array(c.data.validation.prefix(settings.questions))
        let out = c.student.generate(prompts: try rows.map { try c.codec.prompt(question: $0.question ?? "") },
                                     options: .greedy(maxNewTokens: 112, stopTokens: c.codec.stopIDs), rng: &c.rng)
        step += 1
        return ["reward/states_answer": zip(rows, out.tokens).map { row, ids in
            StatesAnswer().evaluate(question: row.question ?? "", trace: c.codec.decode(completion: ids).text, referenceAnswer: row.answer).total
        }.reduce(0, +) / Double(rows.count)]
    }
    func evaluate(_ c: RunContext) throws -> StageEvaluation { StageEvaluation(metrics: [:]) }
    func progress() -> StageProgress { StageProgress(step: step) }
    func restore(_ p: StageProgress, context: RunContext) throws { step = p.step }
    func finish(_ c: RunContext) throws {}
}

var registry = StageRegistry.standard
registry.register(StageKind(name: "reward-probe", parse: ProbeSettings.init) { settings, _, _ in RewardProbe(settings) })
let curriculum = try Curriculum(text: """
    seed: 1
    data: {domains: [addition], train_size: 64, validation_size: 16, max_length: 128}
    stages:
      - {kind: teacher-sft, steps: 300, batch_size: 8, learning_rate: 0.01}
      - {kind: output-distill, steps: 200, batch_size: 8, learning_rate: 0.01}
      - {kind: reward-probe, questions: 8}
    """, registry: registry)
var rng = RandomGenerator(seed: 7)
let teacher = try Transformer(config: TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 32, intermediateSize: 64,
                                                        numHiddenLayers: 2, numAttentionHeads: 4), rng: &rng)
let student = try Transformer(config: teacher.config.shrunk(by: ShrinkSpec(layers: 1, hiddenSize: 16, heads: 2, intermediateSize: 32)), rng: &rng)
let runner = try CurriculumRunner(curriculum: curriculum, teacher: teacher, student: student, registry: registry)  // in memory
try runner.run()
let suite = try MathProofSuite(domains: [.addition], countPerDomain: 8).generate()
for (label, model) in [("teacher", runner.context.teacher), ("student", runner.context.student)] {
    let report = try Evaluator(config: EvalConfig(maxNewTokens: 112, batchSize: 8))
        .evaluate(model: model, codec: runner.context.codec, suite: suite, label: label, role: label)
    print("\(label): accuracy \(report.greedy.accuracy) on \(suite.problems.count) \(suite.name) problems")
}
print("student's states_answer reward on validation:", runner.metricsHistory[2]?["reward/states_answer"] ?? [])
