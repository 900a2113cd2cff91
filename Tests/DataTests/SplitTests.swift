import Data
import Testing

// Disjoint splits by construction, and the loader's check.

@Test func splitMix64MatchesTheReferenceStream() {
    // First outputs of Vigna's splitmix64.c started from x = 0.
    var g = SeededGenerator(seed: 0)
    #expect(g.next() == 0xE220_A839_7B1D_CDAF)
    #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
    #expect(g.next() == 0x06C4_5D18_8009_454F)
}

@Test func seededIntegersStayInRangeAndCoverIt() {
    var g = SeededGenerator(seed: 42)
    var counts = [Int](repeating: 0, count: 7)
    for _ in 0..<70_000 {
        let v = g.integer(in: -3...3)
        counts[v + 3] += 1
    }
    // Each value expected 10,000 times; 5 standard deviations is about +-470.
    #expect(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
    #expect(g.integer(in: 5...5) == 5)
    var h = SeededGenerator(seed: 1)
    _ = h.integer(in: Int.min...Int.max)
}

@Test func splitPlanFractions() throws {
    let plan = SplitPlan.standard
    var counts: [DatasetSplit: Int] = [:]
    for i in 0..<20_000 { counts[plan.split(of: "question number \(i)"), default: 0] += 1 }
    #expect(abs(Double(counts[.train]!) / 20_000 - 0.8) < 0.01)
    #expect(abs(Double(counts[.validation]!) / 20_000 - 0.1) < 0.01)
    #expect(abs(Double(counts[.test]!) / 20_000 - 0.1) < 0.01)
    // Spacing and case do not change a question's split.
    #expect(plan.split(of: "Compute  4821 + 379.") == plan.split(of: "compute 4821 + 379."))
    #expect(throws: DataError.self) { try SplitPlan(trainFraction: 0.8, validationFraction: 0.3) }
    let allTrain = try SplitPlan(trainFraction: 1, validationFraction: 0)
    #expect(allTrain.split(of: "anything") == .train)
}

@Test func generatedSplitsNeverShareAQuestion() throws {
    let domains: [TaskDomain] = [.addition, .linear, .gcd]
    let train = try DatasetGenerator(config: GenerationConfig(domains: domains, count: 600, split: .train, seed: 1, difficulty: 1)).generate()
    let test = try DatasetGenerator(config: GenerationConfig(domains: domains, count: 150, split: .test, seed: 1, difficulty: 1)).generate()
    let validation = try DatasetGenerator(config: GenerationConfig(domains: domains, count: 150, split: .validation, seed: 2, difficulty: 1)).generate()
    let sets = [train, test, validation].map { Set($0.map { StableHash.canonicalQuestion($0.question!) }) }
    #expect(sets[0].count == 600 && sets[1].count == 150 && sets[2].count == 150)   // no repeats inside a split
    #expect(sets[0].isDisjoint(with: sets[1]) && sets[0].isDisjoint(with: sets[2]) && sets[1].isDisjoint(with: sets[2]))
    try SplitPlan.checkDisjoint(train, test)
    // Every row belongs to its split under the plan.
    for r in test { #expect(SplitPlan.standard.split(of: r.question!) == .test) }
}

@Test func loaderChecksTheSplit() throws {
    let test = try DatasetGenerator(config: GenerationConfig(domains: [.addition], count: 20, split: .test, seed: 3)).generate()
    let path = scratchFile("test.jsonl")
    try TraceDataset.write(test, to: path)
    let loaded = try TraceDataset.load(path, split: .test)
    #expect(loaded.records == test)
    #expect(throws: DataError.splitMismatch(file: path, line: 1, id: "add-test-000000", expected: .train, actual: .test)) {
        try TraceDataset.load(path, split: .train)
    }
    // A row without a question cannot be checked.
    let noQuestion = try writeScratch("nq.jsonl", #"{"steps": [], "answer": "1"}"#)
    #expect(throws: DataError.malformedLine(file: noQuestion, line: 1, field: "question",
                                            reason: "missing; a split check needs every row's question")) {
        try TraceDataset.load(noQuestion, split: .test)
    }
}

@Test func overlapBetweenPublishedSetsIsReported() {
    let a = [TraceRecord(question: "What is 2+2?", steps: [], answer: "4"), TraceRecord(question: "Other", steps: [], answer: "1")]
    let b = [TraceRecord(question: "what is  2+2?", steps: [], answer: "4"), TraceRecord(question: "New", steps: [], answer: "1")]
    #expect(throws: DataError.splitOverlap(count: 1, examples: ["what is  2+2?"])) { try SplitPlan.checkDisjoint(a, b) }
}

@Test func generationIsDeterministicAndInterleaved() throws {
    let config = GenerationConfig(domains: [.addition, .linear], count: 5, split: .train, seed: 7)
    let a = try DatasetGenerator(config: config).generate()
    let b = try DatasetGenerator(config: config).generate()
    #expect(a == b)
    #expect(a.map(\.id!) == ["add-train-000000", "lin-train-000000", "add-train-000001", "lin-train-000001", "add-train-000002"])
    #expect(a.allSatisfy { $0.source == "generator" })
    var other = config
    other.seed = 8
    #expect(try DatasetGenerator(config: other).generate() != a)
    // Adding a domain leaves the others' streams alone.
    var more = config
    more.domains = [.addition, .linear, .gcd]
    more.count = 6
    let withGCD = try DatasetGenerator(config: more).generate()
    let additions = a.filter { $0.domain == "addition" }.map(\.question)
    #expect(withGCD.filter { $0.domain == "addition" }.map(\.question) == Array(additions.prefix(2)))
}

@Test func tooFewDistinctQuestionsIsAnError() throws {
    // One-digit sums: 100 questions in all, about 10 of them in test.
    let g = try DatasetGenerator(generators: [AdditionGenerator(digits: 1...1)], count: 50, split: .test, seed: 1)
    #expect {
        try g.generate()
    } throws: { error in
        guard case DataError.notEnoughQuestions(let domain, let split, let requested, let found) = error else { return false }
        return domain == "addition" && split == .test && requested == 50 && found < 50
    }
    #expect(throws: DataError.invalidSetting(setting: "count", reason: "0 must be at least 1")) {
        try DatasetGenerator(config: GenerationConfig(domains: [.addition], count: 0, split: .train, seed: 1))
    }
    #expect(throws: DataError.invalidSetting(setting: "difficulty", reason: "9 must be in 1...5")) {
        try DatasetGenerator(config: GenerationConfig(domains: [.addition], count: 1, split: .train, seed: 1, difficulty: 9))
    }
}
