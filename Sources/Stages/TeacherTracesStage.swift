import Checkpoint
import Data
import Foundation
import Model
import Reward
import Tensor

/// Settings of `teacher-traces`.
public struct TeacherTracesConfiguration: StageConfiguration {
    /// Traces sampled per question (k).
    public var samples = 4
    /// Sampling temperature.
    public var temperature: Float = 0.8
    /// Nucleus sampling threshold (nil: off).
    public var topP: Float?
    /// Questions sampled per unit of work (one batch of questions x samples).
    public var questionsPerStep = 8
    /// Verified traces kept per question at most (distinct texts).
    public var keepPerQuestion = 1
    /// Longest completion in tokens (capped by the teacher's positions).
    public var maxNewTokens = 224
    /// Training questions to sample for (nil: all).
    public var limit: Int?

    public init(_ node: ConfigNode) throws {
        samples = try node.int("samples", samples, min: 1)
        temperature = try node.float("temperature", temperature, range: 0...10)
        topP = try node.optionalDouble("top_p", range: 1e-6...1).map(Float.init)
        questionsPerStep = try node.int("questions_per_step", questionsPerStep, min: 1)
        keepPerQuestion = try node.int("keep_per_question", keepPerQuestion, min: 1)
        maxNewTokens = try node.int("max_new_tokens", maxNewTokens, min: 1)
        limit = try node.optionalInt("limit", min: 1)
    }
}

/// `teacher-traces`: the teacher samples k traces per training question; only traces whose final answer is
/// right and whose every step verifies exactly are kept (rejection sampling, as DeepSeek-R1's distillation data
/// was made). Each kept step records its confidence: the mean probability the teacher gave that step's tokens.
/// Progress is the question position, so a resumed run samples the remaining questions only; the kept traces
/// live in the checkpoint (artifact `teacher_traces.jsonl`) and in the run folder.
final class TeacherTracesStage: Stage {
    static let kindName = "teacher-traces"
    static let kind = StageKind(name: kindName, parse: TeacherTracesConfiguration.init) { c, context, index in
        TeacherTracesStage(c, context: context, index: index)
    }

    let config: TeacherTracesConfiguration
    let index: Int
    let questions: [TraceRecord]
    private(set) var step = 0
    private var position = 0
    private var counts: [String: Double] = ["kept": 0, "samples": 0, "correct": 0, "verified": 0, "questions_with_trace": 0]
    private let verifier = StepVerifier()

    init(_ c: TeacherTracesConfiguration, context: RunContext, index: Int) {
        config = c
        self.index = index
        let all = context.data.train
        questions = Array(all.prefix(c.limit ?? all.count))
    }

    var totalSteps: Int { (questions.count + config.questionsPerStep - 1) / config.questionsPerStep }
    var isEvaluationDue: Bool { false }

