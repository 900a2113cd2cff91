/// One training or validation question for the PPO stage.
public struct PPOProblem: Sendable, Equatable {
    /// The question text (the prompt is `<bos>` + question + newline, the layout of `Data.TraceFormat`).
    public var question: String
    /// The reference final answer the answer reward compares with.
    public var referenceAnswer: String
    /// The teacher's trace for this question, when known (for the teacher-agreement reward).
    public var teacherTrace: String?

    /// A problem with its reference answer and, optionally, the teacher's trace.
    public init(question: String, referenceAnswer: String, teacherTrace: String? = nil) {
        self.question = question
        self.referenceAnswer = referenceAnswer
        self.teacherTrace = teacherTrace
    }
}
