import Data
import Reward
import Testing

// The per-file verification report behind `distill verify`, on a file whose errors were placed by hand.

@Test func reportCountsClaimsAndNamesBadRows() throws {
    let path = try writeScratch("v.jsonl", """
        {"id": "ok", "steps": ["48 / 2 = 24", "48 + 24 = 72"], "answer": "72"}
        {"id": "slip", "steps": ["48 / 2 = 24", "48 + 24 = 73", "73 - 1 = 70"], "answer": "70"}
        {"steps": ["think", "5 / 0 = 1", "<<2*3=6>>"], "answer": "1"}
        """)
    let r = DatasetVerification(dataset: try TraceDataset.load(path))
    #expect(r.rowCount == 3)
    #expect(r.stepCount == 8)
    #expect(r.stepsWithClaims == 7)
    #expect(r.claimsByKind == [.inline: 6, .calculator: 1])
    #expect(r.validClaimsByKind == [.inline: 3, .calculator: 1])
    #expect(r.claimCount == 7 && r.validClaimCount == 4 && r.invalidClaimCount == 3)
    #expect(r.badRows.map(\.id) == ["slip", "line 3"])
    let slip = r.badRows[0]
    #expect(slip.line == 2 && slip.step == 1 && slip.stepText == "48 + 24 = 73")
    #expect(slip.claim == "48 + 24 = 73" && slip.correctValue == "72" && slip.statedValue == "73")
    #expect(slip.invalidClaims == 2)
    let undefined = r.badRows[1]
    #expect(undefined.step == 1 && undefined.correctValue == nil)
    #expect(undefined.explanation == "5 / 0 = 1 has no exact value: division by zero")
}
