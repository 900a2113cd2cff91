import StrictConfig

/// One reasoning trace: a question, its steps, the final answer, and where it came from (one JSONL row).
///
/// ```json
/// {"id": "add-train-000017", "domain": "addition", "question": "Compute 4821 + 379.",
///  "steps": ["1 + 9 = 10, write 0 carry 1", "..."], "step_confidence": [0.98, ...],
///  "answer": "5200", "source": "generator"}
/// ```
/// `steps` and `answer` are required; `step_confidence` (teacher traces) has one value in [0, 1] per step.
/// Unknown fields are an error, not ignored.
public struct TraceRecord: Sendable, Equatable, Decodable {
    /// A unique identifier (`add-train-000017`, `gsm8k-12`).
    public var id: String?
    /// The task domain (`addition`, `linear`, `gsm8k`, ...), used for balancing.
    public var domain: String?
    /// The question text.
    public var question: String?
    /// The reasoning steps, one line each.
    public var steps: [String]
    /// The teacher's confidence in each step, when the trace came from a teacher.
    public var stepConfidence: [Double]?
    /// The final answer.
    public var answer: String
    /// Where the trace came from: `generator`, `teacher`, `gsm8k`, ...
    public var source: String?

    /// The field names, in the order rows are written.
    public static let fieldNames = ["id", "domain", "question", "steps", "step_confidence", "answer", "source"]

    /// A record with the given fields.
    public init(id: String? = nil, domain: String? = nil, question: String? = nil, steps: [String],
                stepConfidence: [Double]? = nil, answer: String, source: String? = nil) {
        self.id = id
        self.domain = domain
        self.question = question
        self.steps = steps
        self.stepConfidence = stepConfidence
        self.answer = answer
        self.source = source
    }

    /// Decodes one row strictly (see the type's summary); errors name the field.
    public init(from decoder: Decoder) throws {
        let o = try StrictObject(decoder, known: Self.fieldNames)
        id = try o.optional("id", String.self, "a string")
        domain = try o.optional("domain", String.self, "a string")
        question = try o.optional("question", String.self, "a string")
        steps = try o.required("steps", [String].self, "an array of strings, one per step",
                               missing: "missing; every row needs its steps (a GSM8K question/answer file? read it with `--format gsm8k`)")
        stepConfidence = try o.optional("step_confidence", [Double].self, "an array of numbers in [0, 1], one per step")
        answer = try o.required("answer", String.self, "a string (write numbers as strings, e.g. \"72\")")
        source = try o.optional("source", String.self, "a string")
        try validate()
    }

    /// Checks the rules JSON types cannot express.
    func validate() throws {
        if let k = steps.firstIndex(where: { $0.contains(where: \.isNewline) }) {
            throw FieldError(field: "steps", reason: "step \(k) contains a line break; a step is one line, so split it into separate steps")
        }
        if let c = stepConfidence {
            guard c.count == steps.count else {
                throw FieldError(field: "step_confidence", reason: "has \(c.count) values for \(steps.count) steps; give one per step")
            }
            if let k = c.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
                throw FieldError(field: "step_confidence", reason: "value \(k) is \(c[k]); confidences must be in [0, 1]")
            }
        }
    }

    /// The row as one line of JSON (no trailing newline), keys in `fieldNames` order, absent fields left out.
    public var jsonLine: String {
        var parts: [String] = []
        if let id { parts.append("\"id\": " + JSONText.quoted(id)) }
        if let domain { parts.append("\"domain\": " + JSONText.quoted(domain)) }
        if let question { parts.append("\"question\": " + JSONText.quoted(question)) }
        parts.append("\"steps\": [" + steps.map(JSONText.quoted).joined(separator: ", ") + "]")
        if let stepConfidence { parts.append("\"step_confidence\": [" + stepConfidence.map(JSONText.compactNumber).joined(separator: ", ") + "]") }
        parts.append("\"answer\": " + JSONText.quoted(answer))
        if let source { parts.append("\"source\": " + JSONText.quoted(source)) }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    /// The trace as a model writes it: the steps, one per line, then `answer: VALUE`.
    public var traceText: String {
        (steps + ["answer: \(answer)"]).joined(separator: "\n")
    }
}
