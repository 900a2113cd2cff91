import Data
import Eval
import Testing

// The built-in held-out suite: its size and domains, determinism, held out from train and validation by
// construction and by check, and its reference traces scoring perfectly through the evaluator's scorer.

@Test func mathProofSizeDomainsAndDeterminism() throws {
    let a = try EvalSuite.resolve("math-proof"), b = try MathProofSuite().generate()
    #expect(a == b)
    #expect(a.name == "math-proof" && a.problems.count == 320)
    for domain in TaskDomain.allCases {
        #expect(a.problems.filter { $0.domain == domain.rawValue }.count == 40, "\(domain)")
    }
    // Interleaved: the first eight problems cover the eight domains, so --limit keeps them balanced.
    #expect(Set(a.problems.prefix(8).map(\.domain)) == Set(TaskDomain.allCases.map(\.rawValue)))
    #expect(Set(a.problems.map(\.id)).count == 320)
    #expect(Set(a.problems.map { StableHash.canonicalQuestion($0.question) }).count == 320)
    // Another difficulty or seed gives other problems.
    let harder = try MathProofSuite(difficulty: 3).generate()
    #expect(harder.problems.map(\.question) != a.problems.map(\.question))
    #expect(throws: EvalError.invalidSetting(setting: "--difficulty", reason: "9 must be in 1...5")) { try MathProofSuite(difficulty: 9).generate() }
}

@Test func mathProofIsDisjointFromTrainingSplits() throws {
    let suite = try MathProofSuite().generate()
    let held = Set(suite.problems.map { StableHash.canonicalQuestion($0.question) })
    for p in suite.problems { #expect(SplitPlan.standard.split(of: p.question) == .test, "\(p.id)") }
    // Training and validation data however seeded (the reserved seed included) never share a question with it.
    for seed in [0, 1, 17, MathProofSuite.reservedSeed] {
        for split in [DatasetSplit.train, .validation] {
            let count = split == .train ? 1_600 : 400
            let rows = try DatasetGenerator(config: GenerationConfig(domains: TaskDomain.allCases, count: count, split: split, seed: seed)).generate()
            let questions = Set(rows.map { StableHash.canonicalQuestion($0.question!) })
            #expect(questions.isDisjoint(with: held), "seed \(seed) \(split): \(questions.intersection(held).prefix(3))")
            try suite.checkDisjoint(from: EvalSuite(name: "train", source: "generated", format: .traces,
                                                    problems: rows.map { EvalProblem(id: $0.id!, domain: $0.domain!, question: $0.question!,
                                                                                      referenceSteps: $0.steps, referenceAnswer: $0.answer, line: 1) }))
        }
    }
}

@Test func heldOutCheckFailsLoudlyOnALeak() throws {
    var suite = try MathProofSuite().generate().limited(to: 16)
    try MathProofSuite.checkHeldOut(suite)
    // Find a question of the same shape that belongs to train and slip it in.
    let leaked = (1...500).map { "Compute \($0) + 7." }.first { SplitPlan.standard.split(of: $0) == .train }!
    suite.problems[5].question = leaked
    #expect(throws: EvalError.leakedQuestion(suite: "math-proof", id: suite.problems[5].id, question: leaked, split: "train")) {
        try MathProofSuite.checkHeldOut(suite)
    }
    let validation = (1...500).map { "Compute \($0) + 7." }.first { SplitPlan.standard.split(of: $0) == .validation }!
    suite.problems[5].question = validation
    #expect(throws: EvalError.leakedQuestion(suite: "math-proof", id: suite.problems[5].id, question: validation, split: "validation")) {
        try MathProofSuite.checkHeldOut(suite)
    }
}

@Test func referenceTracesScorePerfectly() throws {
    // The reference completion, written exactly as a model would (TraceFormat), is correct, fully verified and
    // agrees with itself: the scorer and the suite agree on the format.
    let suite = try MathProofSuite().generate()
    var scores: [TraceScore] = []
    for p in suite.problems {
        let completion = TraceFormat.completion(of: TraceRecord(steps: p.referenceSteps, answer: p.referenceAnswer))
        scores.append(TraceScore(completion: completion, problem: p, tokenCount: completion.count + 1, finished: true))
    }
    let m = SuiteMetrics(scores)
    #expect(m.accuracy == 1 && m.stepValidity == 1 && m.fullyVerifiedRate == 1 && m.stepF1 == 1)
    #expect(m.rowsWithInvalidStep == 0 && m.firstInvalidStepMean == nil && m.firstInvalidStepCounts.isEmpty)
    #expect(m.claims > 320 && m.answered == 320 && m.finished == 320)
}
