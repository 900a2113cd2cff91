import Data
import Eval
import Model
import Tensor
import Testing

// The evaluator on tiny random models: every number in the report is consistent with the per-problem results
// it also returns (rescored independently here), sampling is seeded, problems that cannot be prompted are
// reported and counted wrong, and the settings are checked.

private func smallSuite(_ count: Int) throws -> EvalSuite { try MathProofSuite().generate().limited(to: count) }

@Test func reportIsConsistentWithItsProblems() throws {
    let model = try tinyModel(seed: 3)
    let suite = try smallSuite(10)
    let config = EvalConfig(maxNewTokens: 20, batchSize: 3, samples: 3, ks: [1, 2, 3], seed: 9)
    let report = try Evaluator(config: config).evaluate(model: model, tokenizer: .math, suite: suite, label: "student", role: "student")
    #expect(report.label == "student" && report.parameterCount == model.parameterCount && report.modelBytes == 4 * model.parameterCount)
    #expect(report.problems.map(\.id) == suite.problems.map(\.id))

    // Rescore every completion: the report's scores and metrics follow from them.
    var rescored: [TraceScore] = []
    for (p, r) in zip(suite.problems, report.problems) {
        #expect(r.score.tokenCount >= 1 && r.score.tokenCount <= 20)
        #expect(r.completion.count <= r.score.tokenCount)
        let s = TraceScore(completion: r.completion, problem: p, tokenCount: r.score.tokenCount, finished: r.score.finished)
        #expect(s == r.score, "\(p.id)")
        rescored.append(s)
    }
    #expect(report.greedy == SuiteMetrics(rescored))
    #expect(report.timing.generatedTokens == rescored.reduce(0) { $0 + $1.tokenCount })
    #expect(report.timing.batchSize == 3 && report.timing.seconds > 0 && report.timing.tokensPerSecond > 0)
    #expect(report.timing.latencyMedianSeconds > 0 && report.timing.latencyP95Seconds >= report.timing.latencyMedianSeconds)
    // Per domain: the suite's domains in order, problems adding up.
    #expect(report.domains.map(\.domain) == Array(TaskDomain.allCases.map(\.rawValue)))
    #expect(report.domains.reduce(0) { $0 + $1.metrics.problems } == 10)
    #expect(report.domains[0].metrics == SuiteMetrics([rescored[0], rescored[8]]))

    // Sampling: pass@k and maj@k follow from the per-problem counts.
    let sampling = try #require(report.sampling)
    #expect(sampling.samples == 3 && sampling.passAtK.map(\.k) == [1, 2, 3] && sampling.majAtK.map(\.k) == [1, 2, 3])
    let counts = report.problems.map { $0.correctSamples ?? -1 }
    #expect(counts.allSatisfy { (0...3).contains($0) })
    for kv in sampling.passAtK { #expect(kv.value == PassAtK.mean(correctCounts: counts, samples: 3, k: kv.k)) }
    #expect(sampling.sampleAccuracy == Double(counts.reduce(0, +)) / 30)
    #expect(sampling.generatedTokens >= 30 && sampling.generatedTokens <= 30 * 20)
    #expect(report.passAt(2) == sampling.passAtK[1].value && report.majorityAt(3) == sampling.majAtK[2].value)
    #expect(sampling.temperature == 0.6 && sampling.topP == 0.95)

    // Same seed, same everything that is not a clock.
    let again = try Evaluator(config: config).evaluate(model: model, tokenizer: .math, suite: suite, label: "student", role: "student")
    #expect(again.problems == report.problems)
    // The sampling seed does not touch greedy decoding.
    var reseeded = config
    reseeded.seed = 10
    let other = try Evaluator(config: reseeded).evaluate(model: model, tokenizer: .math, suite: suite, label: "student", role: "student")
    #expect(other.problems.map(\.completion) == report.problems.map(\.completion))
}

@Test func unpromptableProblemsAreReportedAndWrong() throws {
    let model = try tinyModel(seed: 4, context: 64)
    var suite = try smallSuite(4)
    suite.problems[1].question = "Compute 3 × 4."                              // × is not in the vocabulary
    suite.problems[2].question = String(repeating: "1 + ", count: 40) + "1"   // 160+ tokens: longer than the context
    let report = try Evaluator(config: EvalConfig(maxNewTokens: 8, batchSize: 2, samples: 2))
        .evaluate(model: model, tokenizer: .math, suite: suite, label: "s", role: "student")
    let reasons = report.problems.map(\.score.notAttempted)
    #expect(reasons[0] == nil && reasons[3] == nil)
    #expect(reasons[1]?.contains("cannot encode character \"×\" at offset 10") == true, "\(String(describing: reasons[1]))")
    #expect(reasons[2]?.contains("the model's context is 64") == true, "\(String(describing: reasons[2]))")
    #expect(report.greedy.problems == 4 && report.greedy.attempted == 2)
    #expect(report.problems[1].correctSamples == 0 && !report.problems[1].score.correct)
    #expect(report.timing.generatedTokens == report.problems[0].score.tokenCount + report.problems[3].score.tokenCount)
}

@Test func evaluatorChecksItsInputs() throws {
    func invalid(_ config: EvalConfig, _ setting: String) {
        #expect { try Evaluator(config: config) } throws: { error in
            guard case EvalError.invalidSetting(let s, _) = error else { return false }
            return s == setting
        }
    }
    invalid(EvalConfig(maxNewTokens: 0), "--max-new-tokens")
    invalid(EvalConfig(batchSize: 0), "--batch-size")
    invalid(EvalConfig(samples: -1), "--samples")
    invalid(EvalConfig(samples: 0, ks: [1]), "--k")
    invalid(EvalConfig(samples: 4, ks: [1, 5]), "--k")
    invalid(EvalConfig(samples: 4, ks: [0]), "--k")
    invalid(EvalConfig(samples: 4, temperature: 0), "--temperature")
    invalid(EvalConfig(samples: 4, temperature: .nan), "--temperature")
    invalid(EvalConfig(samples: 4, topP: 1.5), "--top-p")
    #expect(EvalConfig(samples: 8).resolvedKs == [1, 8] && EvalConfig(samples: 8, ks: [4, 1, 4]).resolvedKs == [1, 4])
    #expect(EvalConfig().resolvedKs.isEmpty)

    // A tokenizer with more ids than the model's vocabulary.
    var rng = RandomGenerator(seed: 1)
    let small = try Transformer(config: TransformerConfig(vocabSize: 20, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1,
                                                          numAttentionHeads: 2), rng: &rng)
    #expect { try Evaluator(config: EvalConfig()).evaluate(model: small, tokenizer: .math, suite: try smallSuite(2), label: "x", role: "student") }
        throws: { error in
            guard case EvalError.tokenizer(_, let reason) = error else { return false }
            return reason.contains("97 symbols") && reason.contains("vocab_size is 20")
        }
}

