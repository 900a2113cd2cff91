import Checkpoint
import Data
import Foundation
import Model
import Reward
import StrictConfig
import Tensor

/// Settings of `teacher-traces`.
public struct TeacherTracesConfiguration: StageConfiguration, Equatable {
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
    /// Extra samples, in one more batch within the same step, for each question none of whose `samples`
    /// traces was kept (0: off). Rejection sampling otherwise drops exactly the questions the teacher finds
    /// hard, and the student never sees them worked.
    public var retrySamples = 0

    /// Every field, each with its default.
    public init(samples: Int = 4, temperature: Float = 0.8, topP: Float? = nil, questionsPerStep: Int = 8, keepPerQuestion: Int = 1,
                maxNewTokens: Int = 224, limit: Int? = nil, retrySamples: Int = 0) {
        self.samples = samples
        self.temperature = temperature
        self.topP = topP
        self.questionsPerStep = questionsPerStep
        self.keepPerQuestion = keepPerQuestion
        self.maxNewTokens = maxNewTokens
        self.limit = limit
        self.retrySamples = retrySamples
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: CodingKeys.allCases.map(\.rawValue))
    }
}

extension TeacherTracesConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case samples, temperature, topP = "top_p", questionsPerStep = "questions_per_step", keepPerQuestion = "keep_per_question"
        case maxNewTokens = "max_new_tokens", limit, retrySamples = "retry_samples"
    }

    /// Reads the stage's keys strictly (its `kind` is the curriculum's).
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: ["kind"] + CodingKeys.allCases.map(\.rawValue))
        samples = try c.int("samples", min: 1) ?? samples
        temperature = try c.float("temperature", range: 0...10) ?? temperature
        topP = try c.float("top_p", range: 1e-6...1) ?? topP
        questionsPerStep = try c.int("questions_per_step", min: 1) ?? questionsPerStep
        keepPerQuestion = try c.int("keep_per_question", min: 1) ?? keepPerQuestion
        maxNewTokens = try c.int("max_new_tokens", min: 1) ?? maxNewTokens
        limit = try c.int("limit", min: 1) ?? limit
        retrySamples = try c.int("retry_samples", min: 0) ?? retrySamples
        // greedy decoding gives one trace per question, however often it is asked
        if temperature == 0 {
            if samples > 1 {
                throw c.issue("samples", "temperature 0 decodes greedily, so all \(samples) samples of a question are the same trace; set samples: 1, or a temperature above 0 to sample different traces")
            }
            if retrySamples > 0 {
                throw c.issue("retry_samples", "temperature 0 decodes greedily, so a retry repeats the rejected trace; remove retry_samples, or set a temperature above 0")
            }
        }
    }
}

/// `teacher-traces`: the teacher samples k traces per training question; only traces whose final answer is
/// right and whose every step verifies exactly are kept (rejection sampling, as DeepSeek-R1's distillation data
/// was made). Each kept step records its confidence: the mean probability the teacher gave that step's tokens.
/// Progress is the question position, so a resumed run samples the remaining questions only; the kept traces
/// live in the checkpoint (artifact `teacher_traces.jsonl`) and in the run folder.
final class TeacherTracesStage: Stage {
    static let kindName = "teacher-traces"
    static let kind = StageKind(name: kindName, reportRow: .none(note: "only writes traces"), parse: TeacherTracesConfiguration.init) { c, context, index in
        TeacherTracesStage(c, context: context, index: index)
    }

