import Data
import Eval
import Foundation
import Reward
import Testing

// Suites as `distill eval --suite FILE` reads them: the published GSM8K and MATH-500 files through the eval
// loader (format recognised from the first row), their reference answers through the same extraction and
// comparison the evaluator applies to a model's answer, and every kind of bad file.

private let gsm8kPath = sharedData("gsm8k/train.jsonl")
private let math500Path = sharedData("math500/test.jsonl")

@Test func math500ThroughTheEvalLoader() throws {
    let suite = try EvalSuite.resolve(math500Path)
    #expect(suite.format == .math500 && suite.name == "test" && suite.problems.count == 500)
    #expect(Set(suite.problems.map(\.id)).count == 500)
    #expect(suite.problems.allSatisfy { $0.domain.hasPrefix("math-") })
    var scored = 0
    for p in suite.problems {
        // The reference steps are the solution's lines: its last \boxed{} is the published answer.
        let boxed = MATHProblem.lastBoxed(in: p.referenceSteps.joined(separator: "\n"))
        #expect(boxed != nil, "\(p.id): no \\boxed{} in the solution")
        guard let boxed else { continue }
        #expect(AnswerNormalizer.normalize(boxed) == AnswerNormalizer.normalize(p.referenceAnswer), "\(p.id): boxed \(boxed) vs \(p.referenceAnswer)")
        // A model writing the boxed answer on its answer line is scored correct by the evaluator's path.
        guard !boxed.contains(where: \.isNewline) else { continue }
        let score = TraceScore(completion: "work\nanswer: \(boxed)", problem: p, tokenCount: 1, finished: true)
        #expect(score.correct && score.answer == boxed.trimmingCharacters(in: .whitespaces), "\(p.id): \(boxed)")
        scored += 1
    }
    #expect(scored == 500)
    // A wrong answer is not.
    let first = suite.problems[0]
    #expect(!TraceScore(completion: "answer: \(first.referenceAnswer)0", problem: first, tokenCount: 1, finished: true).correct)
}

@Test func gsm8kThroughTheEvalLoader() throws {
    let suite = try EvalSuite.resolve(gsm8kPath)
    #expect(suite.format == .gsm8k && suite.problems.count == 7473)
    #expect(suite.problems.allSatisfy { $0.domain == "gsm8k" && !$0.referenceSteps.isEmpty })
    // Every final answer parses as an exact number, and is judged correct when a model writes it as published
    // (thousands commas included) and wrong when off by one.
    let published = try GSM8KProblem.load(gsm8kPath).map(\.problem.finalAnswerText)
    var withCommas = 0
    for (p, text) in zip(suite.problems, published) {
        let value = AnswerNormalizer.numericValue(p.referenceAnswer)
        #expect(value != nil, "\(p.id): answer \(p.referenceAnswer) does not parse")
        guard let value else { continue }
        if text.contains(",") { withCommas += 1 }
        #expect(TraceScore(completion: "answer: \(text)", problem: p, tokenCount: 1, finished: true).correct, "\(p.id): \(text)")
        let off = (value + Rational(1)).displayString
        #expect(!TraceScore(completion: "answer: \(off)", problem: p, tokenCount: 1, finished: true).correct, "\(p.id): \(off)")
    }
    #expect(withCommas == 79)
}

