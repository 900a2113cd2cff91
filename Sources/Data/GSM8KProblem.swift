/// One row of GSM8K (`question`, `answer`), read as published: the answer's lines are the reasoning steps,
/// with calculator annotations `<<48/2=24>>`, and its last line is `#### N`.
public struct GSM8KProblem: Sendable, Equatable, Decodable {
    /// The word problem.
    public let question: String
    /// The `answer` field exactly as published (steps and the `####` line).
    public let solution: String
    /// The solution's lines before `####`, trimmed, blank lines left out.
    public let steps: [String]
    /// The final answer as written after `####` (may hold a thousands comma: `1,000`).
    public let finalAnswerText: String
    /// The final answer with thousands commas removed (`1000`).
    public let finalAnswer: String

    /// Decodes one published row strictly: unknown, missing or mistyped fields are errors naming the field.
    public init(from decoder: Decoder) throws {
        let o = try StrictObject(decoder, known: ["question", "answer"])
        question = try o.required("question", String.self, "a string")
        solution = try o.required("answer", String.self, "a string: the solution steps, then a final line '#### N'")
        // Split on the UTF-8 newline byte: splitting by Character is much slower and GSM8K uses plain "\n".
        let lines = solution.utf8.split(separator: UInt8(ascii: "\n"))
            .map { Substring($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        guard let last = lines.last, last.hasPrefix("####") else {
            throw FieldError(field: "answer", reason: "has no final '#### N' line; a GSM8K answer ends with the number after ####")
        }
        finalAnswerText = String(last.dropFirst(4)).trimmingWhitespace()
        guard !finalAnswerText.isEmpty else {
            throw FieldError(field: "answer", reason: "the final '####' line has no number after it")
        }
        finalAnswer = Self.removingThousandsCommas(finalAnswerText)
        steps = Array(lines.dropLast())
    }

    /// The calculator annotations' contents (`48/2=24`), in order.
    public var calculatorAnnotations: [String] {
        var out: [String] = []
        var rest = Substring(solution)
        while let open = rest.firstRange(of: "<<"), let close = rest[open.upperBound...].firstRange(of: ">>") {
            out.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return out
    }

    /// The row as a trace: steps keep their annotations (the verifier checks them), answer without commas.
    public func traceRecord(id: String) -> TraceRecord {
        TraceRecord(id: id, domain: "gsm8k", question: question, steps: steps, answer: finalAnswer, source: "gsm8k")
    }

    /// `1,000` -> `1000` when the commas group digits in threes; anything else is returned unchanged.
    public static func removingThousandsCommas(_ text: String) -> String {
        let groups = text.split(separator: ",", omittingEmptySubsequences: false)
        guard groups.count > 1 else { return text }
        let lead = groups[0].hasPrefix("-") ? groups[0].dropFirst() : groups[0]
        guard (1...3).contains(lead.count), lead.allSatisfy(\.isASCIIDigit),
              groups.dropFirst().dropLast().allSatisfy({ $0.count == 3 && $0.allSatisfy(\.isASCIIDigit) }),
              let tail = groups.last, tail.count >= 3, tail.prefix(3).allSatisfy(\.isASCIIDigit),
              tail.count == 3 || tail.dropFirst(3).first == "." else { return text }
        return groups.joined()
    }

    /// Loads every row of a GSM8K JSONL file.
    /// - Throws: `DataError.malformedLine` naming file, line and field; `DataError.unreadableFile`.
    public static func load(_ path: String) throws -> [(line: Int, problem: GSM8KProblem)] {
        try JSONLines.decode(path, as: GSM8KProblem.self).map { ($0.line, $0.value) }
    }

    /// Loads a GSM8K file as a trace dataset, ids `gsm8k-<line>`.
    public static func loadTraces(_ path: String) throws -> TraceDataset {
        let rows = try load(path)
        var dataset = TraceDataset(path: path, records: rows.map { $0.problem.traceRecord(id: "gsm8k-\($0.line)") })
        dataset.lineNumbers = rows.map(\.line)
        return dataset
    }
}

extension Character {
    var isASCIIDigit: Bool { asciiValue.map { $0 >= 48 && $0 <= 57 } ?? false }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (scanning from both ends: walking a whole string
    /// backwards by grapheme is slow).
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