    let config: TeacherTracesConfiguration
    let index: Int
    let questions: [TraceRecord]
    private(set) var step = 0
    private var position = 0
    private var counts: [String: Double] = ["kept": 0, "samples": 0, "correct": 0, "verified": 0, "questions_with_trace": 0,
                                            "retried": 0, "recovered": 0]
    private let judge = TraceJudge()

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
        let first = try sample(chunk.indices.map { ($0, config.samples) }, chunk: chunk, context: context)
        var kept = first.kept
        var generated = first.generatedTokens
        var retried = 0, recovered = 0
        let missing = chunk.indices.filter { !first.keptQuestions.contains($0) }
        if config.retrySamples > 0 && !missing.isEmpty {
            let retry = try sample(missing.map { ($0, config.retrySamples) }, chunk: chunk, context: context)
            kept += retry.kept
            generated += retry.generatedTokens
            retried = missing.count
            recovered = retry.keptQuestions.count
        }
        let questionsKept = first.keptQuestions.count + recovered
        if !kept.isEmpty {
            var bytes = context.artifacts[RunContext.teacherTracesArtifact] ?? []
            bytes += Array(kept.map { $0.jsonLine + "\n" }.joined().utf8)
            context.artifacts[RunContext.teacherTracesArtifact] = bytes
        }
        position += chunk.count
        step += 1
        // accuracy and verification describe the first `samples` per question (the teacher at this
        // temperature); retries only add traces
        let n = Double(chunk.count * config.samples)
        counts["kept", default: 0] += Double(kept.count)
        counts["samples", default: 0] += n
        counts["correct", default: 0] += Double(first.correct)
        counts["verified", default: 0] += Double(first.verified)
        counts["questions_with_trace", default: 0] += Double(questionsKept)
        counts["retried", default: 0] += Double(retried)
        counts["recovered", default: 0] += Double(recovered)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return ["answer_accuracy": Double(first.correct) / n, "verified_rate": Double(first.verified) / n,
                "questions_kept_rate": Double(questionsKept) / Double(chunk.count),
                "retried_total": counts["retried"]!, "recovered_total": counts["recovered"]!,
                "kept_total": counts["kept"]!, "temperature": Double(config.temperature),
                "tokens_per_second": Double(generated) / max(seconds, 1e-9)]
    }

    /// What one batch of sampling kept.
    private struct Batch {
        var kept: [TraceRecord] = []
        /// Chunk positions of the questions with at least one kept trace.
        var keptQuestions = Set<Int>()
        var correct = 0, verified = 0, generatedTokens = 0
    }

    /// Samples `count` completions for each listed question of `chunk` (by position) in one call, its rows decoded in
    /// the run's fixed batches and under mpirun shared between the ranks (`RunContext.samplingSplit`), and keeps the
    /// verified ones, at most `keepPerQuestion` distinct texts per question.
    private func sample(_ requests: [(question: Int, count: Int)], chunk: [TraceRecord], context: RunContext) throws -> Batch {
        let codec = context.codec
        let prompts = try requests.flatMap { r -> [[Int32]] in
            let p = try codec.prompt(question: chunk[r.question].question ?? "")
            return Array(repeating: p, count: r.count)
        }
        let longest = prompts.map(\.count).max() ?? 0
        let room = context.teacher.config.maxPositionEmbeddings - longest - 1
        var options = SamplingOptions(temperature: config.temperature, topP: config.topP,
                                      maxNewTokens: max(1, min(config.maxNewTokens, room)), stopTokens: codec.stopIDs)
        if config.temperature == 0 { options = .greedy(maxNewTokens: options.maxNewTokens, stopTokens: codec.stopIDs) }
        // one draw from the run's generator per batch; sample s of the question at position q of the training questions
        // draws from its own stream of that one, so a trace does not depend on which rank decodes it
        let base = config.temperature > 0 ? context.rng.fork() : context.rng
        let streams = requests.flatMap { r in (0..<r.count).map { base.substream(question: position + r.question, sample: $0) } }
        let split = context.samplingSplit
        let generation = try withNoGrad {
            try context.teacher.generate(prompts: prompts, options: options, streams: streams, split: split)
        }

        var batch = Batch()
        var row = 0
        for r in requests {
            let q = chunk[r.question]
            var texts = Set<String>()
            for _ in 0..<r.count {
                defer { row += 1 }
                let ids = generation.tokens[row]
                batch.generatedTokens += ids.count
                let decoded = codec.decode(completion: ids)
                let judged = SampledTrace(text: decoded.text, logProbs: generation.logProbs[row], question: q, judge: judge,
                                          tokenOfCharacter: decoded.tokenOfCharacter)
                let text = decoded.text
                if judged.correct { batch.correct += 1 }
                if judged.verified { batch.verified += 1 }
                guard let record = judged.record, texts.count < config.keepPerQuestion, texts.insert(text).inserted else { continue }
                batch.kept.append(TraceRecord(id: "teacher-\(q.id ?? "q\(position + r.question)")-\(texts.count - 1)", domain: record.domain,
                                              question: record.question, steps: record.steps, stepConfidence: record.stepConfidence,
                                              answer: record.answer, source: "teacher"))
            }
            if !texts.isEmpty { batch.keptQuestions.insert(r.question) }
        }
        return batch
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
        // in memory the traces stay in the context's artifacts only; under mpirun every rank holds the same traces
        // (each decoded its block of every batch and received the others') and rank 0 writes them
        if context.writesFiles && context.group.isWriter {
            try TraceDataset.write(traces, to: context.runDirectory + "/teacher-traces.jsonl")
        }
        let samples = max(counts["samples"] ?? 0, 1)
        context.logger.info("teacher-traces: kept \(traces.count) verified traces for \(Int(counts["questions_with_trace"] ?? 0)) of \(questions.count) questions (answer accuracy \(String(format: "%.3f", (counts["correct"] ?? 0) / samples)); \(Int(counts["recovered"] ?? 0)) of \(Int(counts["retried"] ?? 0)) retried questions recovered)")
    }
}

