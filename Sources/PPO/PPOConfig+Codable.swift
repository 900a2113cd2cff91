// PPOConfig's file form: snake_case keys, every key optional (defaults from the struct), unknown keys an
// error (Codable ignores them by default, which hides typos), and the decoded config validated.

extension PPOConfig: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case learningRate = "learning_rate", valueLearningRate = "value_learning_rate", weightDecay = "weight_decay"
        case clipEpsilon = "clip_epsilon", dualClip = "dual_clip", valueClip = "value_clip"
        case valueCoefficient = "value_coefficient", entropyCoefficient = "entropy_coefficient", gamma, lambda
        case epochs, minibatches, approxKLLimit = "approx_kl_limit", klEstimator = "kl_estimator"
        case klCoefficient = "kl_coefficient", klTarget = "kl_target", klHorizon = "kl_horizon", advantage
        case groupSize = "group_size", scaleRewards = "scale_rewards", whitenAdvantages = "whiten_advantages", maxGradNorm = "max_grad_norm"
        case teacherLogRatioCoefficient = "teacher_log_ratio_coefficient", stepRewards = "step_rewards"
        case promptsPerIteration = "prompts_per_iteration", maxNewTokens = "max_new_tokens", temperature
    }

    /// Decodes from snake_case keys; omitted keys keep their defaults, `null` turns an optional setting off.
    /// - Throws: `PPOConfigError` naming an unknown key, a value of the wrong type, or a failed check.
    public init(from decoder: Decoder) throws {
        self.init()
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), prefix: "")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // null is a value only where it means "off"; anywhere else it would silently mean the default.
        let nullable: [CodingKeys] = [.valueLearningRate, .dualClip, .valueClip, .approxKLLimit, .klTarget, .maxGradNorm]
        for key in CodingKeys.allCases where !nullable.contains(key) && c.contains(key) && ((try? c.decodeNil(forKey: key)) ?? false) {
            throw PPOConfigError(field: key.rawValue, reason: "is null; a key without a value is not read as its default: delete the line to get the default, or give a value (null turns off only "
                                 + nullable.map(\.rawValue).joined(separator: ", ") + ")")
        }
        func read<T: Decodable>(_ key: CodingKeys, _ type: T.Type, _ what: String, into value: inout T) throws {
            if let v = try decodeField(c, key, T?.self, key.rawValue, what) { value = v }
        }
        // An optional setting given as null is turned off; absent keeps the default.
        func readOptional<T: Decodable>(_ key: CodingKeys, _ what: String, into value: inout T?) throws {
            guard c.contains(key) else { return }
            value = try decodeField(c, key, T?.self, key.rawValue, what + " or null")
        }
        try read(.learningRate, Float.self, "a number", into: &learningRate)
        try readOptional(.valueLearningRate, "a number", into: &valueLearningRate)
        try read(.weightDecay, Float.self, "a number", into: &weightDecay)
        try read(.clipEpsilon, Float.self, "a number", into: &clipEpsilon)
        try readOptional(.dualClip, "a number", into: &dualClip)
        try readOptional(.valueClip, "a number", into: &valueClip)
        try read(.valueCoefficient, Float.self, "a number", into: &valueCoefficient)
        try read(.entropyCoefficient, Float.self, "a number", into: &entropyCoefficient)
        try read(.gamma, Float.self, "a number", into: &gamma)
        try read(.lambda, Float.self, "a number", into: &lambda)
        try read(.epochs, Int.self, "an integer", into: &epochs)
        try read(.minibatches, Int.self, "an integer", into: &minibatches)
        try readOptional(.approxKLLimit, "a number", into: &approxKLLimit)
        try read(.klEstimator, KLEstimator.self, "k1 or k3", into: &klEstimator)
        try read(.klCoefficient, Double.self, "a number", into: &klCoefficient)
        try readOptional(.klTarget, "a number", into: &klTarget)
        try read(.klHorizon, Int.self, "an integer", into: &klHorizon)
        try read(.advantage, AdvantageEstimator.self, "gae or grpo", into: &advantage)
        try read(.groupSize, Int.self, "an integer", into: &groupSize)
        try read(.scaleRewards, RewardScaling.self, "group, batch or none", into: &scaleRewards)
        try read(.whitenAdvantages, Bool.self, "true or false", into: &whitenAdvantages)
        try readOptional(.maxGradNorm, "a number", into: &maxGradNorm)
        try read(.teacherLogRatioCoefficient, Float.self, "a number", into: &teacherLogRatioCoefficient)
        try read(.stepRewards, Bool.self, "true or false", into: &stepRewards)
        try read(.promptsPerIteration, Int.self, "an integer", into: &promptsPerIteration)
        try read(.maxNewTokens, Int.self, "an integer", into: &maxNewTokens)
        if c.contains(.temperature) {
            do { temperature = try c.decode(TemperatureControl.self, forKey: .temperature) } catch let e as PPOConfigError {
                throw e
            } catch {
                throw PPOConfigError(field: "temperature", reason: "expected a number, {entropy_target: {...}} or {schedule: constant|step|linear_decay, ...}")
            }
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
        try c.encode(stepRewards, forKey: .stepRewards)
        try c.encode(promptsPerIteration, forKey: .promptsPerIteration)
        try c.encode(maxNewTokens, forKey: .maxNewTokens)
        try c.encode(temperature, forKey: .temperature)
    }
}

/// Any key, so the keys a decoder holds can be listed and compared with the known ones.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws `PPOConfigError` for the first key of `decoder`'s object that is not in `known`.
func rejectUnknownKeys(_ decoder: Decoder, known: [String], prefix: String) throws {
    let keys: KeyedDecodingContainer<AnyCodingKey>
    do { keys = try decoder.container(keyedBy: AnyCodingKey.self) } catch {
        throw PPOConfigError(field: prefix.isEmpty ? "(top level)" : String(prefix.dropLast()), reason: "expected an object of settings")
    }
    for key in keys.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !known.contains(key.stringValue) {
        throw PPOConfigError(field: prefix + key.stringValue,
                             reason: "unknown key; known keys are \(known.joined(separator: ", "))")
    }
}

/// Decodes one field, turning a type mismatch into a `PPOConfigError` that names the field.
func decodeField<K: CodingKey, T: Decodable>(_ c: KeyedDecodingContainer<K>, _ key: K, _ type: T.Type,
                                              _ field: String, _ expected: String) throws -> T {
    do {
        if let optional = type as? any OptionalDecodable.Type {
            return try optional.decodeOptional(from: c, key: key) as! T
        }
        return try c.decode(type, forKey: key)
    } catch let e as PPOConfigError {
        throw e
    } catch {
        throw PPOConfigError(field: field, reason: "expected \(expected)")
    }
}

/// Lets `decodeField` read `T?` with `decodeIfPresent` (absent or null gives nil).
protocol OptionalDecodable {
    static func decodeOptional<K: CodingKey>(from c: KeyedDecodingContainer<K>, key: K) throws -> Any
}

extension Optional: OptionalDecodable where Wrapped: Decodable {
    static func decodeOptional<K: CodingKey>(from c: KeyedDecodingContainer<K>, key: K) throws -> Any {
        try c.decodeIfPresent(Wrapped.self, forKey: key) as Any
    }
}
