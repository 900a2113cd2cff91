import Data
import Testing

// data.domain_shares: a generated dataset split across domains by relative shares instead of evenly, every prefix of
// the rows keeping the mix (the first rows are the reference traces and a teacher-traces limit reads a prefix).

@Suite("generated rows shared across domains by weight")
struct DomainSharesTests {
    @Test("the count is split by the shares, leftovers to the largest fractions (worked out by hand)")
    func apportion() {
        // 10 by 2:2:1 is 4, 4, 2 exactly
        #expect(DatasetGenerator.apportion(10, [0.4, 0.4, 0.2], 3) == [4, 4, 2])
        // 11 by 2:2:1 is 4.4, 4.4, 2.2: floors 4, 4, 2 and the one left to the first of the two .4 fractions
        #expect(DatasetGenerator.apportion(11, [0.4, 0.4, 0.2], 3) == [5, 4, 2])
        // 13 by 2:2:1 is 5.2, 5.2, 2.6: floors 5, 5, 2 and the one left to the .6
        #expect(DatasetGenerator.apportion(13, [0.4, 0.4, 0.2], 3) == [5, 5, 3])
        // 14 by 2:2:1 is 5.6, 5.6, 2.8: floors 5, 5, 2 and the two left to .8, then the first .6
        #expect(DatasetGenerator.apportion(14, [0.4, 0.4, 0.2], 3) == [6, 5, 3])
        // without shares: even, the first domains taking the remainder
        #expect(DatasetGenerator.apportion(11, nil, 3) == [4, 4, 3])
    }

    @Test("rows follow the shares in every prefix, and each domain's rows are those its own stream gives")
    func generation() throws {
        let domains: [TaskDomain] = [.addition, .subtraction, .divisibility]
        let shared = try DatasetGenerator(config: GenerationConfig(domains: domains, count: 50, split: .train, seed: 4,
                                                                   shares: [2, 2, 1])).generate()
        let counts = Dictionary(grouping: shared, by: { $0.domain ?? "" }).mapValues(\.count)
        #expect(counts == ["addition": 20, "subtraction": 20, "divisibility": 10])
        // every prefix of n rows holds each domain's share of n within one row
        for n in 1...shared.count {
            let prefix = shared.prefix(n)
            for (domain, share) in zip(domains, [0.4, 0.4, 0.2]) {
                let have = Double(prefix.filter { $0.domain == domain.rawValue }.count)
                #expect(abs(have - share * Double(n)) <= 1, "\(domain) in the first \(n) rows: \(have)")
            }
        }
        // the mix changes the order only: each domain's questions are the first of its stream in an even generation
        let even = try DatasetGenerator(config: GenerationConfig(domains: domains, count: 60, split: .train, seed: 4)).generate()
        for domain in domains {
            let mine = shared.filter { $0.domain == domain.rawValue }.map(\.question)
            #expect(mine == Array(even.filter { $0.domain == domain.rawValue }.map(\.question).prefix(mine.count)))
        }
        // shares that are all equal give the even split's rows (the same multiset per domain)
        let equal = try DatasetGenerator(config: GenerationConfig(domains: domains, count: 60, split: .train, seed: 4,
                                                                  shares: [1, 1, 1])).generate()
        #expect(equal.compactMap(\.question).sorted() == even.compactMap(\.question).sorted())
    }

    @Test("the largest count follows the shares: modular's 1,134 questions at a quarter allow 4,537 rows")
    func largestCount() throws {
        // 4,537 by 1:3 is 1,134.25 and 3,402.75: floors 1,134 and 3,402, the row left to the .75; 4,538 is 1,134.5 and
        // 3,403.5, and the row left goes to the first of the tied fractions, modular's 1,135th question
        let config = GenerationConfig(domains: [.modular, .addition], count: 4_537, split: .train, seed: 1, shares: [1, 3])
        #expect(try DatasetGenerator(config: config).maximumCount == 4_537)
        var over = config
        over.count = 4_538
        #expect(throws: DataError.beyondDistinctQuestions(domain: "modular", requested: 1_135, distinct: 1_134, maximumCount: 4_537,
                                                          split: .train, splitShare: 0.8)) {
            try DatasetGenerator(config: over)
        }
    }

    @Test("shares that are not one positive number per domain are refused, naming the setting")
    func refused() {
        for shares in [[1.0, 2.0], [1, 0, 1], [1, -1, 1], [1, .nan, 1], [1, .infinity, 1]] {
            do {
                _ = try DatasetGenerator(config: GenerationConfig(domains: [.addition, .subtraction, .gcd], count: 9, split: .train,
                                                                  seed: 1, shares: shares))
                Issue.record("\(shares) was accepted")
            } catch let DataError.invalidSetting(setting, reason) {
                #expect(setting == "shares" && reason.contains(shares.count == 3 ? "positive" : "2 shares for 3 domains"), "\(reason)")
            } catch { Issue.record("\(error)") }
        }
    }
}
