import Data
import Foundation
import Reward
import Testing

// The published GSM8K training file, used as it is: every calculator annotation verifies exactly, and a
// deliberately corrupted one is caught with the value it should have had.

private let gsm8kPath = sharedData("gsm8k/train.jsonl")

@Test func everyCalculatorAnnotationVerifies() throws {
    let rows = try GSM8KProblem.load(gsm8kPath)
    #expect(rows.count == 7473)
    #expect(rows.reduce(0) { $0 + $1.problem.calculatorAnnotations.count } == 23_716)
    var dataset = TraceDataset(path: gsm8kPath, records: rows.map { $0.problem.traceRecord(id: "gsm8k-\($0.line)") })
    dataset.lineNumbers = rows.map(\.line)
    let report = DatasetVerification(dataset: dataset, verifier: StepVerifier(extractor: ClaimExtractor(kinds: [.calculator])))
    #expect(report.claimsByKind[.calculator] == 23_716)
    #expect(report.validClaimsByKind[.calculator] == 23_716)
    #expect(report.badRows.isEmpty, "\(report.badRows.prefix(5).map(\.explanation))")
}

@Test func finalAnswersWithThousandsCommas() throws {
    let rows = try GSM8KProblem.load(gsm8kPath).map(\.problem)
    #expect(rows.filter { $0.finalAnswerText.contains(",") }.count == 79)
    // With the commas removed every final answer is a plain integer.
    #expect(rows.allSatisfy { Int($0.finalAnswer) != nil })
    let first = rows[0]
    #expect(first.finalAnswer == "72")
    #expect(first.steps == ["Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
                            "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May."])
    #expect(first.calculatorAnnotations == ["48/2=24", "48+24=72"])
    #expect(GSM8KProblem.removingThousandsCommas("1,000") == "1000")
    #expect(GSM8KProblem.removingThousandsCommas("109,200,000") == "109200000")
    #expect(GSM8KProblem.removingThousandsCommas("-1,234.5") == "-1234.5")
    #expect(GSM8KProblem.removingThousandsCommas("1,00") == "1,00")
    #expect(GSM8KProblem.removingThousandsCommas("12") == "12")
}

@Test func corruptedAnnotationsAreCaught() throws {
    var lines = try String(contentsOfFile: gsm8kPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    // Row 1: 48/2 is 24, not 25.
    lines[0] = lines[0].replacing("<<48/2=24>>", with: "<<48/2=25>>", maxReplacements: 1)
    // Row 5000: bump the value of its first annotation by one.
    let row = lines[4999]
    let open = row.firstRange(of: "<<")!, close = row.firstRange(of: ">>")!
    let annotation = String(row[open.upperBound..<close.lowerBound])
    let parts = annotation.split(separator: "=")
    let correct = try ArithmeticExpression.evaluate(String(parts[0]))
    let wrong = correct + Rational(1)
    lines[4999] = row.replacingCharacters(in: open.upperBound..<close.lowerBound, with: "\(parts[0])=\(wrong.displayString)")
    let path = try writeScratch("gsm8k-corrupt.jsonl", lines.joined(separator: "\n"))

    let report = DatasetVerification(dataset: try GSM8KProblem.loadTraces(path))
    let bad = report.badRows.filter { $0.line == 1 || $0.line == 5000 }
    #expect(bad.count == 2)
    #expect(report.validClaimsByKind[.calculator] == 23_714)
    let one = bad[0]
    #expect(one.id == "gsm8k-1" && one.step == 0)
    #expect(one.claim == "48/2 = 25")
    #expect(one.correctValue == "24" && one.statedValue == "25")
    let other = bad[1]
    #expect(other.id == "gsm8k-5000")
    #expect(other.correctValue == correct.displayString)
    #expect(other.statedValue == wrong.displayString)
}

@Test func malformedGSM8KRows() throws {
    let noFinal = try writeScratch("g1.jsonl", ##"{"question": "q", "answer": "1 + 1 = <<1+1=2>>2"}"##)
    #expect {
        try GSM8KProblem.load(noFinal)
    } throws: { error in
        guard case DataError.malformedLine(let f, 1, "answer", let reason) = error else { return false }
        return f == noFinal && reason.contains("#### N")
    }
    let extra = try writeScratch("g2.jsonl", "{\"question\": \"q\", \"answer\": \"#### 2\", \"solution\": \"x\"}")
    #expect(throws: DataError.malformedLine(file: extra, line: 1, field: "solution",
                                            reason: "unknown field; the known fields are question, answer (check the spelling)")) {
        try GSM8KProblem.load(extra)
    }
}
