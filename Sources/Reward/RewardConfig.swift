import StrictConfig

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

    /// Every field, each with its default; `weights` merges over the default weights, as in a file.
    public init(weights: [String: Double] = [:], firstInvalidPenalty: Double = 0.5, noClaimScore: Double = 0, answerFormatWeight: Double = 0.5,
                maxStepCharacters: Int = 200, maxLength: Int = 512, lengthBuffer: Int = 128) {
        self.weights.merge(weights) { $1 }
        self.firstInvalidPenalty = firstInvalidPenalty
        self.noClaimScore = noClaimScore
        self.answerFormatWeight = answerFormatWeight
        self.maxStepCharacters = maxStepCharacters
        self.maxLength = maxLength
        self.lengthBuffer = lengthBuffer
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case weights
        case firstInvalidPenalty = "first_invalid_penalty"
        case noClaimScore = "no_claim_score"
        case answerFormatWeight = "answer_format_weight"
        case maxStepCharacters = "max_step_characters"
        case maxLength = "max_length"
        case lengthBuffer = "length_buffer"
    }

    /// Decodes with every check of `validate()` through the strict layer; errors are `RewardConfigError`s naming the key.
    public init(from decoder: Decoder) throws {
        do {
            let c = try StrictContainer(decoder, known: CodingKeys.allCases.map(\.rawValue))
            if let w = try c.value("weights", [String: Double].self, expected: "an object of reward name to number") {
                for (name, weight) in w {
                    guard Self.rewardNames.contains(name) else {
                        throw ConfigIssue(path: c.codingPath + [ConfigKey("weights"), ConfigKey(name)],
                                          .unknownKey(known: Self.rewardNames.map { "weights.\($0)" }))
                    }
                    weights[name] = weight
                }
            }
            firstInvalidPenalty = try c.value("first_invalid_penalty", Double.self, expected: "a number") ?? firstInvalidPenalty
            noClaimScore = try c.value("no_claim_score", Double.self, expected: "a number") ?? noClaimScore
            answerFormatWeight = try c.value("answer_format_weight", Double.self, expected: "a number") ?? answerFormatWeight
            maxStepCharacters = try c.value("max_step_characters", Int.self, expected: "an integer") ?? maxStepCharacters
            maxLength = try c.value("max_length", Int.self, expected: "an integer") ?? maxLength
            lengthBuffer = try c.value("length_buffer", Int.self, expected: "an integer") ?? lengthBuffer
        } catch let issue as ConfigIssue {
            throw RewardConfigError(issue, under: decoder.codingPath.count)
        }
        try validate()
    }

    /// Writes every key; the weights in `rewardNames` order (a dictionary's own order would change from run to run).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var w = c.nestedContainer(keyedBy: ConfigKey.self, forKey: .weights)
        for name in Self.rewardNames + weights.keys.filter({ !Self.rewardNames.contains($0) }).sorted() {
            if let v = weights[name] { try w.encode(v, forKey: ConfigKey(name)) }
        }
        try c.encode(firstInvalidPenalty, forKey: .firstInvalidPenalty)
        try c.encode(noClaimScore, forKey: .noClaimScore)
        try c.encode(answerFormatWeight, forKey: .answerFormatWeight)
        try c.encode(maxStepCharacters, forKey: .maxStepCharacters)
        try c.encode(maxLength, forKey: .maxLength)
        try c.encode(lengthBuffer, forKey: .lengthBuffer)
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
