import Data
import Foundation
import Model
import Reward
import Tensor

/// What an evaluation is doing, for a progress display (the evaluator itself prints nothing).
public enum EvalProgress: Sendable {
    /// `done` of `total` problems decoded greedily for the model labelled `label`.
    case greedy(label: String, done: Int, total: Int)
    /// `done` of `total` samples drawn.
    case sampling(label: String, done: Int, total: Int)
}

/// Runs one model over a suite: batched greedy decoding (scored for accuracy, step validity, step agreement,
/// timing), then, when configured, batched sampling for pass@k and maj@k.
///
/// Prompts and completions go through a `TraceCodec`, exactly as training and PPO present them.
public struct Evaluator: Sendable {
    /// The settings.
    public let config: EvalConfig
    /// The step verifier used to score traces.
    public let verifier: StepVerifier

    /// An evaluator with checked settings.
    /// - Throws: `EvalError.invalidSetting` (see `EvalConfig.validate`).
    public init(config: EvalConfig, verifier: StepVerifier = StepVerifier()) throws {
        try config.validate()
        self.config = config
        self.verifier = verifier
    }

    /// Evaluates `model` on `suite`.
    /// - Parameters:
    ///   - model: The transformer (any role).
    ///   - tokenizer: The tokenizer the model was trained with (its ids must fit the model's vocabulary).
    ///   - suite: The problems.
    ///   - label: The report row's label.
    ///   - role: The checkpoint role, recorded in the report.
    ///   - progress: Called after each batch.
    /// - Throws: `EvalError.tokenizer` when the tokenizer has more ids than the model's vocabulary;
    ///   `EvalError.emptySuite` for a suite without problems.
    public func evaluate(model: Transformer, tokenizer: Tokenizer, suite: EvalSuite, label: String, role: String,
                         progress: ((EvalProgress) -> Void)? = nil) throws -> ModelReport {
        try evaluate(model: model, codec: TraceCodec(characters: tokenizer), suite: suite, label: label, role: role, progress: progress)
    }

    /// Evaluates `model` on `suite` with prompts and completions laid out by `codec` (tokenizer and template).
    ///
    /// - Parameter batches: how the batches of `batchSize` problems (greedy) and of `batchSize` samples are decoded:
    ///   here by default; under mpirun each rank a block of them, gathered in batch order (`Collective.mapInOrder`).
    ///   Every batch is the same rows whoever decodes it and each sample draws from its own stream
    ///   (`RandomGenerator(seed: seed).substream(question: problem, sample: s)`), so the report is the same for any
    ///   number of processes but for its timing, which adds the seconds each batch took where it was decoded.
    public func evaluate(model: Transformer, codec: TraceCodec, suite: EvalSuite, label: String, role: String,
                         progress: ((EvalProgress) -> Void)? = nil, batches: RowSplit.Map = RowSplit.mapInOneProcess) throws -> ModelReport {
        let tokenizer = codec.tokenizer
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw EvalError.tokenizer(source: label, reason: "the tokenizer has \(tokenizer.vocabularySize) symbols but the model's "
                                      + "vocab_size is \(model.config.vocabSize); evaluate with the tokenizer saved with this model")
        }
        guard !suite.problems.isEmpty else { throw EvalError.emptySuite(name: suite.name) }
        let problems = suite.problems
        let prompts = problems.map { encodePrompt($0, codec: codec, context: model.config.maxPositionEmbeddings) }
        let attempted = problems.indices.filter { prompts[$0].ids != nil }

