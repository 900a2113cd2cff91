import Reward

/// One row of the MATH benchmark as published in PRM800K's MATH-500 split (`problem`, `solution`, `answer`,
/// `subject`, `level`, `unique_id`). The reference answer is the last `\boxed{...}` of the solution.
public struct MATHProblem: Sendable, Equatable, Decodable {
    /// The problem statement (LaTeX).
    public let problem: String
    /// The worked solution (LaTeX), ending in `\boxed{answer}`.
    public let solution: String
    /// The published answer.
    public let answer: String
    /// The subject (`Algebra`, `Precalculus`, ...).
    public let subject: String
    /// The difficulty level, 1...5.
    public let level: Int
    /// The MATH identifier (`test/precalculus/807.json`).
    public let uniqueID: String

    /// Decodes one published row strictly: unknown, missing or mistyped fields are errors naming the field.
    public init(from decoder: Decoder) throws {
        let o = try StrictObject(decoder, known: ["problem", "solution", "answer", "subject", "level", "unique_id"])
        problem = try o.required("problem", String.self, "a string")
        solution = try o.required("solution", String.self, "a string")
        answer = try o.required("answer", String.self, "a string")
        subject = try o.required("subject", String.self, "a string")
        level = try o.required("level", Int.self, "an integer 1...5")
        uniqueID = try o.required("unique_id", String.self, "a string")
    }

    /// The contents of the solution's last `\boxed{...}`.
    public var boxedAnswer: String? { Self.lastBoxed(in: solution) }

    /// True when the boxed answer and the published answer agree after `AnswerNormalizer.normalize`.
    public var boxedAnswerMatches: Bool {
        boxedAnswer.map { AnswerNormalizer.normalize($0) == AnswerNormalizer.normalize(answer) } ?? false
    }

    /// The contents of the last `\boxed{...}` (or `\fbox{...}`) in `text`, nested braces included
    /// (`\boxed{\frac{1}{2}}` gives `\frac{1}{2}`); also the brace-less `\boxed 5`. Nil when there is none or its
    /// braces do not close.
    public static func lastBoxed(in text: String) -> String? {
        let chars = Array(text)
        var start: Int?
        for command in ["\\boxed", "\\fbox"] {
            let c = Array(command)
            var i = chars.count - c.count
            while i >= 0 {
                if Array(chars[i..<(i + c.count)]) == c, i + c.count == chars.count || !chars[i + c.count].isLetter {
                    if start == nil || i > start! { start = i + c.count }
                    break
                }
                i -= 1
            }
        }
        guard var i = start else { return nil }
        while i < chars.count, chars[i] == " " { i += 1 }
        guard i < chars.count else { return nil }
        if chars[i] != "{" {
            // `\boxed 5`: the argument runs to the next space or math delimiter.
            var j = i
            while j < chars.count, !chars[j].isWhitespace, chars[j] != "$" { j += 1 }
            return j > i ? String(chars[i..<j]) : nil
        }
        var depth = 0
        for j in i..<chars.count {
            if chars[j] == "{" { depth += 1 }
            if chars[j] == "}" {
                depth -= 1
                if depth == 0 { return String(chars[(i + 1)..<j]) }
            }
        }
        return nil
    }

    /// The row as a trace: the solution's non-blank lines as steps, the published answer.
    public func traceRecord() -> TraceRecord {
        let steps = solution.split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        return TraceRecord(id: uniqueID, domain: "math-" + subject.lowercased().replacing(" ", with: "-"),
                           question: problem, steps: steps, answer: answer, source: "math500")
    }

    /// Loads every row of a MATH JSONL file.
    /// - Throws: `DataError.malformedLine` naming file, line and field; `DataError.unreadableFile`.
    public static func load(_ path: String) throws -> [(line: Int, problem: MATHProblem)] {
        try JSONLines.decode(path, as: MATHProblem.self).map { ($0.line, $0.value) }
    }
}
