/// The one judge of a generated trace: teacher-trace rejection sampling, PPO's and on-policy distillation's
/// metrics, and evaluation all read their verdict from here, so "right answer" and "verified step" mean the same
/// thing everywhere.
///
/// ```swift
/// let verdict = TraceJudge().judge(completion: "48 / 2 = 24\n48 + 24 = 73\nanswer: 73", referenceAnswer: "72")
/// verdict.correct            // false
/// verdict.firstInvalidStep   // 1
/// ```
public struct TraceJudge: Sendable {
    /// Checks the arithmetic claims of the steps.
    public var verifier: StepVerifier

    /// A judge over `verifier` (calculator annotations and inline equations by default).
    public init(verifier: StepVerifier = StepVerifier()) {
        self.verifier = verifier
    }

    /// Judges a completion (the text a model wrote after the prompt) for its question.
    /// - Parameters:
    ///   - completion: The trace text: steps, one per line, then the answer line.
    ///   - question: The question (carried into the reward input).
    ///   - referenceAnswer: The right final answer.
    ///   - teacherTrace: The teacher's trace for the question, when known (for the teacher-agreement reward).
    public func judge(completion: String, question: String = "", referenceAnswer: String,
                      teacherTrace: String? = nil) -> TraceJudgement {
        judge(RewardInput(question: question, trace: completion, referenceAnswer: referenceAnswer, teacherTrace: teacherTrace))
    }

    /// Judges an already parsed reward input (the trace is not parsed again).
    public func judge(_ input: RewardInput) -> TraceJudgement {
        TraceJudgement(input: input, verification: verifier.verify(steps: input.trace.stepTexts))
    }

    /// The final answer of `trace` and whether it is equivalent to `referenceAnswer` (`AnswerNormalizer.equivalent`);
    /// no answer line is wrong. The answer part of `judge`, without verifying any step.
    public static func finalAnswer(of trace: ParsedTrace, referenceAnswer: String) -> (answer: String?, correct: Bool) {
        (trace.answer, trace.answer.map { AnswerNormalizer.equivalent($0, referenceAnswer) } ?? false)
    }
}

/// What `TraceJudge` found in one trace.
public struct TraceJudgement: Sendable {
    /// The parsed trace with its question, reference answer and teacher trace: what a `RewardFunction` judges.
    public let input: RewardInput
    /// The verification of every step's claims, in order.
    public let verification: TraceVerification
    /// The value of the answer line, nil when the trace has none.
    public let answer: String?
    /// True when there is an answer line and its value is equivalent to the reference.
    public let correct: Bool

    /// Verdicts from the parsed `input` and its steps' `verification`.
    public init(input: RewardInput, verification: TraceVerification) {
        self.input = input
        self.verification = verification
        (answer, correct) = TraceJudge.finalAnswer(of: input.trace, referenceAnswer: input.referenceAnswer)
    }

    /// The parsed trace.
    public var trace: ParsedTrace { input.trace }
    /// True when the answer line is the trace's last non-empty line.
    public var endsWithAnswer: Bool { input.trace.endsWithAnswer }
    /// Steps: non-empty lines other than the answer line.
    public var stepCount: Int { verification.steps.count }
    /// Steps whose checked claims all hold (at least one claim; see `StepStatus.valid`).
    public var validStepCount: Int { verification.steps.filter { $0.status == .valid }.count }
    /// Steps with a claim that fails or has no exact value.
    public var invalidStepCount: Int { verification.steps.filter { $0.status == .invalid }.count }
    /// The 0-based index of the first invalid step, nil when none is.
    public var firstInvalidStep: Int? { verification.firstInvalidStep }
    /// Claims found and checked (a claim beyond a verification limit is neither valid nor invalid, and left out).
    public var checkedClaimCount: Int { verification.claimCount - verification.uncheckedClaimCount }
    /// Claims that hold exactly.
    public var validClaimCount: Int { verification.validClaimCount }
    /// True when the trace has at least one step and no step is invalid (a step without a claim asserts nothing
    /// false).
    public var stepsVerify: Bool { stepCount > 0 && verification.isValid }
    /// The rejection-sampling verdict: the trace ends with its answer line, the answer is right and the steps verify.
    public var accepted: Bool { endsWithAnswer && correct && stepsVerify }
}