@Test func traceFilesAndExplicitFormats() throws {
    try withScratchFolder("trace-suite") { dir in
        let rows = try DatasetGenerator(config: GenerationConfig(domains: [.addition, .gcd], count: 6, split: .test, seed: 4)).generate()
        let path = dir + "/mine.jsonl"
        try TraceDataset.write(rows, to: path)
        let suite = try EvalSuite.resolve(path)
        #expect(suite.format == .traces && suite.name == "mine" && suite.source == path)
        #expect(suite.problems.map(\.id) == rows.map { $0.id! })
        #expect(suite.problems.map(\.referenceSteps) == rows.map(\.steps))
        #expect(suite.problems.map(\.line) == [1, 2, 3, 4, 5, 6])
        #expect(try suite.limited(to: 4).problems.count == 4)
        #expect(try suite.limited(to: 100).problems.count == 6)
        #expect(throws: EvalError.emptySuite(name: "mine")) { try suite.limited(to: 0) }
        // Forcing the wrong format is an error naming the line and the field, not a silent misread.
        #expect {
            try EvalSuite.load(path: path, format: .gsm8k)
        } throws: { error in
            guard case DataError.malformedLine(path, 1, let field?, _) = error else { return false }
            return ["id", "domain", "steps", "source"].contains(field)
        }
    }
}

@Test func badSuiteFilesGiveTypedErrors() throws {
    try withScratchFolder("bad-suites") { dir in
        // Unknown name, a folder, and a missing file.
        #expect(throws: EvalError.unknownSuite(name: "math-prooof", builtIn: ["math-proof"])) { try EvalSuite.resolve("math-prooof") }
        #expect(throws: EvalError.unknownSuite(name: dir, builtIn: ["math-proof"])) { try EvalSuite.resolve(dir) }
        #expect(throws: DataError.unreadableFile(path: dir + "/none.jsonl", reason: "no such file; check the path")) {
            try EvalSuite.load(path: dir + "/none.jsonl")
        }
        // A row of no known format: the message names file, line and the fields found.
        let odd = try writeText("\n{\"prompt\": \"2+2\", \"target\": \"4\"}\n", to: dir, "odd.jsonl")
        #expect {
            try EvalSuite.resolve(odd)
        } throws: { error in
            guard case EvalError.unrecognizedFormat(odd, 2, let reason) = error else { return false }
            return reason.contains("prompt, target") && "\(error)".contains("--format")
        }
        // Not JSON at all.
        let garbage = try writeText("this is not json\n", to: dir, "garbage.jsonl")
        #expect { try EvalSuite.resolve(garbage) } throws: { error in
            guard case DataError.malformedLine(garbage, 1, nil, _) = error else { return false }
            return true
        }
        // A trace row without a question: the model cannot be prompted.
        let noQuestion = try writeText("{\"steps\": [\"1 + 1 = 2\"], \"answer\": \"2\"}\n", to: dir, "noq.jsonl")
        #expect(throws: DataError.malformedLine(file: noQuestion, line: 1, field: "question",
                                                reason: "missing or empty; an evaluation suite prompts the model with every row's question")) {
            try EvalSuite.resolve(noQuestion)
        }
        // A bad later row is reported at its line, with its field.
        let laterBad = try writeText("{\"question\": \"q\", \"steps\": [], \"answer\": \"1\"}\n{\"question\": \"q2\", \"steps\": \"x\", \"answer\": \"1\"}\n",
                                     to: dir, "later.jsonl")
        #expect(throws: DataError.malformedLine(file: laterBad, line: 2, field: "steps", reason: "expected an array of strings, one per step")) {
            try EvalSuite.resolve(laterBad)
        }
        // Only blank lines.
        let blank = try writeText("\n  \n", to: dir, "blank.jsonl")
        #expect(throws: EvalError.emptySuite(name: "blank")) { try EvalSuite.resolve(blank) }
    }
}

@Test func suitesAreCheckedAgainstTrainingData() throws {
    let suite = try EvalSuite.resolve(math500Path).limited(to: 20)
    // Disjoint from GSM8K train.
    try suite.checkDisjoint(from: try EvalSuite.resolve(gsm8kPath))
    // Overlap (the same question with different spacing and case) is caught.
    var training = suite
    training.problems = [suite.problems[3]]
    training.problems[0].question = "  " + suite.problems[3].question.uppercased() + " "
    #expect(throws: DataError.splitOverlap(count: 1, examples: [suite.problems[3].question])) { try suite.checkDisjoint(from: training) }
}
