import Data
import Foundation
import TestSupport
import Testing

// generate-data (issue #27, item 5): rows go to the file as they are made, and a count beyond what the chosen
// domains can write distinctly is refused at once with the number. Each generator's count of distinct
// questions is checked against the questions it actually draws (small knobs, drawn until no new one appears),
// and the counts of the built-in difficulty 1 are worked out by hand.

@Suite("generate-data: streaming and the distinct-question bound")
struct GenerationBoundTests {
    /// The distinct questions (canonical form, as the generator dedupes them) among `draws` draws of `g`.
    private func observed(_ g: any TaskGenerator, draws: Int) -> Int {
        var rng = SeededGenerator(seed: 5, stream: "bound-test")
        var seen = Set<String>()
        for _ in 0..<draws { seen.insert(StableHash.canonicalQuestion(g.generate(using: &rng).question)) }
        return seen.count
    }

    @Test("exact counts equal the questions drawn; upper bounds are not exceeded (small knobs, counted by hand)")
    func countsMatchDraws() {
        // 10 one-digit numbers (0 included), 2 ordered operands: 10 * 10.
        let addition = AdditionGenerator(digits: 1...1, operands: 2)
        #expect(addition.distinctQuestions == 100 && observed(addition, draws: 20_000) == 100)
        // Unordered pairs of 10 numbers, equal ones included: 10 * 11 / 2.
        let subtraction = SubtractionGenerator(digits: 1...1)
        #expect(subtraction.distinctQuestions == 55 && observed(subtraction, draws: 20_000) == 55)
        // 10 first factors times 1...9 (a drawn 0 is redrawn from 1...9): 10 * 9.
        let multiplication = MultiplicationGenerator(firstDigits: 1...1, secondDigits: 1...1)
        #expect(multiplication.distinctQuestions == 90 && observed(multiplication, draws: 20_000) == 90)
        // Coefficients +-2, +-3 (4), constants +-1, +-2 (4), solutions -2...2 (5): 4 * 4 * 5.
        let linear = LinearEquationGenerator(coefficients: 2...3, solutionMagnitude: 2, constants: 1...2)
        #expect(linear.distinctQuestions == 80 && observed(linear, draws: 20_000) == 80)
        // Bases 2...4 (3), exponents 2...3 (2), moduli 3...5 (3): 3 * 2 * 3.
        let modular = ModularPowerGenerator(bases: 2...4, exponents: 2...3, moduli: 3...5)
        #expect(modular.distinctQuestions == 18 && observed(modular, draws: 5_000) == 18)
        // One product: 8 first factors (2...9) times 1...9 (0 becomes 1): 72; two products 72^2; 72 + 5184.
        let parity = ParityGenerator(terms: 1...2, valueDigits: 1...1)
        #expect(parity.distinctQuestions == 5_256 && observed(parity, draws: 400_000) == 5_256)
        // Upper bounds: unordered pairs of 1...12 (a number below the shared factor k <= 12 becomes k): 12 * 13 / 2;
        // 2 divisors times 1...9: 18.
        let gcd = GCDGenerator(digits: 1...1)
        #expect(gcd.distinctQuestions == 78 && observed(gcd, draws: 20_000) <= 78)
        let divisibility = DivisibilityGenerator(digits: 1...1, divisors: [2, 3])
        #expect(divisibility.distinctQuestions == 18 && observed(divisibility, draws: 20_000) <= 18)
        // Difficulty 5 does not fit Int64 for addition (3 operands of 6-7 digits: 9,900,000^3): saturated.
        #expect(TaskDomain.addition.generator(difficulty: 5).distinctQuestions == Int.max)
    }