    func advance(_ context: RunContext) throws -> [String: Double] {
        let started = DispatchTime.now().uptimeNanoseconds
        let chunk = Array(questions[position..<min(position + config.questionsPerStep, questions.count)])
        let tokenizer = context.tokenizer
        let prompts = try chunk.flatMap { q -> [[Int32]] in
            let p = try tokenizer.encode(TraceFormat.prompt(question: q.question ?? ""), addBOS: true)
            return Array(repeating: p, count: config.samples)
        }
        let longest = prompts.map(\.count).max() ?? 0
        let room = context.teacher.config.maxPositionEmbeddings - longest - 1
        var options = SamplingOptions(temperature: config.temperature, topP: config.topP,
                                      maxNewTokens: max(1, min(config.maxNewTokens, room)), stopTokens: [Tokenizer.eos])
        if config.temperature == 0 { options = .greedy(maxNewTokens: options.maxNewTokens) }
        let generation = withNoGrad { context.teacher.generate(prompts: prompts, options: options, rng: &context.rng) }

        var kept: [TraceRecord] = []
        var generated = 0
        var correct = 0, verified = 0, questionsKept = 0
        for (qi, q) in chunk.enumerated() {
            var texts = Set<String>()
            for s in 0..<config.samples {
                let row = qi * config.samples + s
                let ids = generation.tokens[row]
                generated += ids.count
                let text = tokenizer.decode(ids)
                let judged = SampledTrace(text: text, logProbs: generation.logProbs[row], question: q, verifier: verifier)
                if judged.correct { correct += 1 }
                if judged.verified { verified += 1 }
                guard let record = judged.record, texts.count < config.keepPerQuestion, texts.insert(text).inserted else { continue }
                kept.append(TraceRecord(id: "teacher-\(q.id ?? "q\(position + qi)")-\(texts.count - 1)", domain: record.domain,
                                        question: record.question, steps: record.steps, stepConfidence: record.stepConfidence,
                                        answer: record.answer, source: "teacher"))
            }
            if !texts.isEmpty { questionsKept += 1 }
        }
        if !kept.isEmpty {
            var bytes = context.artifacts[RunContext.teacherTracesArtifact] ?? []
            bytes += Array(kept.map { $0.jsonLine + "\n" }.joined().utf8)
            context.artifacts[RunContext.teacherTracesArtifact] = bytes
        }
        position += chunk.count
        step += 1
        let n = Double(chunk.count * config.samples)
        counts["kept", default: 0] += Double(kept.count)
        counts["samples", default: 0] += n
        counts["correct", default: 0] += Double(correct)
        counts["verified", default: 0] += Double(verified)
        counts["questions_with_trace", default: 0] += Double(questionsKept)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return ["answer_accuracy": Double(correct) / n, "verified_rate": Double(verified) / n,
                "questions_kept_rate": Double(questionsKept) / Double(chunk.count),
                "kept_total": counts["kept"]!, "temperature": Double(config.temperature),
                "tokens_per_second": Double(generated) / max(seconds, 1e-9)]
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation { StageEvaluation(metrics: [:]) }

    func progress() -> StageProgress {
        StageProgress(step: step, data: DataPosition(epoch: 0, index: position), controllers: ["traces": counts])
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        step = progress.step
        position = progress.data.index
        counts = progress.controllers["traces"] ?? counts
    }

    func finish(_ context: RunContext) throws {
        let traces = try context.teacherTraces()
        try TraceDataset.write(traces, to: context.runDirectory + "/teacher-traces.jsonl")
        let samples = max(counts["samples"] ?? 0, 1)
        context.logger.info("teacher-traces: kept \(traces.count) verified traces for \(Int(counts["questions_with_trace"] ?? 0)) of \(questions.count) questions (answer accuracy \(String(format: "%.3f", (counts["correct"] ?? 0) / samples)))")
    }
}

/// The rejection-sampling verdict on one sampled completion: is the final answer right, does every step
/// verify, and, when both hold, the trace as a dataset row with each step's confidence (the mean probability
/// of the step's tokens; with the one-token-per-character tokenizer a step's character span in the completion
/// is its token span).
public struct SampledTrace {
    public let correct: Bool
    public let verified: Bool
    /// The accepted row (source `teacher`), nil when rejected.
    public let record: TraceRecord?

    public init(text: String, logProbs: [Float], question: TraceRecord, verifier: StepVerifier = StepVerifier()) {
        let trace = ParsedTrace(text)
        guard let answer = trace.answer, trace.endsWithAnswer else {
            correct = false; verified = false; record = nil
            return
        }
        let steps = trace.stepTexts
        correct = AnswerNormalizer.equivalent(answer, question.answer)
        verified = !steps.isEmpty && verifier.verify(steps: steps).isValid
        guard correct && verified else { record = nil; return }
        let confidence = trace.steps.map { line -> Double in
            let span = line.span.clamped(to: 0..<logProbs.count)
            return span.isEmpty ? 0 : span.reduce(0.0) { $0 + Foundation.exp(Double(logProbs[$1])) } / Double(span.count)
        }
        record = TraceRecord(id: question.id, domain: question.domain, question: question.question, steps: steps,
                             stepConfidence: confidence, answer: answer, source: "teacher")
    }
}
