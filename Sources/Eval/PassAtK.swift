/// The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", eq. 1):
/// with n samples of which c are correct, pass@k = 1 - C(n-c, k) / C(n, k), the chance that at least one of k
/// samples drawn without replacement from the n is correct.
public enum PassAtK {
    /// pass@k for one problem, computed as 1 - prod_{i = n-c+1}^{n} (1 - k/i), the paper's numerically stable
    /// product form (no binomial coefficient is ever formed, so it holds for any n).
    /// - Precondition: 0 <= c <= n and 1 <= k <= n (the command line checks k against --samples first).
    public static func estimate(samples n: Int, correct c: Int, k: Int) -> Double {
        precondition(n >= 1 && (0...n).contains(c), "pass@k needs 0 <= correct <= samples, got correct \(c) of \(n)")
        precondition((1...n).contains(k), "pass@k needs 1 <= k <= samples, got k \(k) with \(n) samples")
        if c == 0 { return 0 }
        // Fewer than k wrong samples: every draw of k contains a correct one.
        if n - c < k { return 1 }
        // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (i - k) / i
        var allWrong = 1.0
        for i in (n - c + 1)...n { allWrong *= 1 - Double(k) / Double(i) }
        return 1 - allWrong
    }

    /// The suite's pass@k: the mean of the per-problem estimates.
    /// - Parameter correctCounts: c for each problem, each with `samples` samples.
    public static func mean(correctCounts: [Int], samples n: Int, k: Int) -> Double {
        guard !correctCounts.isEmpty else { return 0 }
        return correctCounts.reduce(0.0) { $0 + estimate(samples: n, correct: $1, k: k) } / Double(correctCounts.count)
    }
}
