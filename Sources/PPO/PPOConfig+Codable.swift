// PPOConfig's file form: snake_case keys, every key optional (defaults from the struct), unknown keys an
// error (Codable ignores them by default, which hides typos), and the decoded config validated. The checks are the
// strict layer's (`StrictContainer`), shared with every other settings family.

import StrictConfig

extension PPOConfig: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case learningRate = "learning_rate", valueLearningRate = "value_learning_rate", weightDecay = "weight_decay"
        case clipEpsilon = "clip_epsilon", dualClip = "dual_clip", valueClip = "value_clip"
        case valueCoefficient = "value_coefficient", entropyCoefficient = "entropy_coefficient", gamma, lambda
        case epochs, minibatches, approxKLLimit = "approx_kl_limit", klEstimator = "kl_estimator"
        case klCoefficient = "kl_coefficient", klTarget = "kl_target", klHorizon = "kl_horizon", advantage
        case groupSize = "group_size", scaleRewards = "scale_rewards", whitenAdvantages = "whiten_advantages", maxGradNorm = "max_grad_norm"
        case teacherLogRatioCoefficient = "teacher_log_ratio_coefficient", stepRewards = "step_rewards"
        case teacherAdvantageCoefficient = "teacher_advantage_coefficient", teacherAdvantageRows = "teacher_advantage_rows"
        case filterGroups = "filter_groups", maxSamplingRounds = "max_sampling_rounds", guidance
        case promptsPerIteration = "prompts_per_iteration", maxNewTokens = "max_new_tokens", temperature
    }

    /// The settings that `null` turns off; anywhere else null would silently mean the default, so it is refused.
    static let nullable: [CodingKeys] = [.valueLearningRate, .dualClip, .valueClip, .approxKLLimit, .klTarget, .maxGradNorm]

    /// Decodes from snake_case keys through the strict layer; omitted keys keep their defaults, `null` turns an
    /// optional setting off.
    /// - Throws: `PPOConfigError` naming an unknown key, a value of the wrong type, or a failed check.
    public init(from decoder: Decoder) throws {
        self.init()
        do {
            let c = try StrictContainer(decoder, known: CodingKeys.allCases.map(\.rawValue))
            func read<T: Decodable>(_ key: CodingKeys, _ what: String, into value: inout T) throws {
                if let v = try c.value(key.rawValue, T.self, expected: what) { value = v }
            }
            // Floats are read as doubles and rounded once, as every other setting of a curriculum.
            func read(_ key: CodingKeys, into value: inout Float) throws {
                if let v = try c.float(key.rawValue) { value = v }
            }
            // An optional setting given as null is turned off; absent keeps the default.
            func readOptional(_ key: CodingKeys, into value: inout Float?) throws {
                if let v = try c.nullable(key.rawValue, Double.self, expected: "a number or null") { value = v.map(Float.init) }
            }
            func readOptional(_ key: CodingKeys, into value: inout Double?) throws {
                if let v = try c.nullable(key.rawValue, Double.self, expected: "a number or null") { value = v }
            }
            try read(.learningRate, into: &learningRate)
            try readOptional(.valueLearningRate, into: &valueLearningRate)
            try read(.weightDecay, into: &weightDecay)
            try read(.clipEpsilon, into: &clipEpsilon)
            try readOptional(.dualClip, into: &dualClip)
            try readOptional(.valueClip, into: &valueClip)
            try read(.valueCoefficient, into: &valueCoefficient)
            try read(.entropyCoefficient, into: &entropyCoefficient)
            try read(.gamma, into: &gamma)
            try read(.lambda, into: &lambda)
            try read(.epochs, "an integer", into: &epochs)
            try read(.minibatches, "an integer", into: &minibatches)
            try readOptional(.approxKLLimit, into: &approxKLLimit)
            try read(.klEstimator, "k1 or k3", into: &klEstimator)
            try read(.klCoefficient, "a number", into: &klCoefficient)
            try readOptional(.klTarget, into: &klTarget)
            try read(.klHorizon, "an integer", into: &klHorizon)
            try read(.advantage, "gae or grpo", into: &advantage)
            try read(.groupSize, "an integer", into: &groupSize)
            try read(.scaleRewards, "group, batch or none", into: &scaleRewards)
            try read(.whitenAdvantages, "true or false", into: &whitenAdvantages)
            try readOptional(.maxGradNorm, into: &maxGradNorm)
            try read(.teacherLogRatioCoefficient, into: &teacherLogRatioCoefficient)
            try read(.teacherAdvantageCoefficient, into: &teacherAdvantageCoefficient)
            try read(.teacherAdvantageRows, "wrong or all", into: &teacherAdvantageRows)
            try read(.stepRewards, "true or false", into: &stepRewards)
            try read(.filterGroups, "none, answer or wrong", into: &filterGroups)
            try read(.maxSamplingRounds, "an integer", into: &maxSamplingRounds)
            try read(.guidance, "none, teacher_trace or teacher", into: &guidance)
            try read(.promptsPerIteration, "an integer", into: &promptsPerIteration)
            try read(.maxNewTokens, "an integer", into: &maxNewTokens)
            try read(.temperature, "a number, {entropy_target: {...}} or {schedule: constant|step|linear_decay, ...}", into: &temperature)
        } catch let issue as ConfigIssue {
            throw PPOConfigError(issue, under: decoder.codingPath.count, nullable: Self.nullable.map(\.rawValue))
        }
        try validate()
    }

    /// Writes every field under its snake_case key (optional settings that are off as null).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(valueLearningRate, forKey: .valueLearningRate)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(clipEpsilon, forKey: .clipEpsilon)
        try c.encode(dualClip, forKey: .dualClip)
        try c.encode(valueClip, forKey: .valueClip)
        try c.encode(valueCoefficient, forKey: .valueCoefficient)
        try c.encode(entropyCoefficient, forKey: .entropyCoefficient)
        try c.encode(gamma, forKey: .gamma)
        try c.encode(lambda, forKey: .lambda)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(minibatches, forKey: .minibatches)
        try c.encode(approxKLLimit, forKey: .approxKLLimit)
        try c.encode(klEstimator, forKey: .klEstimator)
        try c.encode(klCoefficient, forKey: .klCoefficient)
        try c.encode(klTarget, forKey: .klTarget)
        try c.encode(klHorizon, forKey: .klHorizon)
        try c.encode(advantage, forKey: .advantage)
        try c.encode(groupSize, forKey: .groupSize)
        try c.encode(scaleRewards, forKey: .scaleRewards)
        try c.encode(whitenAdvantages, forKey: .whitenAdvantages)
        try c.encode(maxGradNorm, forKey: .maxGradNorm)
        try c.encode(teacherLogRatioCoefficient, forKey: .teacherLogRatioCoefficient)
        try c.encode(teacherAdvantageCoefficient, forKey: .teacherAdvantageCoefficient)
        try c.encode(teacherAdvantageRows, forKey: .teacherAdvantageRows)
        try c.encode(stepRewards, forKey: .stepRewards)
        try c.encode(filterGroups, forKey: .filterGroups)
        try c.encode(maxSamplingRounds, forKey: .maxSamplingRounds)
        try c.encode(guidance, forKey: .guidance)
        try c.encode(promptsPerIteration, forKey: .promptsPerIteration)
        try c.encode(maxNewTokens, forKey: .maxNewTokens)
        try c.encode(temperature, forKey: .temperature)
    }
}
