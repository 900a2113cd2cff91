import Data
import Foundation
import Reward
import Testing

// The equations written in the prose of GSM8K's published training solutions (steps without a calculator
// annotation), against Fixtures/gsm8k_flagged.tsv: every claim the strict reading flagged, classified by reading
// the row as a slip of the authors (with the left side's value worked out by hand) or a misreading of the verifier.
// The slips must stay flagged, with that value; the misreadings must not be flagged; nothing else may be.

private let gsm8kPath = sharedData("gsm8k/train.jsonl")

/// One row of the classification file.
private struct Flagged {
    let line: Int, step: Int, isSlip: Bool, claim: String, correct: String, reason: String
}

private func classification() throws -> [Flagged] {
    guard let url = Bundle.module.url(forResource: "gsm8k_flagged", withExtension: "tsv", subdirectory: "Fixtures") else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Tests/DataTests/Fixtures/gsm8k_flagged.tsv"])
    }
    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
    #expect(lines.first == "line\tstep\tclass\tclaim\tcorrect\treason")
    return lines.dropFirst().map { row in
        let f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        #expect(f.count == 6 && (f[2] == "slip" || f[2] == "misreading"), "malformed row: \(row)")
        return Flagged(line: Int(f[0]) ?? -1, step: Int(f[1]) ?? -1, isSlip: f[2] == "slip", claim: f[3],
                       correct: f.count > 4 ? f[4] : "", reason: f.count > 5 ? f[5] : "")
    }
}

@Test func gsm8kProseClaimsFlagOnlyTheRealSlips() throws {
    let rows = try GSM8KProblem.load(gsm8kPath)
    let verifier = StepVerifier(extractor: ClaimExtractor(kinds: [.inline]))
    // Every checked inline claim that fails, keyed by (line, step).
    var flagged: [String: [ClaimVerification]] = [:]
    var steps: [String: StepVerification] = [:]
    var claimCount = 0
    for row in rows {
        for (k, text) in row.problem.steps.enumerated() {
            let v = verifier.verify(step: text, index: k)
            claimCount += v.claims.count
            steps["\(row.line)/\(k)"] = v
            let bad = v.claims.filter(\.isInvalid)
            if !bad.isEmpty { flagged["\(row.line)/\(k)"] = bad }
        }
    }
    let table = try classification()
    #expect(table.count == 31)
    let slips = table.filter(\.isSlip)
    #expect(slips.count == 19)

    // Each real slip is flagged, as the same claim, with the value computed by hand.
    for slip in slips {
        let bad = flagged["\(slip.line)/\(slip.step)"] ?? []
        #expect(bad.count == 1, "line \(slip.line) step \(slip.step): the slip \(slip.claim) is no longer flagged (\(slip.reason))")
        guard let claim = bad.first else { continue }
        #expect(claim.claim.description == slip.claim, "line \(slip.line): flagged \(claim.claim), listed \(slip.claim)")
        #expect(claim.expected == Rational(decimal: slip.correct) ?? (try? ArithmeticExpression.evaluate(slip.correct)),
                "line \(slip.line): \(claim.explanation); by hand \(slip.correct)")
    }
    // No misreading is flagged again; the ones with a number to check now verify (the clock time claims nothing).
    for misreading in table.filter({ !$0.isSlip }) {
        let key = "\(misreading.line)/\(misreading.step)"
        #expect(flagged[key] == nil, "line \(misreading.line): flagged again: \(flagged[key]?.map(\.explanation) ?? [])")
        let status = steps[key]?.status
        #expect(status == (misreading.line == 658 ? .noClaim : .valid), "line \(misreading.line): \(misreading.reason)")
    }
    // And nothing outside the list is flagged.
    let listed = Set(slips.map { "\($0.line)/\($0.step)" })
    let unlisted = flagged.filter { !listed.contains($0.key) }
    #expect(unlisted.isEmpty, "flagged but not classified: \(unlisted.values.flatMap { $0.map(\.explanation) })")
    // The reading rules add claims (mixed numbers with `and`, vulgar fractions) and drop the clock time: 983 found,
    // 964 valid, the 19 slips invalid.
    #expect(claimCount == 983)
    #expect(flagged.values.map(\.count).reduce(0, +) == 19)
}