/// The rejection-sampling verdict on one sampled completion: is the final answer right, does every step
/// verify, and, when both hold, the trace as a dataset row with each step's confidence (the mean probability
/// of the tokens that wrote the step's characters).
public struct SampledTrace {
    public let correct: Bool
    public let verified: Bool
    /// The accepted row (source `teacher`), nil when rejected.
    public let record: TraceRecord?

    /// - Parameters:
    ///   - tokenOfCharacter: the completion token that wrote each character of `text` (`TraceCodec.decode`); nil
    ///     means one token per character (the character tokenizer).
    public init(text: String, logProbs: [Float], question: TraceRecord, verifier: StepVerifier = StepVerifier(),
                tokenOfCharacter: [Int]? = nil) {
        self.init(text: text, logProbs: logProbs, question: question, judge: TraceJudge(verifier: verifier),
                  tokenOfCharacter: tokenOfCharacter)
    }

    /// The verdict of `judge` on `text`; only a trace that ends with its answer line is judged at all.
    public init(text: String, logProbs: [Float], question: TraceRecord, judge: TraceJudge, tokenOfCharacter: [Int]? = nil) {
        let verdict = judge.judge(completion: text, question: question.question ?? "", referenceAnswer: question.answer)
        let trace = verdict.trace
        guard let answer = verdict.answer, verdict.endsWithAnswer else {
            correct = false; verified = false; record = nil
            return
        }
        let steps = trace.stepTexts
        correct = verdict.correct
        verified = verdict.stepsVerify
        guard verdict.accepted else { record = nil; return }
        let confidence = trace.steps.map { line -> Double in
            let tokens: [Int]
            if let map = tokenOfCharacter {
                let chars = line.span.clamped(to: 0..<map.count)
                tokens = chars.isEmpty ? [] : Array(map[chars.lowerBound]...map[chars.upperBound - 1])
            } else {
                tokens = Array(line.span)
            }
            let span = tokens.filter { $0 < logProbs.count }
            return span.isEmpty ? 0 : span.reduce(0.0) { $0 + Foundation.exp(Double(logProbs[$1])) } / Double(span.count)
        }
        record = TraceRecord(id: question.id, domain: question.domain, question: question.question, steps: steps,
                             stepConfidence: confidence, answer: answer, source: "teacher")
    }
}
