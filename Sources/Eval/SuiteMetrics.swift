/// Trace metrics over a set of scored problems (a whole suite or one domain of it).
///
/// Rates over problems count every problem, unattempted ones as wrong; means of steps and tokens are over
/// attempted problems; step validity is pooled over all claims (micro-average: claims that verify / claims).
public struct SuiteMetrics: Sendable, Equatable {
    /// How many rows had their first invalid step at each index.
    public struct StepCount: Sendable, Equatable {
        /// The 0-based step index.
        public var step: Int
        /// Rows whose first invalid step is `step`.
        public var rows: Int

        /// `rows` rows first failed at `step`.
        public init(step: Int, rows: Int) {
            self.step = step
            self.rows = rows
        }
    }

    /// Problems scored.
    public var problems: Int
    /// Problems the model was run on (see `TraceScore.notAttempted`).
    public var attempted: Int
    /// Traces with an `answer:` line.
    public var answered: Int
    /// Traces that ended at a stop token (the rest hit the token limit or the context end).
    public var finished: Int
    /// Correct final answers / problems.
    public var accuracy: Double
    /// Claims found in all steps.
    public var claims: Int
    /// Claims that verify.
    public var validClaims: Int
    /// validClaims / claims; nil when no claim was made.
    public var stepValidity: Double?
    /// Rows with at least one claim and no failing claim, / problems.
    public var fullyVerifiedRate: Double
    /// Rows with a failing claim.
    public var rowsWithInvalidStep: Int
    /// Mean 0-based index of the first invalid step over rows that have one; nil when none has.
    public var firstInvalidStepMean: Double?
    /// Median of the same.
    public var firstInvalidStepMedian: Double?
    /// The distribution of the first invalid step, ascending by step.
    public var firstInvalidStepCounts: [StepCount]
    /// Mean step F1 with the reference over problems whose reference has steps; nil when none has.
    public var stepF1: Double?
    /// Mean steps per attempted answer.
    public var meanSteps: Double
    /// Mean generated tokens per attempted answer.
    public var meanTokens: Double

    /// Aggregates `scores`.
    public init(_ scores: [TraceScore]) {
        let attemptedScores = scores.filter { $0.notAttempted == nil }
        problems = scores.count
        attempted = attemptedScores.count
        answered = scores.filter { $0.answer != nil }.count
        finished = scores.filter(\.finished).count
        accuracy = Statistics.fraction(scores.filter(\.correct).count, of: scores.count)
        claims = scores.reduce(0) { $0 + $1.claimCount }
        validClaims = scores.reduce(0) { $0 + $1.validClaimCount }
        stepValidity = claims > 0 ? Double(validClaims) / Double(claims) : nil
        fullyVerifiedRate = Statistics.fraction(scores.filter(\.fullyVerified).count, of: scores.count)
        let firsts = scores.compactMap(\.firstInvalidStep)
        rowsWithInvalidStep = firsts.count
        firstInvalidStepMean = firsts.isEmpty ? nil : Statistics.mean(firsts.map(Double.init))
        firstInvalidStepMedian = firsts.isEmpty ? nil : Statistics.quantile(firsts.map(Double.init), 0.5)
        firstInvalidStepCounts = Dictionary(grouping: firsts, by: { $0 }).map { StepCount(step: $0.key, rows: $0.value.count) }
            .sorted { $0.step < $1.step }
        let f1 = scores.compactMap(\.stepF1)
        stepF1 = f1.isEmpty ? nil : Statistics.mean(f1)
        meanSteps = Statistics.mean(attemptedScores.map { Double($0.stepCount) })
        meanTokens = Statistics.mean(attemptedScores.map { Double($0.tokenCount) })
    }
}

/// Small statistics helpers for reports.
enum Statistics {
    /// `part / whole`, 0 for an empty whole.
    static func fraction(_ part: Int, of whole: Int) -> Double { whole > 0 ? Double(part) / Double(whole) : 0 }

    /// The mean, 0 for no values.
    static func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

    /// The q-quantile by linear interpolation between order statistics (numpy's default, "type 7"), so the
    /// median of an even count is the mean of the middle two. 0 for no values.
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
    }
}
