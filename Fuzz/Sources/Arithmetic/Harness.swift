import FuzzSupport
import Foundation
import Reward

// The arithmetic lexer, parser and verifier on any text: a step is verified, an expression is a value or an
// `ArithmeticError`, a trace is parsed; none may crash, hang or take unbounded memory (the limits of
// ArithmeticLimit exist for that).
let verifier = StepVerifier()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArithmetic(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = fuzzText(data, size)
    _ = verifier.verify(step: text)
    _ = verifier.verify(steps: text.split(separator: "\n").map(String.init))
    if let expression = try? ArithmeticExpression(text) {
        _ = expression.description
        _ = try? expression.value()
        _ = try? expression.valueWithPercentAsUnit()
    }
    let trace = ParsedTrace(text)
    _ = trace
    _ = ParsedTrace.answerValue(of: text)
    _ = ParsedTrace.boxedValue(in: text)
    _ = AnswerNormalizer.normalize(text)
    _ = AnswerNormalizer.numericValue(text)
    _ = AnswerNormalizer.equivalent(text, "42")
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzArithmetic) }
}
