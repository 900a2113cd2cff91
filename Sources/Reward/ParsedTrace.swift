/// One line of a trace and where it sits in the trace's text.
public struct TraceLine: Sendable, Equatable {
    /// The line without surrounding whitespace.
    public let text: String
    /// Character offsets (Swift `Character`s, which is what the math tokenizer encodes one token each) of the
    /// trimmed line within the whole trace.
    public let span: Range<Int>
}

/// A generated trace split into steps and its final answer line.
///
/// Each non-empty line is a step, except the answer line: the last line that starts with `answer:` (any case) or
/// `####` (GSM8K's form); when there is none, the last line holding `\boxed{VALUE}` (the MATH / R1 form, the last
/// box on the line). Earlier answer lines stay steps, so the format reward can flag them.
public struct ParsedTrace: Sendable {
    /// The full text as given.
    public let text: String
    /// Every non-empty line that is not the answer line, in order.
    public let steps: [TraceLine]
    /// The answer line (`answer:`, `####` or `\boxed{}`), if any.
    public let answerLine: TraceLine?
    /// The value after `answer:` or `####` (trimmed), or inside the last `\boxed{}`, if there is an answer line.
    public let answer: String?
    /// True when the answer line is the last non-empty line.
    public let endsWithAnswer: Bool

    /// Splits `text` at newlines.
    public init(_ text: String) {
        self.text = text
        var lines: [TraceLine] = []
        var current = "", start = 0, offset = 0
        func flush() {
            let trimmed = current.trimmingWhitespace()
            if !trimmed.text.isEmpty {
                let lo = start + trimmed.leading
                lines.append(TraceLine(text: trimmed.text, span: lo..<(lo + trimmed.text.count)))
            }
        }
        for ch in text {
            if ch.isNewline {
                flush()
                current = ""
                start = offset + 1
            } else {
                current.append(ch)
            }
            offset += 1
        }
        flush()
        let answerIndex = lines.lastIndex { Self.answerValue(of: $0.text) != nil }
            ?? lines.lastIndex { Self.boxedValue(in: $0.text) != nil }
        if let answerIndex {
            answerLine = lines[answerIndex]
            answer = Self.answerValue(of: lines[answerIndex].text) ?? Self.boxedValue(in: lines[answerIndex].text)
            endsWithAnswer = answerIndex == lines.count - 1
            lines.remove(at: answerIndex)
        } else {
            answerLine = nil
            answer = nil
            endsWithAnswer = false
        }
        steps = lines
    }

    /// Steps and the answer line, in text order.
    public var lines: [TraceLine] {
        (steps + (answerLine.map { [$0] } ?? [])).sorted { $0.span.lowerBound < $1.span.lowerBound }
    }

    /// The text of each step.
    public var stepTexts: [String] { steps.map(\.text) }

    /// The value of an `answer: VALUE` or `#### VALUE` line (trimmed, possibly empty), or nil when the line is not one.
    public static func answerValue(of line: String) -> String? {
        let trimmed = line.trimmingWhitespace().text
        if trimmed.hasPrefix("####") { return String(trimmed.dropFirst(4)).trimmingWhitespace().text }
        guard trimmed.count >= 7, trimmed.prefix(7).lowercased() == "answer:" else { return nil }
        return String(trimmed.dropFirst(7)).trimmingWhitespace().text
    }

    /// The content of the last `\boxed{...}` in `line` (braces inside it balanced, trimmed), or nil when it has none
    /// or the last one is not closed.
    public static func boxedValue(in line: String) -> String? {
        guard let open = line.range(of: "\\boxed{", options: .backwards) else { return nil }
        var depth = 1, value = ""
        for ch in line[open.upperBound...] {
            if ch == "{" { depth += 1 }
            if ch == "}" { depth -= 1; if depth == 0 { return value.trimmingWhitespace().text } }
            value.append(ch)
        }
        return nil
    }
}

extension String {
    /// The string without leading and trailing whitespace, and how many characters were dropped in front.
    func trimmingWhitespace() -> (text: String, leading: Int) {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return ("", 0)
        }
        return (String(self[first...last]), distance(from: startIndex, to: first))
    }
}
