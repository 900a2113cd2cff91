import Eval
import Foundation
import Testing

// pass@k against values computed by hand from 1 - C(n-c, k) / C(n, k), and against an independent
// log-gamma form for large n where the binomials overflow.

/// C(n, k) exactly for small n.
private func binomial(_ n: Int, _ k: Int) -> Double {
    guard k >= 0, k <= n else { return 0 }
    var r = 1.0
    for i in 0..<k { r = r * Double(n - i) / Double(i + 1) }
    return r
}

@Test("pass@k equals hand-computed values", arguments: [
    // (n, c, k, expected): worked by hand
    (5, 2, 1, 0.4),                 // c/n
    (5, 2, 2, 0.7),                 // 1 - C(3,2)/C(5,2) = 1 - 3/10
    (10, 3, 5, 1 - 21.0 / 252),     // 1 - C(7,5)/C(10,5)
    (4, 1, 2, 0.5),                 // 1 - C(3,2)/C(4,2) = 1 - 3/6
    (8, 0, 3, 0),                   // nothing correct
    (8, 8, 1, 1),                   // everything correct
    (4, 2, 3, 1),                   // n - c < k: every 3 of 4 includes a correct one
    (6, 1, 6, 1),                   // k = n with one correct sample
    (1, 0, 1, 0), (1, 1, 1, 1),     // a single sample
    (20, 5, 10, 1 - 3003.0 / 184_756),  // 1 - C(15,10)/C(20,10)
] as [(Int, Int, Int, Double)])
func passAtKHandValues(n: Int, c: Int, k: Int, expected: Double) {
    let value = PassAtK.estimate(samples: n, correct: c, k: k)
    #expect(abs(value - expected) < 1e-12, "pass@\(k) with n \(n), c \(c): \(value), expected \(expected)")
}

@Test func passAtKMatchesBinomialsAndLogGamma() {
    // Every (n, c, k) for n up to 12 against the binomial ratio computed directly.
    for n in 1...12 {
        for c in 0...n {
            for k in 1...n {
                let direct = 1 - binomial(n - c, k) / binomial(n, k)
                #expect(abs(PassAtK.estimate(samples: n, correct: c, k: k) - direct) < 1e-12, "n \(n) c \(c) k \(k)")
            }
        }
    }
    // Large n (binomials near 1e58): compare with exp of log-gamma differences.
    for (n, c, k) in [(200, 37, 100), (500, 3, 250), (1000, 999, 1), (300, 150, 149)] {
        let logRatio = lgamma(Double(n - c + 1)) - lgamma(Double(n - c - k + 1)) - lgamma(Double(n + 1)) + lgamma(Double(n - k + 1))
        let expected = 1 - exp(logRatio)
        let value = PassAtK.estimate(samples: n, correct: c, k: k)
        #expect(value.isFinite && abs(value - expected) < 1e-9, "n \(n) c \(c) k \(k): \(value) vs \(expected)")
    }
}

@Test func passAtKIsMonotoneAndAveraged() {
    // More correct samples or a larger k never lowers pass@k.
    for c in 0..<10 { #expect(PassAtK.estimate(samples: 10, correct: c + 1, k: 3) >= PassAtK.estimate(samples: 10, correct: c, k: 3)) }
    for k in 1..<10 { #expect(PassAtK.estimate(samples: 10, correct: 2, k: k + 1) >= PassAtK.estimate(samples: 10, correct: 2, k: k)) }
    // The suite value is the mean over problems: (0.4 + 0.7 + 1) / 3 at n 5, k 2 for c = 1, 2, 5 ... by hand:
    // c 1: 1 - C(4,2)/C(5,2) = 0.4; c 2: 0.7; c 5: 1.
    #expect(abs(PassAtK.mean(correctCounts: [1, 2, 5], samples: 5, k: 2) - 2.1 / 3) < 1e-12)
    #expect(PassAtK.mean(correctCounts: [], samples: 5, k: 2) == 0)
}
