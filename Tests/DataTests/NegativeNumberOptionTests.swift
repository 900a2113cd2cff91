import Foundation
import TestSupport
import Testing

// A negative number after a numeric option (issue #27, item 13): `--count -5` must reach the option's validation
// and be explained as `--count=-5` is ("must be at least 1, got -5"), not "Missing value for '--count'".

@Suite("negative numbers after numeric options")
struct NegativeNumberOptionTests {
    /// (arguments, words the message must contain) for each command's numeric options.
    private static let cases: [([String], String)] = [
        (["generate-data", "--domain", "addition", "--count", "-5", "--out", "/tmp/unused.jsonl"], "--count must be at least 1, got -5"),
        (["generate-data", "--domain", "addition", "--count", "4", "--difficulty", "-2", "--out", "/tmp/unused.jsonl"],
         "--difficulty must be in 1...5, got -2"),
        (["generate-data", "--domain", "addition", "--count", "4", "--seed", "-3", "--out", "/tmp/unused.jsonl"], "-3"),
        (["init", "--out", "/tmp/unused.h5", "--seed", "-1"], "-1"),
        (["eval", "--checkpoint", "unused.h5", "--samples", "-2"], "-2 must be 0 (greedy only) or more"),
        (["eval", "--checkpoint", "unused.h5", "--per-domain", "-4"], "--per-domain must be at least 1, got -4"),
        (["eval", "--checkpoint", "unused.h5", "--limit", "-3"], "--limit must be at least 1, got -3"),
        (["eval", "--checkpoint", "unused.h5", "--max-new-tokens", "-8"], "-8 must be at least 1"),
        (["eval", "--checkpoint", "unused.h5", "--samples", "4", "--temperature", "-0.5"], "-0.5 must be above 0"),
        (["report", "unused-run", "--samples", "-1"], "-1 must be 0 (greedy only) or more"),
        (["bench", "--reps", "-1"], "--reps must be at least 1, got -1"),
        (["bench", "--threads", "-2"], "--threads must be in 1...64, got -2"),
        (["plot", "unused-run", "--layer", "-1"], "--layer must be 0 or more, got -1"),
    ]

    @Test("`--option -N` is validated like `--option=-N`", arguments: cases)
    func negativeReachesValidation(arguments: [String], words: String) throws {
        guard let distill = requireDistill() else { return }
        let r = try runDistill(distill, arguments)
        #expect(!r.signaled && !r.timedOut && r.status != 0, "\(arguments.joined(separator: " ")): \(r)")
        #expect(!r.stderr.contains("Missing value"), "\(arguments.joined(separator: " ")): \(r.stderr)")
        #expect(r.stderr.contains(words), "\(arguments.joined(separator: " ")) should say \(words): \(r.stderr)")
    }
}
