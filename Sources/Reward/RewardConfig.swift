/// The settings of the built-in composite reward: a weight per reward and each reward's parameters.
///
/// JSON (or YAML through any `Decoder`) keys are snake_case; omitted keys keep their defaults, and `weights`
/// merges over the default weights (set a weight to 0 to turn a reward off). Unknown keys are an error.
/// ```json
/// {"weights": {"answer": 1, "step_validity": 0.5, "teacher_agreement": 0.25, "format": 0.1, "length": 0.1},
///  "first_invalid_penalty": 0.5, "no_claim_score": 0, "answer_format_weight": 0.5,
///  "max_step_characters": 200, "max_length": 512, "length_buffer": 128}
/// ```
public struct RewardConfig: Codable, Sendable, Equatable {
    /// The names `weights` may use, in the order the composite reports them.
    public static let rewardNames = ["answer", "step_validity", "teacher_agreement", "format", "length"]

    /// Weight per reward name.
    public var weights: [String: Double] = ["answer": 1, "step_validity": 0.5, "teacher_agreement": 0.25,
                                            "format": 0.1, "length": 0.1]
    /// `StepValidityReward.firstInvalidPenalty`.
    public var firstInvalidPenalty = 0.5
    /// `StepValidityReward.noClaimScore`.
    public var noClaimScore = 0.0
    /// `FormatReward.answerWeight`.
    public var answerFormatWeight = 0.5
    /// `FormatReward.maxStepCharacters`.
    public var maxStepCharacters = 200
    /// `LengthPenaltyReward.maxLength` (characters).
    public var maxLength = 512
    /// `LengthPenaltyReward.bufferLength` (characters).
    public var lengthBuffer = 128

    /// The default settings.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case weights
        case firstInvalidPenalty = "first_invalid_penalty"
        case noClaimScore = "no_claim_score"
        case answerFormatWeight = "answer_format_weight"
        case maxStepCharacters = "max_step_characters"
        case maxLength = "max_length"
        case lengthBuffer = "length_buffer"
    }

    /// Any key, so unknown ones can be listed instead of silently ignored.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes with every check of `validate()`; errors are `RewardConfigError`s naming the key.
    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self)
        let known = CodingKeys.allCases.map(\.rawValue)
        for key in keys.allKeys where !known.contains(key.stringValue) {
            throw RewardConfigError.unknownKey(key.stringValue, known: known)
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // null would silently mean the default: refuse it and say how to get the default.
        for key in CodingKeys.allCases where c.contains(key) && ((try? c.decodeNil(forKey: key)) ?? false) {
            throw RewardConfigError.invalidValue(key: key.rawValue, reason: "is null; a key without a value is not read as its default: delete the line to get the default, or give a value")
        }
        func value<T: Decodable>(_ key: CodingKeys, _ type: T.Type, _ expected: String) throws -> T? {
            do { return try c.decodeIfPresent(type, forKey: key) } catch {
                throw RewardConfigError.invalidValue(key: key.rawValue, reason: "expected \(expected)")
            }
        }
        if let w = try value(.weights, [String: Double].self, "an object of reward name to number") {
            for (name, weight) in w {
                guard Self.rewardNames.contains(name) else {
                    throw RewardConfigError.unknownKey("weights.\(name)", known: Self.rewardNames.map { "weights.\($0)" })
                }
                weights[name] = weight
            }
        }
        if let v = try value(.firstInvalidPenalty, Double.self, "a number") { firstInvalidPenalty = v }
        if let v = try value(.noClaimScore, Double.self, "a number") { noClaimScore = v }
        if let v = try value(.answerFormatWeight, Double.self, "a number") { answerFormatWeight = v }
        if let v = try value(.maxStepCharacters, Int.self, "an integer") { maxStepCharacters = v }
        if let v = try value(.maxLength, Int.self, "an integer") { maxLength = v }
        if let v = try value(.lengthBuffer, Int.self, "an integer") { lengthBuffer = v }
        try validate()
    }

    /// Checks every setting and their combinations.
    /// - Throws: `RewardConfigError.invalidValue` naming the key and how to fix it.
    public func validate() throws {
        for name in Self.rewardNames {
            let w = weights[name] ?? 0
            guard w.isFinite else { throw RewardConfigError.invalidValue(key: "weights.\(name)", reason: "must be a finite number, got \(w)") }
        }
        guard weights.values.contains(where: { $0 != 0 }) else {
            throw RewardConfigError.invalidValue(key: "weights", reason: "every weight is 0; give at least one reward a nonzero weight")
        }
        guard firstInvalidPenalty.isFinite, firstInvalidPenalty >= 0 else {
            throw RewardConfigError.invalidValue(key: "first_invalid_penalty", reason: "must be a finite number >= 0, got \(firstInvalidPenalty)")
        }
        guard noClaimScore.isFinite else {
            throw RewardConfigError.invalidValue(key: "no_claim_score", reason: "must be a finite number, got \(noClaimScore)")
        }
        guard answerFormatWeight.isFinite, (0...1).contains(answerFormatWeight) else {
            throw RewardConfigError.invalidValue(key: "answer_format_weight", reason: "must be in [0, 1], got \(answerFormatWeight)")
        }
        guard maxStepCharacters > 0 else {
            throw RewardConfigError.invalidValue(key: "max_step_characters", reason: "must be > 0, got \(maxStepCharacters)")
        }
        guard lengthBuffer > 0, lengthBuffer <= maxLength else {
            throw RewardConfigError.invalidValue(key: "length_buffer",
                                                 reason: "must be in 1...max_length (\(maxLength)), got \(lengthBuffer); raise max_length or lower length_buffer")
        }
    }
}