        // Greedy pass.
        var completions = [String](repeating: "", count: problems.count)
        // Unattempted problems keep this score; every attempted one is rescored from its completion below.
        var scores = problems.indices.map { TraceScore(notAttempted: prompts[$0].reason ?? "", problem: problems[$0]) }
        var latencies: [Double] = []
        var greedyTokens = 0, greedySeconds = 0.0
        let greedy = SamplingOptions.greedy(maxNewTokens: config.maxNewTokens, stopTokens: codec.stopIDs)
        let unused = RandomGenerator(seed: config.seed)  // greedy decoding draws nothing; the sampler needs one per row
        let greedyBatches = chunks(attempted, config.batchSize)
        let greedyParts = try decodeBatches(greedyBatches, batches: batches) { batch in
            model.generate(prompts: batch.map { prompts[$0].ids! }, options: greedy, streams: Array(repeating: unused, count: batch.count))
        }
        for (batch, (generation, seconds)) in zip(greedyBatches, greedyParts) {
            greedySeconds += seconds
            for (j, i) in batch.enumerated() {
                if let step = generation.nonFiniteLogitsAt[j] {
                    throw EvalError.nonFiniteLogits(model: label, problem: problems[i].id, step: step, sampled: false)
                }
                let tokens = generation.tokens[j]
                completions[i] = codec.decode(completion: tokens).text
                scores[i] = TraceScore(completion: completions[i], problem: problems[i], tokenCount: tokens.count,
                                       finished: generation.finishReasons[j] == .stop, verifier: verifier)
                greedyTokens += tokens.count
                latencies.append(seconds)
            }
            progress?(.greedy(label: label, done: latencies.count, total: attempted.count))
        }
        let timing = ModelReport.Timing(batchSize: config.batchSize, generatedTokens: greedyTokens, seconds: greedySeconds,
                                        tokensPerSecond: greedySeconds > 0 ? Double(greedyTokens) / greedySeconds : 0,
                                        latencyMedianSeconds: Statistics.quantile(latencies, 0.5),
                                        latencyP95Seconds: Statistics.quantile(latencies, 0.95))

        // Sampled pass.
        var correctSamples: [Int]? = nil, majority: [String?] = []
        var sampling: ModelReport.Sampling? = nil
        if config.samples > 0 {
            let result = try sample(model: model, codec: codec, problems: problems, prompts: prompts.map(\.ids),
                                attempted: attempted, label: label, progress: progress, batches: batches)
            correctSamples = result.correct
            majority = result.answers.map { MajorityVote.winner($0) }
            sampling = result.metrics
        }

