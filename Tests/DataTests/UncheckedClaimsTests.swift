import Data
import Foundation
import TestSupport
import Testing

// `distill verify` counts claims beyond the verifier's limits as unchecked, apart from the valid and invalid ones
// (issue #27, item 6): a true 2,500-digit sum is not an invalid step, and its row is not listed as bad.

@Suite("unchecked claims in distill verify")
struct UncheckedClaimsTests {
    private static let nines = String(repeating: "9", count: 2_500)
    private static let rows = """
        {"id": "big", "steps": ["\(nines) + 1 = 1\(String(repeating: "0", count: 2_500))", "2 + 2 = 4"], "answer": "4"}
        {"id": "power", "steps": ["2^99999999 = 5"], "answer": "5"}
        {"id": "slip", "steps": ["2 + 3 = 6"], "answer": "6"}
        """

    @Test("DatasetVerification: unchecked claims are counted apart and no row is bad because of them")
    func report() throws {
        let r = DatasetVerification(dataset: try TraceDataset.load(try writeScratch("unchecked.jsonl", Self.rows)))
        #expect(r.claimCount == 4 && r.validClaimCount == 1 && r.invalidClaimCount == 1 && r.uncheckedClaimCount == 2)
        #expect(r.badRows.map(\.id) == ["slip"])
    }

    @Test("distill verify --json has unchecked_claims; the text names the limits")
    func command() throws {
        guard let distill = requireDistill() else { return }
        let path = try writeScratch("unchecked-cli.jsonl", Self.rows)
        let r = try runDistill(distill, ["verify", path, "--json"])
        #expect(r.succeeded, "\(r)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        #expect(json["unchecked_claims"] as? Int == 2 && json["invalid_claims"] as? Int == 1 && json["valid_claims"] as? Int == 1, "\(json)")
        #expect(json["rows_with_invalid_step"] as? Int == 1)
        let text = try runDistill(distill, ["verify", path])
        #expect(text.succeeded && text.stdout.contains("1 invalid, 2 unchecked") && text.stdout.contains("2000 digits"), "\(text.stdout)")
    }
}
