import Foundation

/// Advantage estimators over per-token arrays laid out (B, T) row-major with a 0/1 mask.
///
/// The mask marks the completion tokens a policy chose; prompt positions and right padding are 0. Masked
/// positions are treated as absent: they get advantage 0 and the recursion links the valid tokens on
/// either side of them, so a row's completion is one episode that ends (bootstrap value 0) after its last
/// valid token. A completion cut off by `maxNewTokens` is treated as terminal too, as TRL does.
public enum Advantages {
    /// Generalized advantage estimation (Schulman et al. 2016, "High-Dimensional Continuous Control Using GAE").
    ///
    /// delta_t = r_t + gamma V_{t+1} - V_t; A_t = delta_t + gamma lambda A_{t+1}; returns R_t = A_t + V_t.
    /// - Parameters:
    ///   - rewards, values, mask: (B, T) each.
    ///   - gamma: discount; lambda: the bias/variance trade-off of GAE.
    /// - Returns: advantages and returns, (B, T), 0 where the mask is 0.
    public static func gae(rewards: [Float], values: [Float], mask: [Float], batch b: Int, length t: Int,
                           gamma: Float, lambda: Float) -> (advantages: [Float], returns: [Float]) {
        precondition(rewards.count == b * t && values.count == b * t && mask.count == b * t,
                     "gae: rewards \(rewards.count), values \(values.count), mask \(mask.count) for (B \(b), T \(t))")
        var adv = [Float](repeating: 0, count: b * t), ret = [Float](repeating: 0, count: b * t)
        for row in 0..<b {
            var nextValue: Float = 0, last: Float = 0
            for i in stride(from: row * t + t - 1, through: row * t, by: -1) where mask[i] != 0 {
                let delta = rewards[i] + gamma * nextValue - values[i]
                last = delta + gamma * lambda * last
                adv[i] = last
                ret[i] = last + values[i]
                nextValue = values[i]
            }
        }
        return (adv, ret)
    }

    /// Whitening: (x - mean) / (std + 1e-8) over the masked entries (std with Bessel's correction, as
    /// `torch.std` in the PyTorch anchor and TRL's `masked_whiten`); masked-out entries become 0.
    /// With `shiftMean` false the mean is added back (only the scale is normalised).
    public static func whiten(_ x: [Float], mask: [Float], shiftMean: Bool = true) -> [Float] {
        precondition(x.count == mask.count, "whiten: \(x.count) values for \(mask.count) mask entries")
        let (mean, variance, n) = maskedMoments(x, mask: mask)
        guard n > 0 else { return [Float](repeating: 0, count: x.count) }
        let inv = 1 / (variance.squareRoot() + 1e-8)
        return x.indices.map { i in
            guard mask[i] != 0 else { return 0 }
            let w = (Double(x[i]) - mean) * inv
            return Float(shiftMean ? w : w + mean)
        }
    }

    /// Mean, unbiased variance (0 when fewer than two entries) and count of the masked entries, in Double.
    public static func maskedMoments(_ x: [Float], mask: [Float]) -> (mean: Double, variance: Double, count: Int) {
        var n = 0, s = 0.0
        for i in x.indices where mask[i] != 0 { n += 1; s += Double(x[i]) }
        guard n > 0 else { return (0, 0, 0) }
        let mean = s / Double(n)
        var ss = 0.0
        for i in x.indices where mask[i] != 0 { let d = Double(x[i]) - mean; ss += d * d }
        return (mean, n > 1 ? ss / Double(n - 1) : 0, n)
    }

    /// GRPO group-relative advantages (Shao et al. 2024, DeepSeekMath) for consecutive groups of `groupSize`
    /// scores (one score per sampled completion, no critic): r - mean_group, divided by std_group + eps
    /// (`.group`), by the std of all the scores + eps (`.batch`), or by nothing (`.none`, Dr. GRPO).
    /// std uses Bessel's correction and eps is 1e-4, as TRL's GRPOTrainer.
    public static func groupRelative(scores: [Float], groupSize g: Int, scale: RewardScaling = .group, epsilon: Float = 1e-4) -> [Float] {
        precondition(g >= 1 && scores.count % g == 0, "groupRelative: \(scores.count) scores do not split into groups of \(g)")
        let ones = [Float](repeating: 1, count: g)
        let batchStd = scale == .batch ? maskedMoments(scores, mask: [Float](repeating: 1, count: scores.count)).variance.squareRoot() : 0
        var out = [Float](repeating: 0, count: scores.count)
        for start in stride(from: 0, to: scores.count, by: g) {
            let group = Array(scores[start..<(start + g)])
            let (mean, variance, _) = maskedMoments(group, mask: ones)
            let divisor: Double
            switch scale {
            case .group: divisor = variance.squareRoot() + Double(epsilon)
            case .batch: divisor = batchStd + Double(epsilon)
            case .none: divisor = 1
            }
            for j in 0..<g { out[start + j] = Float((Double(group[j]) - mean) / divisor) }
        }
        return out
    }

