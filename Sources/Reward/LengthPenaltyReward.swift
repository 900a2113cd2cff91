/// Length penalty: DAPO's soft overlong punishment (Yu et al. 2025, eq. 13), measured in characters (one
/// token each for the math tokenizer).
///
/// With L the trace length, M = `maxLength` and B = `bufferLength`: 0 when L <= M - B, (M - B - L) / B when
/// M - B < L <= M (falling linearly to -1), and -1 beyond M. The penalty sits on the last line.
public struct LengthPenaltyReward: RewardFunction {
    /// Component name: `length`.
    public let name = "length"
    /// The length at which the penalty reaches -1.
    public var maxLength: Int
    /// How far below `maxLength` the penalty starts.
    public var bufferLength: Int

    /// A length penalty starting at `maxLength - bufferLength` characters.
    /// - Precondition: `0 < bufferLength <= maxLength` (`RewardConfig` checks user settings with a message).
    public init(maxLength: Int = 512, bufferLength: Int = 128) {
        precondition(bufferLength > 0 && bufferLength <= maxLength,
                     "LengthPenaltyReward: need 0 < bufferLength (\(bufferLength)) <= maxLength (\(maxLength))")
        self.maxLength = maxLength
        self.bufferLength = bufferLength
    }

    /// Judges one trace (see the type's summary for the rule and the per-line placement).
    public func evaluate(_ input: RewardInput) -> RewardResult {
        result(penalty(length: input.trace.text.trimmingWhitespace().text.count), onLastLineOf: input.trace)
    }

    /// The penalty for a trace of `length` characters.
    public func penalty(length: Int) -> Double {
        let start = maxLength - bufferLength
        if length <= start { return 0 }
        if length > maxLength { return -1 }
        return Double(start - length) / Double(bufferLength)
    }
}
