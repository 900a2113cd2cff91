import Data
import Testing

// Cleaning and domain balancing, with the removals counted by hand.

private func row(_ id: String, _ domain: String?, _ steps: [String], _ answer: String, question: String = "q") -> TraceRecord {
    TraceRecord(id: id, domain: domain, question: question, steps: steps, answer: answer)
}

@Test func cleaningRemovesShortAnswersDuplicatesAndInvalidSteps() throws {
    let records = [
        row("r1", "addition", ["2 + 2 = 4"], "4", question: "Compute 2 + 2."),
        row("r2", "addition", ["2  +  2 = 4"], "4", question: "compute 2 + 2."),   // same trace up to spacing and case
        row("r3", "addition", ["2 + 3 = 5"], " ", question: "Compute 2 + 3."),      // empty answer
        row("r4", "addition", ["first", "2 + 2 = 5"], "5", question: "Compute 2 + 2?"),
        row("r5", "addition", ["3 + 3 = 6"], "6", question: "Compute 3 + 3."),
    ]
    let (kept, report) = try TraceCleaner().clean(records)
    #expect(kept.map(\.id) == ["r1", "r5"])
    #expect(report.inputCount == 5 && report.keptCount == 2)
    #expect(report.removals == [
        Removal(id: "r2", reason: .duplicate, detail: "same trace as r1"),
        Removal(id: "r3", reason: .answerTooShort, detail: "answer has 0 characters, minimum 1"),
        Removal(id: "r4", reason: .invalidStep, detail: "step 1: 2 + 2 = 5 is wrong: 2 + 2 is 4, not 5"),
    ])
    #expect(report.countsByReason == [.duplicate: 1, .answerTooShort: 1, .invalidStep: 1])
    #expect(report.summary == "removed 3 of 5: answer_too_short 1, duplicate 1, invalid_step 1")
}

@Test func cleaningChecksCanBeTurnedOff() throws {
    let records = [row("a", nil, ["2 + 2 = 5"], "12"), row("b", nil, ["2 + 2 = 5"], "12")]
    let none = try TraceCleaner(config: CleaningConfig(minimumAnswerLength: 0, removeDuplicates: false, requireVerifiedSteps: false))
    #expect(none.clean(records).kept.count == 2)
    let long = try TraceCleaner(config: CleaningConfig(minimumAnswerLength: 3, removeDuplicates: false, requireVerifiedSteps: false))
    #expect(long.clean(records).report.countsByReason == [.answerTooShort: 2])
    #expect(throws: DataError.self) { try TraceCleaner(config: CleaningConfig(minimumAnswerLength: -1)) }
}

@Test func balancingToEqualShares() throws {
    // 6 addition, 3 linear, 1 gcd (no target), 2 without a domain. Equal shares: T = min(6/0.5, 3/0.5) = 6,
    // so each keeps 3; 3 addition rows are over the share and 3 rows have no target.
    var records = (0..<6).map { row("a\($0)", "addition", [], "1") } + (0..<3).map { row("l\($0)", "linear", [], "1") }
    records.insert(row("g0", "gcd", [], "1"), at: 4)
    records += [row("n0", nil, [], "1"), row("n1", nil, [], "1")]
    let (kept, report) = try DomainBalancer(targetRatios: ["addition": 1, "linear": 1], seed: 5).balance(records)
    #expect(kept.filter { $0.domain == "addition" }.count == 3)
    #expect(kept.filter { $0.domain == "linear" }.count == 3)
    #expect(report.countsByReason == [.overTargetShare: 3, .domainNotInTargets: 3])
    #expect(report.keptCount == 6 && report.inputCount == 12)
    // Kept rows stay in their original order.
    let positions = kept.map { k in records.firstIndex { $0.id == k.id }! }
    #expect(positions == positions.sorted())
    // Same seed, same choice.
    #expect(try DomainBalancer(targetRatios: ["addition": 1, "linear": 1], seed: 5).balance(records).kept == kept)
    #expect(report.removals.first { $0.reason == .overTargetShare }?.detail == "domain 'addition' keeps 3 of 6 rows for a 50.0% share")
}

@Test func balancingToUnequalShares() throws {
    // Ratio 2:1 over 6 addition and 3 linear: T = 9, shares 2/3 and 1/3 keep 6 and 3: nothing removed.
    let records = (0..<6).map { row("a\($0)", "addition", [], "1") } + (0..<3).map { row("l\($0)", "linear", [], "1") }
    let (kept, report) = try DomainBalancer(targetRatios: ["addition": 2, "linear": 1]).balance(records)
    #expect(kept.count == 9 && report.removals.isEmpty)
    // Ratio 1:2: T = min(6 / (1/3), 3 / (2/3)) = 4.5: addition keeps 1, linear 3.
    let other = try DomainBalancer(targetRatios: ["addition": 1, "linear": 2]).balance(records)
    #expect(other.kept.filter { $0.domain == "addition" }.count == 1)
    #expect(other.kept.filter { $0.domain == "linear" }.count == 3)
    #expect(throws: DataError.self) { try DomainBalancer(targetRatios: [:]) }
    #expect(throws: DataError.self) { try DomainBalancer(targetRatios: ["addition": 0]) }
}
