import Reward
import Testing

// Line splitting and character spans, counted by hand.

@Test func stepsAnswerAndSpans() {
    //          0         1         2
    //          0123456789012345678901234567
    let text = "1 + 2 = 3\n  3 * 4 = 12  \n\nanswer: 12"
    let t = ParsedTrace(text)
    #expect(t.stepTexts == ["1 + 2 = 3", "3 * 4 = 12"])
    #expect(t.steps.map(\.span) == [0..<9, 12..<22])
    #expect(t.answer == "12")
    #expect(t.answerLine?.span == 26..<36)
    #expect(t.endsWithAnswer)
    #expect(t.lines.map(\.text) == ["1 + 2 = 3", "3 * 4 = 12", "answer: 12"])
    // Every span cuts exactly its line out of the text.
    let chars = Array(text)
    for line in t.lines { #expect(String(chars[line.span]) == line.text) }
}

@Test func answerLineRules() {
    // The last `answer:` line is the answer; an earlier one stays a step; case does not matter.
    let t = ParsedTrace("Answer: 3\n2 + 2 = 4\nANSWER:  4 ")
    #expect(t.answer == "4")
    #expect(t.stepTexts == ["Answer: 3", "2 + 2 = 4"])
    #expect(t.endsWithAnswer)
    // Text after the answer line: still the answer, but the trace does not end with it.
    let u = ParsedTrace("answer: 4\nbecause 2 + 2 = 4")
    #expect(u.answer == "4")
    #expect(!u.endsWithAnswer)
    // No answer line.
    let v = ParsedTrace("2 + 2 = 4")
    #expect(v.answer == nil)
    #expect(v.answerLine == nil)
    #expect(!v.endsWithAnswer)
    #expect(ParsedTrace("").lines.isEmpty)
    #expect(ParsedTrace.answerValue(of: "answers: 3") == nil)
    #expect(ParsedTrace.answerValue(of: "answer:") == "")
}

@Test func windowsLineEndings() {
    let t = ParsedTrace("1 + 1 = 2\r\nanswer: 2\r\n")
    #expect(t.stepTexts == ["1 + 1 = 2"])
    #expect(t.answer == "2")
}

@Test func gsm8kAndBoxedAnswers() {
    // GSM8K's `#### VALUE` is an answer line like `answer: VALUE`.
    let g = ParsedTrace("48 / 2 = 24\n48 + 24 = 72\n#### 72")
    #expect(g.answer == "72" && g.stepTexts == ["48 / 2 = 24", "48 + 24 = 72"] && g.endsWithAnswer)
    // \boxed{} (MATH, R1): the last box of the last line that has one; nested braces stay inside.
    let b = ParsedTrace("x = 3/4\nSo the answer is \\boxed{\\frac{3}{4}}.")
    #expect(b.answer == "\\frac{3}{4}")
    #expect(b.stepTexts == ["x = 3/4"])
    #expect(ParsedTrace.boxedValue(in: "\\boxed{1} then \\boxed{ 2 }") == "2")
    #expect(ParsedTrace.boxedValue(in: "\\boxed{unclosed") == nil)
    // An explicit answer line wins over an earlier box.
    let both = ParsedTrace("\\boxed{5}\nanswer: 6")
    #expect(both.answer == "6" && both.stepTexts == ["\\boxed{5}"])
    #expect(ParsedTrace.answerValue(of: "#### 1,234") == "1,234")
}