    /// The share of `advantages` (one per row, summed as |A|) that falls on groups of `groupSize` consecutive rows
    /// whose answers disagree (some of `correct` true, some false); NaN when every advantage is 0.
    public static func mixedGroupShare(advantages: [Float], correct: [Bool], groupSize g: Int) -> Double {
        precondition(g >= 1 && advantages.count == correct.count && advantages.count % g == 0,
                     "mixedGroupShare: \(advantages.count) advantages, \(correct.count) verdicts, groups of \(g)")
        var mixed = 0.0, all = 0.0
        for start in stride(from: 0, to: advantages.count, by: g) {
            let size = advantages[start ..< start + g].reduce(0.0) { $0 + Double(abs($1)) }
            all += size
            if GroupFilter.answer.keeps(correct: Array(correct[start ..< start + g])) { mixed += size }
        }
        return all > 0 ? mixed / all : .nan
    }

    /// On-policy distillation's per-token advantage added to GRPO's (`teacher_advantage_coefficient` c, discount 0, as
    /// verl's PG-OPD): each masked token of a row that `rows` picks gets c (teacherLogProbs - logProbs) more, the
    /// log-probs those of sampling time (no gradient flows through them). In a group of `groupSize` consecutive rows
    /// whose answers are all wrong, every row gets the term and nothing else: its group-relative advantages, which can
    /// only come from the other reward terms' spread there, become 0 first.
    /// - Parameters: advantages, teacherLogProbs, logProbs, mask: (B, T) each; correct: one answer verdict per row.
    public static func addingTeacherTerm(_ advantages: [Float], teacherLogProbs: [Float], logProbs: [Float], mask: [Float],
                                         correct: [Bool], groupSize g: Int, coefficient c: Float, rows: TeacherAdvantageRows) -> [Float] {
        let b = correct.count
        precondition(g >= 1 && b % g == 0 && b > 0 && advantages.count % b == 0
                        && [teacherLogProbs.count, logProbs.count, mask.count].allSatisfy { $0 == advantages.count },
                     "addingTeacherTerm: \(advantages.count) advantages, \(teacherLogProbs.count) / \(logProbs.count) log-probs, "
                        + "\(mask.count) mask entries for \(b) rows in groups of \(g)")
        let t = advantages.count / b
        var out = advantages
        for start in stride(from: 0, to: b, by: g) {
            let allWrong = !correct[start ..< start + g].contains(true)
            for row in start ..< start + g where allWrong || rows == .all || !correct[row] {
                for i in row * t ..< (row + 1) * t where mask[i] != 0 {
                    out[i] = (allWrong ? 0 : out[i]) + c * (teacherLogProbs[i] - logProbs[i])
                }
            }
        }
        return out
    }

    /// Spreads one value per row over that row's masked tokens: (B) -> (B, T), 0 off the mask.
    public static func broadcast(perRow values: [Float], mask: [Float], length t: Int) -> [Float] {
        precondition(mask.count == values.count * t, "broadcast: \(values.count) rows x \(t) != mask \(mask.count)")
        return mask.indices.map { mask[$0] != 0 ? values[$0 / t] : 0 }
    }

    /// 1 - Var(returns - values) / Var(returns) over the masked entries: how much of the return's variance
    /// the critic explains (1 perfect, 0 no better than a constant, negative worse). NaN when Var(returns) is 0.
    public static func explainedVariance(values: [Float], returns: [Float], mask: [Float]) -> Double {
        let residual = zip(returns, values).map { $0 - $1 }
        let vr = maskedMoments(returns, mask: mask).variance
        guard vr > 0 else { return .nan }
        return 1 - maskedMoments(residual, mask: mask).variance / vr
    }
}