@Test func teacherStudentRetention() throws {
    let teacher = try tinyModel(seed: 5, hidden: 32, layers: 2), student = try tinyModel(seed: 6)
    let suite = try smallSuite(4)
    let evaluator = try Evaluator(config: EvalConfig(maxNewTokens: 8, samples: 2))
    let t = try evaluator.evaluate(model: teacher, tokenizer: .math, suite: suite, label: "teacher", role: "teacher")
    let s = try evaluator.evaluate(model: student, tokenizer: .math, suite: suite, label: "student", role: "student")
    let report = EvalReport(suite: suite, checkpoint: nil, config: evaluator.config, models: [t, s])
    let retention = report.retention
    #expect(retention.map(\.metric) == t.headline.map(\.name))
    #expect(retention.map(\.metric).contains("pass@2") && retention.map(\.metric).contains("maj@1"))
    let params = try #require(retention.first { $0.metric == "parameters" })
    #expect(params.ratio == Double(student.parameterCount) / Double(teacher.parameterCount))
    let speed = try #require(retention.first { $0.metric == "tokens_per_second" })
    #expect(speed.ratio == s.timing.tokensPerSecond / t.timing.tokensPerSecond)
    // A metric the teacher scores 0 on has no ratio (not infinity, not NaN).
    for r in retention where r.teacher == 0 { #expect(r.ratio == nil, "\(r.metric)") }
    // The summary table has a row per metric and a student / teacher column; one model alone has no ratios.
    #expect(report.summaryTable.headers == ["metric", "teacher", "student", "student / teacher"])
    #expect(report.summaryTable.rows.count == retention.count)
    #expect(EvalReport(suite: suite, checkpoint: nil, config: evaluator.config, models: [s]).retention.isEmpty)
    #expect(report.markdown.contains("## Per domain") && report.markdown.contains("## First invalid step"))
}
