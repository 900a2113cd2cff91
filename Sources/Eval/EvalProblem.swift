/// One problem of an evaluation suite: the question a model is prompted with, and the reference it is judged
/// against (final answer, and the reference steps for step agreement).
public struct EvalProblem: Sendable, Equatable {
    /// A unique identifier (`add-test-000017`, `gsm8k-12`, `test/algebra/1234.json`).
    public var id: String
    /// The domain used for the per-domain breakdown (`addition`, `gsm8k`, `math-algebra`, ...).
    public var domain: String
    /// The question text (the prompt is `TraceFormat.prompt(question:)`).
    public var question: String
    /// The reference steps (may be empty when the source has none).
    public var referenceSteps: [String]
    /// The reference final answer, compared with `AnswerNormalizer.equivalent`.
    public var referenceAnswer: String
    /// The 1-based line of the problem in its suite file (the row index for built-in suites), for messages.
    public var line: Int

    /// A problem with the given fields.
    public init(id: String, domain: String, question: String, referenceSteps: [String], referenceAnswer: String, line: Int) {
        self.id = id
        self.domain = domain
        self.question = question
        self.referenceSteps = referenceSteps
        self.referenceAnswer = referenceAnswer
        self.line = line
    }
}
