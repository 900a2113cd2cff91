import Data
import Reward
import Testing

// The published MATH-500 file, used as it is: every last \boxed{} of a solution equals the `answer` field
// after normalisation.

private let math500Path = sharedData("math500/test.jsonl")

@Test func everyBoxedAnswerMatchesThePublishedAnswer() throws {
    let rows = try MATHProblem.load(math500Path).map(\.problem)
    #expect(rows.count == 500)
    for p in rows {
        #expect(p.boxedAnswer != nil, "\(p.uniqueID): no \\boxed{} found")
        #expect(p.boxedAnswerMatches, "\(p.uniqueID): boxed \(String(describing: p.boxedAnswer)) vs answer \(p.answer)")
    }
    // The match survives the notational variants the normaliser exists for: \dfrac, \left/\right, extra
    // spaces and a trailing period written around the published answer.
    var varied = 0
    for p in rows {
        let variant = " " + p.answer.replacing("\\frac", with: "\\dfrac").replacing("(", with: "\\left(")
            .replacing(")", with: "\\right)").replacing(",", with: ", ") + " ."
        if variant != " " + p.answer + " ." { varied += 1 }
        #expect(AnswerNormalizer.normalize(variant) == AnswerNormalizer.normalize(p.boxedAnswer ?? ""), "\(p.uniqueID): \(variant)")
    }
    #expect(varied > 80)
    #expect(Set(rows.map(\.level)) == [1, 2, 3, 4, 5])
}

@Test(arguments: [
    ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("first \\boxed{1}, then \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("\\boxed{{a}{b}}", "{a}{b}"),
    ("answer $\\boxed 5$", "5"),
    ("\\fbox{7}", "7"),
    ("\\boxed {x^{2}}", "x^{2}"),
] as [(String, String)])
func lastBoxedExtraction(text: String, expected: String) {
    #expect(MATHProblem.lastBoxed(in: text) == expected)
}

@Test func lastBoxedWithoutAnswer() {
    #expect(MATHProblem.lastBoxed(in: "no box here") == nil)
    #expect(MATHProblem.lastBoxed(in: "\\boxed{\\frac{1}{2}") == nil)
    #expect(MATHProblem.lastBoxed(in: "\\boxedx{1}") == nil)
}

@Test func malformedMATHRow() throws {
    let path = try writeScratch("m.jsonl", #"{"problem": "p", "solution": "\\boxed{1}", "answer": "1", "subject": "Algebra", "level": "2", "unique_id": "u"}"#)
    #expect(throws: DataError.malformedLine(file: path, line: 1, field: "level", reason: "expected an integer 1...5")) {
        try MATHProblem.load(path)
    }
}
