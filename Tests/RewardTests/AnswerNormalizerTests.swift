import Reward
import Testing

// Canonical forms and equivalences worked out by hand from the MATH normaliser's rules.

@Test(arguments: [
    ("\\dfrac{1}{2}", "\\frac{1}{2}"), ("\\tfrac12", "\\frac{1}{2}"), ("\\frac12", "\\frac{1}{2}"),
    ("\\frac1{b}", "\\frac{1}{b}"), ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
    ("\\left[ -1, 2 \\right)", "[-1,2)"), ("5.", "5"), (" 12 ", "12"), ("x = 5", "5"), ("k=3", "3"),
    ("90^\\circ", "90"), ("\\$18.90", "18.90"), ("50\\%", "50"), ("\\text{(C)}", "(C)"), ("\\sqrt3", "\\sqrt{3}"),
    (".5", "0.5"), ("\\leftarrow", "\\leftarrow"), ("10\\!000", "10000"), ("y = 2x + 3", "2x+3"),
])
func normalizedForms(raw: String, expected: String) {
    #expect(AnswerNormalizer.normalize(raw) == expected)
}

@Test(arguments: [
    ("1,000", "1000", true), ("0.5", "1/2", true), ("\\frac{1}{2}", "0.5", true), ("\\dfrac{3}{4}", "0.75", true),
    ("-\\frac{1}{2}", "-0.5", true), ("72", "72.0", true), ("$5", "5", true), ("Odd", "odd", true),
    ("7/3", "14/6", true), ("1,2", "12", false), ("5", "6", false), ("\\pi", "3.14", false), ("yes", "no", false),
    ("(1,2)", "(1, 2)", true), ("\\frac{\\pi}{2}", "\\dfrac{\\pi}{2}", true),
])
func equivalences(a: String, b: String, equal: Bool) {
    #expect(AnswerNormalizer.equivalent(a, b) == equal)
}

@Test func numericValues() {
    #expect(AnswerNormalizer.numericValue("1,234,567") == Rational(1_234_567))
    #expect(AnswerNormalizer.numericValue("\\frac{-3}{6}") == Rational(-1, 2))
    #expect(AnswerNormalizer.numericValue("2x") == nil)
    #expect(AnswerNormalizer.numericValue("(1,2)") == nil)
    #expect(AnswerNormalizer.numericValue("\\frac{1}{0}") == nil)
}
