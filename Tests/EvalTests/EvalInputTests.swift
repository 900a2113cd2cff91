import Data
import Eval
import Foundation
import Model
import Tensor
import Testing

// Issue #27's partial leftovers on the eval side: run-time non-finite logits named by problem and step; --out
// checked before the evaluation runs; a suite file whose format cannot be told says what it found and which
// formats are accepted.

@Suite("eval: inputs checked first, overflow named")
struct EvalInputTests {
    @Test("finite weights whose logits overflow: eval stops naming the model, the problem and the generated token")
    func nonFiniteLogitsAreNamed() throws {
        let model = try tinyModel(seed: 4)
        // Every weight finite; the final norm and the head multiply to beyond Float's range (as NonFiniteWeightTests).
        let norm = model.parameters["model.norm.weight"]
        for i in 0..<norm.count { norm.ptr[i] = 3e38 }
        let head = model.parameters["lm_head.weight"]
        for i in 0..<head.count { head.ptr[i] = i % 2 == 0 ? 3e38 : -3e38 }
        let suite = try MathProofSuite().generate().limited(to: 3)
        let evaluator = try Evaluator(config: EvalConfig(maxNewTokens: 8, batchSize: 2, samples: 0, ks: [], seed: 1))
        #expect(throws: EvalError.nonFiniteLogits(model: "student", problem: suite.problems[0].id, step: 0, sampled: false)) {
            try evaluator.evaluate(model: model, tokenizer: .math, suite: suite, label: "student", role: "student")
        }
        let message = "\(EvalError.nonFiniteLogits(model: "student", problem: "add-test-000000", step: 0, sampled: false))"
        #expect(message.contains("generated token 1 of problem add-test-000000") && message.contains("non-finite logits"))
        // The same model untouched evaluates (the check does not fire on finite logits).
        let fine = try tinyModel(seed: 4)
        _ = try evaluator.evaluate(model: fine, tokenizer: .math, suite: suite, label: "student", role: "student")
    }

    @Test("--out is checked before any work: an existing file, a path under a file, a report name that is a folder")
    func destinationCheckedFirst() throws {
        try withScratchFolder("out") { dir in
            let file = try writeText("x\n", to: dir, "existing.txt")
            #expect {
                try ReportFiles.checkDestination(file)
            } throws: { error in
                guard case EvalError.writeFailed(file, let reason) = error else { return false }
                return reason.contains("is a file, not a directory")
            }
            #expect {
                try ReportFiles.checkDestination(file + "/report")
            } throws: { error in
                guard case EvalError.writeFailed(file + "/report", let reason) = error else { return false }
                return reason.contains("\(file) is a file, not a directory")
            }
            try FileManager.default.createDirectory(atPath: dir + "/r/report.md", withIntermediateDirectories: true)
            #expect(throws: EvalError.writeFailed(path: dir + "/r/report.md", reason: "is a directory, not a file; remove or rename that folder, or write somewhere else")) {
                try ReportFiles.checkDestination(dir + "/r")
            }
            // A folder that does not exist yet (made by the write) and an existing empty one are fine.
            try ReportFiles.checkDestination(dir + "/new/deeper")
            try ReportFiles.checkDestination(dir)
        }
    }

    @Test("a suite file that is not JSON, or holds a JSON list, says what it found and names the accepted formats")
    func formatDetectionSaysWhatItFound() throws {
        try withScratchFolder("detect") { dir in
            let garbage = try writeText("\nthis is not json\n", to: dir, "garbage.jsonl")
            #expect {
                try EvalSuite.resolve(garbage)
            } throws: { error in
                guard case DataError.malformedLine(garbage, 2, nil, let reason) = error else { return false }
                return reason.contains("text that is not JSON") && reason.contains("traces (fields steps and answer)")
                    && reason.contains("gsm8k (question and answer)") && reason.contains("math500 (problem, solution and answer)")
            }
            let list = try writeText("[1, 2]\n", to: dir, "list.jsonl")
            #expect {
                try EvalSuite.resolve(list)
            } throws: { error in
                guard case DataError.malformedLine(list, 1, nil, let reason) = error else { return false }
                return reason.contains("a JSON list, not an object") && reason.contains("one object per line")
            }
            // Invalid UTF-8 in the first row after two blank lines ("\n", "  \n": 4 bytes), "ab" then 0xFF: an
            // encoding error at offset 2 in line 3, 6 in the file.
            let path = dir + "/latin1.jsonl"
            try Data([0x0A, 0x20, 0x20, 0x0A, 0x61, 0x62, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
            #expect(throws: DataError.invalidEncoding(file: path, line: 3, byteInLine: 2, byteInFile: 6, byte: 0xFF)) {
                try EvalSuite.resolve(path, format: .auto)
            }
        }
    }
}