    @Test("a count beyond the distinct questions is refused with the largest allowed count, before any row is made")
    func refusesBeyondDistinct() throws {
        // Modular at difficulty 1: bases 2...10 (9), exponents 2...8 (7), moduli 3...20 (18): 1,134 questions.
        #expect(TaskDomain.modular.generator(difficulty: 1).distinctQuestions == 1_134)
        let one = GenerationConfig(domains: [.modular], count: 1_134, split: .train, seed: 1)
        #expect(try DatasetGenerator(config: one).maximumCount == 1_134)
        var over = one
        over.count = 1_135
        #expect(throws: DataError.beyondDistinctQuestions(domain: "modular", requested: 1_135, distinct: 1_134, maximumCount: 1_134,
                                                          split: .train, splitShare: 0.8)) {
            try DatasetGenerator(config: over)
        }
        // Addition (980,100 at difficulty 1: 990 numbers of 2-3 digits, squared) before modular takes the odd row:
        // 2 * 1,134 + 1; modular first cannot.
        #expect(TaskDomain.addition.generator(difficulty: 1).distinctQuestions == 980_100)
        #expect(try DatasetGenerator(config: GenerationConfig(domains: [.addition, .modular], count: 2, split: .train, seed: 1)).maximumCount == 2_269)
        #expect(try DatasetGenerator(config: GenerationConfig(domains: [.modular, .addition], count: 2, split: .train, seed: 1)).maximumCount == 2_268)
        #expect(throws: DataError.self) {
            try DatasetGenerator(config: GenerationConfig(domains: [.addition, .modular], count: 2_270, split: .train, seed: 1))
        }
        _ = try DatasetGenerator(config: GenerationConfig(domains: [.addition, .modular], count: 2_269, split: .train, seed: 1))
    }

    @Test("rows are handed over as they are made: a consumer that stops after 10 rows of a million stops the generator")
    func streams() throws {
        let g = try DatasetGenerator(config: GenerationConfig(domains: [.addition, .gcd], count: 1_000_000, split: .train, seed: 3, difficulty: 5))
        struct Enough: Error {}
        var received: [TraceRecord] = []
        let start = Date()
        #expect(throws: Enough.self) {
            try g.generate { row in
                received.append(row)
                if received.count == 10 { throw Enough() }
            }
        }
        #expect(received.count == 10 && Date().timeIntervalSince(start) < 5)
        // The same rows, in the same order, as the collected form (domains interleaved).
        let small = try DatasetGenerator(config: GenerationConfig(domains: [.addition, .gcd], count: 10, split: .train, seed: 3, difficulty: 5))
        #expect(received.map(\.question) == (try small.generate()).map(\.question))
        #expect(received.map(\.domain) == ["addition", "gcd", "addition", "gcd", "addition", "gcd", "addition", "gcd", "addition", "gcd"])
    }

    private func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("td-bound-\(getpid())-\(UUID().uuidString)-\(name)").path
    }

    @Test("distill generate-data --count 1000000000000 is refused at once with the largest count; nothing is written")
    func cliRefusesHugeCount() throws {
        guard let distill = requireDistill() else { return }
        let out = temporaryPath("huge.jsonl")
        let start = Date()
        let r = try runDistill(distill, ["generate-data", "--domain", "all", "--count", "1000000000000", "--out", out])
        #expect(!r.succeeded && Date().timeIntervalSince(start) < 30)
        // Difficulty 1 (the default): modular's 1,134 questions are the fewest; the 5 domains before it
        // (addition 980,100, subtraction 490,545, multiplication 8,910, linear 1,760, gcd at most 499,500) take
        // one more each: 8 * 1,134 + 5.
        #expect(r.stderr.contains("the largest count these domains allow is 9077"), "\(r.stderr)")
        #expect(r.stderr.contains("modular") && r.stderr.contains("1134 distinct"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // 9,078 would ask modular for 1,135: refused. 9,077 passes the bound (1,135 rows for each of the first five
        // domains, 1,134 for the last three); the train split holds only 891 of modular's 1,134 questions, so it then
        // stops short while generating, and writes nothing.
        let over = try runDistill(distill, ["generate-data", "--domain", "all", "--count", "9078", "--out", out])
        #expect(!over.succeeded && over.stderr.contains("1135 rows of modular"), "\(over)")
        let near = try runDistill(distill, ["generate-data", "--domain", "all", "--count", "9077", "--out", out])
        #expect(!near.succeeded && !near.stderr.contains("largest count") && near.stderr.contains("found only 891 distinct train questions"), "\(near)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // Well inside the bound: 10 rows per domain, every domain named with its count.
        let ok = try runDistill(distill, ["generate-data", "--domain", "all", "--count", "80", "--out", out])
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(ok.succeeded && ok.stdout.contains("addition 10") && ok.stdout.contains("parity 10"), "\(ok)")
        #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count == 80)
    }

    @Test("a generation that fails midway leaves the old file as it was and no partial file")
    func failureLeavesOldFile() throws {
        guard let distill = requireDistill() else { return }
        let folder = temporaryPath("folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let out = folder + "/rows.jsonl"
        try "old\n".write(toFile: out, atomically: true, encoding: .utf8)
        // All 1,134 modular questions fit the bound, but only about a tenth of them are in test.
        let r = try runDistill(distill, ["generate-data", "--domain", "modular", "--count", "1134", "--split", "test", "--out", out])
        #expect(!r.succeeded && r.stderr.contains("found only"), "\(r)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "old\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["rows.jsonl"])
    }
}
