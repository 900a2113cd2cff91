import Reward
import Testing

// The one trace judge (teacher traces, PPO, on-policy distillation and eval read their verdicts from it), on
// traces judged by hand: every claim below was checked with pencil arithmetic.

@Suite("Trace judge")
struct TraceJudgeTests {
    let judge = TraceJudge()

    @Test("a valid trace: right answer, every step verifies, accepted")
    func validTrace() {
        // 48 / 2 = 24 and 48 + 24 = 72 both hold; 72 is the reference
        let v = judge.judge(completion: "48 / 2 = 24\n48 + 24 = 72\nanswer: 72", question: "Q", referenceAnswer: "72")
        #expect(v.answer == "72" && v.correct && v.endsWithAnswer)
        #expect(v.stepCount == 2 && v.validStepCount == 2 && v.invalidStepCount == 0)
        #expect(v.firstInvalidStep == nil)
        #expect(v.checkedClaimCount == 2 && v.validClaimCount == 2)
        #expect(v.stepsVerify && v.accepted)
        // what a reward function judges: the same parsed trace, question and reference
        #expect(v.input.question == "Q" && v.input.referenceAnswer == "72")
        #expect(v.input.trace.stepTexts == ["48 / 2 = 24", "48 + 24 = 72"])
    }

    @Test("a wrong final answer: steps verify, the answer does not match, rejected")
    func wrongFinalAnswer() {
        // 3 * 4 = 12 and 12 + 5 = 17 hold, but the answer line says 18 and the reference is 17
        let v = judge.judge(completion: "3 * 4 = 12\n12 + 5 = 17\nanswer: 18", referenceAnswer: "17")
        #expect(v.answer == "18" && !v.correct)
        #expect(v.stepCount == 2 && v.validStepCount == 2 && v.firstInvalidStep == nil)
        #expect(v.stepsVerify && !v.accepted)
        // equivalent forms of the reference are right (AnswerNormalizer): 17.0 is 17
        #expect(judge.judge(completion: "3 * 4 = 12\n12 + 5 = 17\nanswer: 17.0", referenceAnswer: "17").correct)
    }

    @Test("an invalid middle step: found by index, the answer may still be right, rejected")
    func invalidMiddleStep() {
        // 48 + 24 is 72, not 73; the steps around it hold (73 - 1 = 72 is true on its own)
        let v = judge.judge(completion: "48 / 2 = 24\n48 + 24 = 73\n73 - 1 = 72\nanswer: 72", referenceAnswer: "72")
        #expect(v.correct)
        #expect(v.stepCount == 3 && v.validStepCount == 2 && v.invalidStepCount == 1)
        #expect(v.firstInvalidStep == 1)
        #expect(v.checkedClaimCount == 3 && v.validClaimCount == 2)
        #expect(!v.stepsVerify && !v.accepted)
    }

    @Test("no claims: nothing false is asserted, but no step counts as verified")
    func noClaims() {
        let v = judge.judge(completion: "Add the two numbers.\nThe sum is the answer.\nanswer: 5", referenceAnswer: "5")
        #expect(v.correct && v.stepCount == 2)
        #expect(v.validStepCount == 0 && v.invalidStepCount == 0 && v.firstInvalidStep == nil)
        #expect(v.checkedClaimCount == 0 && v.validClaimCount == 0)
        #expect(v.stepsVerify && v.accepted)
    }

    @Test("no answer line, or text after it: not correct, or not accepted")
    func answerLine() {
        let none = judge.judge(completion: "2 + 3 = 5", referenceAnswer: "5")
        #expect(none.answer == nil && !none.correct && !none.accepted)
        #expect(none.stepCount == 1 && none.validStepCount == 1)
        let trailing = judge.judge(completion: "2 + 3 = 5\nanswer: 5\nand that is all", referenceAnswer: "5")
        #expect(trailing.correct && !trailing.endsWithAnswer && !trailing.accepted)
        let empty = judge.judge(completion: "answer: 5", referenceAnswer: "5")
        #expect(empty.correct && empty.stepCount == 0 && !empty.stepsVerify && !empty.accepted)
    }

    @Test("the answer-only verdict is the judge's answer part")
    func finalAnswerOnly() {
        let trace = ParsedTrace("1 + 1 = 3\nanswer: 2")
        let a = TraceJudge.finalAnswer(of: trace, referenceAnswer: "2")
        #expect(a.answer == "2" && a.correct)
        let none = TraceJudge.finalAnswer(of: ParsedTrace("no answer here"), referenceAnswer: "2")
        #expect(none.answer == nil && !none.correct)
    }
}
