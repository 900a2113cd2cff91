import Eval
import Testing

// Trace metrics on hand-made traces whose claims, first invalid step and step F1 were worked out by hand.

private let problem = EvalProblem(id: "p1", domain: "arith", question: "Compute (2 + 3) * 4 - 1.",
                                  referenceSteps: ["2 + 3 = 5", "5 * 4 = 20", "20 - 1 = 19"], referenceAnswer: "19", line: 1)

/// One wrong product carried forward: claims 2+3=5 (valid), 5*4=21 (invalid), 21-1=20 (valid); first invalid step 1;
/// only the first step matches the reference, so F1 = 2*1 / (3 + 3).
private let carriedError = "2 + 3 = 5\n5 * 4 = 21\n21 - 1 = 20\nanswer: 20"
/// Right, with spacing, a trailing period and a prose step: 3 valid claims in 4 steps; LCS 3, F1 = 6/7.
private let rightWithProse = "2+3 = 5.\nSo the product is next.\n5 * 4 = 20\n20 - 1 = 19\nanswer: 19"
/// No answer line, no claims.
private let noAnswer = "I think it is 19"
/// A right answer after a false claim in step 0.
private let luckyAnswer = "3 + 3 = 7\nanswer: 19"

@Test func scoresOfHandMadeTraces() {
    let a = TraceScore(completion: carriedError, problem: problem, tokenCount: 10, finished: true)
    #expect(a.answer == "20" && !a.correct)
    #expect(a.stepCount == 3 && a.claimCount == 3 && a.validClaimCount == 2 && a.firstInvalidStep == 1 && !a.fullyVerified)
    #expect(a.stepF1 == 2.0 / 6)

    let b = TraceScore(completion: rightWithProse, problem: problem, tokenCount: 20, finished: true)
    #expect(b.answer == "19" && b.correct)
    #expect(b.stepCount == 4 && b.claimCount == 3 && b.validClaimCount == 3 && b.firstInvalidStep == nil && b.fullyVerified)
    #expect(b.stepF1 == 6.0 / 7)

    let c = TraceScore(completion: noAnswer, problem: problem, tokenCount: 30, finished: false)
    #expect(c.answer == nil && !c.correct && c.stepCount == 1 && c.claimCount == 0 && !c.fullyVerified && c.stepF1 == 0)

    let d = TraceScore(completion: luckyAnswer, problem: problem, tokenCount: 40, finished: true)
    #expect(d.correct && d.claimCount == 1 && d.validClaimCount == 0 && d.firstInvalidStep == 0 && d.stepF1 == 0)

    // Equivalent spellings of the answer are correct; "answer:" is case-insensitive.
    #expect(TraceScore(completion: "ANSWER: 19.0", problem: problem, tokenCount: 1, finished: true).correct)
    #expect(TraceScore(completion: "answer: 38/2", problem: problem, tokenCount: 1, finished: true).correct)
    // Without reference steps there is no F1.
    var bare = problem
    bare.referenceSteps = []
    #expect(TraceScore(completion: carriedError, problem: bare, tokenCount: 1, finished: true).stepF1 == nil)
    #expect(TraceScore.stepF1([], reference: ["a"]) == 0)
}

@Test func suiteMetricsOfHandMadeTraces() {
    let scores = [
        TraceScore(completion: carriedError, problem: problem, tokenCount: 10, finished: true),
        TraceScore(completion: rightWithProse, problem: problem, tokenCount: 20, finished: true),
        TraceScore(completion: noAnswer, problem: problem, tokenCount: 30, finished: false),
        TraceScore(completion: luckyAnswer, problem: problem, tokenCount: 40, finished: true),
        TraceScore(notAttempted: "prompt too long", problem: problem),
    ]
    let m = SuiteMetrics(scores)
    #expect(m.problems == 5 && m.attempted == 4 && m.answered == 3 && m.finished == 3)
    #expect(m.accuracy == 2.0 / 5)                       // the unattempted problem counts as wrong
    #expect(m.claims == 7 && m.validClaims == 5 && m.stepValidity == 5.0 / 7)
    #expect(m.fullyVerifiedRate == 1.0 / 5)
    #expect(m.rowsWithInvalidStep == 2)
    #expect(m.firstInvalidStepMean == 0.5 && m.firstInvalidStepMedian == 0.5)
    #expect(m.firstInvalidStepCounts == [.init(step: 0, rows: 1), .init(step: 1, rows: 1)])
    #expect(abs(m.stepF1! - (1.0 / 3 + 6.0 / 7 + 0 + 0 + 0) / 5) < 1e-12)
    #expect(m.meanSteps == (3 + 4 + 1 + 1) / 4.0)         // over attempted problems
    #expect(m.meanTokens == 25)

    // Medians of odd and even counts of first invalid steps: [0, 1, 5] -> 1; [1, 3] -> 2.
    let at = { (step: Int) in
        TraceScore(completion: (0..<step).map { _ in "1 + 1 = 2" }.joined(separator: "\n") + "\n1 + 1 = 3", problem: problem,
                   tokenCount: 1, finished: true)
    }
    let odd = SuiteMetrics([at(0), at(1), at(5)])
    #expect(odd.firstInvalidStepMedian == 1 && odd.firstInvalidStepMean == 2)
    #expect(odd.firstInvalidStepCounts == [.init(step: 0, rows: 1), .init(step: 1, rows: 1), .init(step: 5, rows: 1)])
    #expect(SuiteMetrics([at(1), at(3)]).firstInvalidStepMedian == 2)

    // No claims anywhere: step validity is undefined, not 0 or 100%.
    let silent = SuiteMetrics([TraceScore(completion: noAnswer, problem: problem, tokenCount: 1, finished: true)])
    #expect(silent.stepValidity == nil && silent.firstInvalidStepMean == nil && silent.fullyVerifiedRate == 0)
}
