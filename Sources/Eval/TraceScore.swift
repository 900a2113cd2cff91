import Reward

/// How one generated trace scores against its problem: the extracted answer and whether it is correct, the
/// exact verification of every arithmetic claim in its steps, and its step agreement with the reference trace.
public struct TraceScore: Sendable, Equatable {
    /// The value of the trace's `answer:` line (nil when there is none).
    public var answer: String?
    /// True when `answer` is equivalent to the reference (`AnswerNormalizer.equivalent`).
    public var correct: Bool
    /// Steps: non-empty lines other than the answer line.
    public var stepCount: Int
    /// Arithmetic claims found in the steps and checked (a claim beyond a verification limit is left out: it is
    /// neither valid nor invalid).
    public var claimCount: Int
    /// Claims that verify exactly.
    public var validClaimCount: Int
    /// The 0-based index of the first step with a claim that fails, or nil when none fails.
    public var firstInvalidStep: Int?
    /// Step F1 with the reference trace (ROUGE-L over normalised steps, see `stepF1`); nil when the reference
    /// has no steps.
    public var stepF1: Double?
    /// Tokens the model generated for this trace (a final stop token included).
    public var tokenCount: Int
    /// True when generation stopped at a stop token rather than at the token limit or the context end.
    public var finished: Bool
    /// Why the problem was not attempted (prompt has characters outside the vocabulary or fills the context);
    /// nil when it was. An unattempted problem counts as wrong.
    public var notAttempted: String?

    /// True when the trace makes at least one claim and every claim verifies ("every step verifies"; a trace
    /// with no checkable claim does not count, so saying nothing checkable is not rewarded).
    public var fullyVerified: Bool { claimCount > 0 && firstInvalidStep == nil }

    /// Scores `completion` (the decoded text the model wrote after the prompt) against `problem`.
    public init(completion: String, problem: EvalProblem, tokenCount: Int, finished: Bool,
                verifier: StepVerifier = StepVerifier()) {
        self.init(verdict: TraceJudge(verifier: verifier).judge(completion: completion, question: problem.question,
                                                                referenceAnswer: problem.referenceAnswer),
                  problem: problem, tokenCount: tokenCount, finished: finished)
    }

    /// The score of a trace `TraceJudge` has judged against `problem`.
    public init(verdict: TraceJudgement, problem: EvalProblem, tokenCount: Int, finished: Bool) {
        answer = verdict.answer
        correct = verdict.correct
        stepCount = verdict.stepCount
        claimCount = verdict.checkedClaimCount
        validClaimCount = verdict.validClaimCount
        firstInvalidStep = verdict.firstInvalidStep
        stepF1 = Self.stepF1(verdict.trace.stepTexts, reference: problem.referenceSteps)
        self.tokenCount = tokenCount
        self.finished = finished
        notAttempted = nil
    }

    /// The score of a problem that could not be attempted: wrong, no steps, no tokens.
    public init(notAttempted reason: String, problem: EvalProblem) {
        answer = nil
        correct = false
        stepCount = 0
        claimCount = 0
        validClaimCount = 0
        firstInvalidStep = nil
        stepF1 = problem.referenceSteps.isEmpty ? nil : 0
        tokenCount = 0
        finished = false
        notAttempted = reason
    }

    /// Step-level F1 of `generated` against `reference`: with L the longest common subsequence of the normalised
    /// steps (`TeacherAgreementReward.normalize`: case, spacing and trailing periods ignored), F1 = 2L / (S + R)
    /// for S generated and R reference steps. Nil when the reference has no steps; 0 when nothing was generated.
    public static func stepF1(_ generated: [String], reference: [String]) -> Double? {
        guard !reference.isEmpty else { return nil }
        let a = generated.map(TeacherAgreementReward.normalize), b = reference.map(TeacherAgreementReward.normalize)
        let common = TeacherAgreementReward.longestCommonSubsequence(a, b).count
        return 2 * Double(common) / Double(a.count + b.count)
    }
}