        let results = problems.indices.map { i in
            ModelReport.ProblemResult(id: problems[i].id, domain: problems[i].domain, referenceAnswer: problems[i].referenceAnswer,
                                      completion: completions[i], score: scores[i], correctSamples: correctSamples?[i],
                                      majorityAnswer: majority.isEmpty ? nil : majority[i])
        }
        var domainOrder: [String] = []
        for p in problems where !domainOrder.contains(p.domain) { domainOrder.append(p.domain) }
        let domains = domainOrder.map { d in
            ModelReport.DomainBreakdown(domain: d, metrics: SuiteMetrics(problems.indices.filter { problems[$0].domain == d }.map { scores[$0] }))
        }
        let c = model.config
        return ModelReport(label: label, role: role, parameterCount: model.parameterCount, modelBytes: model.weightBytes,
                           architecture: "\(c.numHiddenLayers) layers, d \(c.hiddenSize), \(c.numAttentionHeads) heads "
                               + "(\(c.numKeyValueHeads) kv), MLP \(c.intermediateSize), vocab \(c.vocabSize), context \(c.maxPositionEmbeddings)",
                           greedy: SuiteMetrics(scores), domains: domains, timing: timing, sampling: sampling, problems: results)
    }

    /// Draws `config.samples` answers per attempted problem, batched over (problem, sample) pairs in order.
    private func sample(model: Transformer, codec: TraceCodec, problems: [EvalProblem], prompts: [[Int32]?],
                        attempted: [Int], label: String, progress: ((EvalProgress) -> Void)?, batches: RowSplit.Map)
        throws -> (correct: [Int], answers: [[String?]], metrics: ModelReport.Sampling) {
        let n = config.samples
        let base = RandomGenerator(seed: config.seed)
        let options = SamplingOptions(temperature: config.temperature, topP: config.topP.flatMap { $0 < 1 ? $0 : nil },
                                      maxNewTokens: config.maxNewTokens, stopTokens: codec.stopIDs)
        var answers = [[String?]](repeating: [], count: problems.count)
        var correct = [Int](repeating: 0, count: problems.count)
        var tokens = 0, seconds = 0.0, done = 0
        // (problem, sample) pairs in order; sample s of problem i draws from `base.substream(question: i, sample: s)`
        let pairs = attempted.flatMap { i in (0..<n).map { (problem: i, sample: $0) } }
        let sampledBatches = chunks(pairs, config.batchSize)
        let parts = try decodeBatches(sampledBatches, batches: batches) { batch in
            model.generate(prompts: batch.map { prompts[$0.problem]! }, options: options,
                           streams: batch.map { base.substream(question: $0.problem, sample: $0.sample) })
        }
        for (pairBatch, (generation, dt)) in zip(sampledBatches, parts) {
            let batch = pairBatch.map(\.problem)
            seconds += dt
            for (j, i) in batch.enumerated() {
                if let step = generation.nonFiniteLogitsAt[j] {
                    throw EvalError.nonFiniteLogits(model: label, problem: problems[i].id, step: step, sampled: true)
                }
                tokens += generation.tokens[j].count
                let verdict = TraceJudge.finalAnswer(of: ParsedTrace(codec.decode(completion: generation.tokens[j]).text),
                                                     referenceAnswer: problems[i].referenceAnswer)
                answers[i].append(verdict.answer)
                if verdict.correct { correct[i] += 1 }
            }
            done += batch.count
            progress?(.sampling(label: label, done: done, total: pairs.count))
        }
        // Unattempted problems have no samples: all n count as wrong.
        for i in problems.indices where answers[i].isEmpty { answers[i] = [String?](repeating: nil, count: n) }
        let ks = config.resolvedKs
        let passAtK = ks.map { k in ModelReport.KValue(k: k, value: PassAtK.mean(correctCounts: correct, samples: n, k: k)) }
        let majAtK = ks.map { k in
            let right = problems.indices.filter { i in
                MajorityVote.winner(Array(answers[i].prefix(k))).map { AnswerNormalizer.equivalent($0, problems[i].referenceAnswer) } ?? false
            }.count
            return ModelReport.KValue(k: k, value: Statistics.fraction(right, of: problems.count))
        }
        let metrics = ModelReport.Sampling(samples: n, temperature: decimal(config.temperature), topP: config.topP.map(decimal),
                                           seed: config.seed, passAtK: passAtK, majAtK: majAtK,
                                           sampleAccuracy: Statistics.mean(correct.map { Double($0) / Double(n) }),
                                           generatedTokens: tokens, seconds: seconds,
                                           tokensPerSecond: seconds > 0 ? Double(tokens) / seconds : 0)
        return (correct, answers, metrics)
    }

    /// `decode` of every batch, each timed, through `batches` (each process a block of them under mpirun), back in batch
    /// order: the generation and the seconds it took where it was decoded.
    /// - Throws: what `batches` throws; `EvalError.unreadableBatch` when a batch comes back as bytes that are not its rows.
    private func decodeBatches<T>(_ all: [[T]], batches: RowSplit.Map, decode: ([T]) -> Generation) throws -> [(Generation, Double)] {
        // `decode` is only called while `batches` runs; the compiler cannot see that `batches` does not call back into it
        let bytes = try withoutActuallyEscaping(decode) { decode in
            try batches(all.count) { j in
                let (generation, seconds) = timed { decode(all[j]) }
                var out = WordWriter()
                out.word(seconds.bitPattern)
                return out.bytes + generation.bytes
            }
        }
        return try all.indices.map { j in
            let b = j < bytes.count ? bytes[j] : []
            var reader = WordReader(Array(b.prefix(8)))
            guard bytes.count == all.count, let seconds = reader.word(), let g = Generation(bytes: Array(b.dropFirst(8))),
                  g.tokens.count == all[j].count else {
                throw EvalError.unreadableBatch(batch: j, rows: all[j].count, bytes: b.count)
            }
            return (g, Double(bitPattern: seconds))
        }
    }

    /// The prompt's token ids, or why the problem cannot be attempted (a character outside the vocabulary, or a
    /// prompt that leaves no room to answer in the model's context).
    private func encodePrompt(_ problem: EvalProblem, codec: TraceCodec, context: Int) -> (ids: [Int32]?, reason: String?) {
        let ids: [Int32]
        do { ids = try codec.prompt(question: problem.question) } catch {
            return (nil, "\(error)")
        }
        guard ids.count < context else {
            return (nil, "the prompt is \(ids.count) tokens and the model's context is \(context); nothing fits after it")
        }
        return (ids, nil)
    }
}

/// `items` in consecutive groups of at most `size`.
func chunks<T>(_ items: [T], _ size: Int) -> [[T]] {
    stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
}

/// The result of `body` and the wall-clock seconds it took.
func timed<T>(_ body: () -> T) -> (T, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let value = body()
    let d = clock.now - start
    return (value, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
}
