import Foundation
import PPO
import Testing

// PPOConfig: defaults validate, each bad field is named, and the snake_case file form round-trips and
// rejects unknown keys.

@Suite("PPO config")
struct ConfigTests {
    @Test("defaults are valid and match the documented values")
    func defaults() throws {
        let c = PPOConfig()
        try c.validate()
        #expect(c.clipEpsilon == 0.2 && c.gamma == 1 && c.lambda == 0.95 && c.epochs == 2 && c.minibatches == 4)
        #expect(c.maxGradNorm == 1 && c.klEstimator == .k1 && c.advantage == .gae && c.dualClip == nil)
        #expect(PPOConfig(learningRate: 3e-4, epochs: 3) == { var d = PPOConfig(); d.learningRate = 3e-4; d.epochs = 3; return d }())
    }

    @Test("each bad value is a typed error naming its field", arguments: [
        ("clip_epsilon", PPOConfig(clipEpsilon: 0)),
        ("dual_clip", PPOConfig(dualClip: 1)),
        ("value_clip", PPOConfig(valueClip: -1)),
        ("gamma", PPOConfig(gamma: 1.5)),
        ("lambda", PPOConfig(lambda: -0.1)),
        ("epochs", PPOConfig(epochs: 0)),
        ("minibatches", PPOConfig(minibatches: 0)),
        ("minibatches", PPOConfig(minibatches: 32, promptsPerIteration: 8)),
        ("group_size", PPOConfig(advantage: .grpo, groupSize: 1)),
        ("learning_rate", PPOConfig(learningRate: .nan)),
        ("kl_target", PPOConfig(klTarget: 0)),
        ("approx_kl_limit", PPOConfig(approxKLLimit: -1)),
        ("max_grad_norm", PPOConfig(maxGradNorm: 0)),
        ("max_new_tokens", PPOConfig(maxNewTokens: 0)),
        ("teacher_log_ratio_coefficient", PPOConfig(teacherLogRatioCoefficient: -1)),
        ("temperature.entropy_target.initial", PPOConfig(temperature: .entropyTarget(target: 1, rate: 0.1, minimum: 0.5, maximum: 1, initial: 2))),
        ("temperature.schedule", PPOConfig(temperature: .schedule(.constant(temperature: 0)))),
    ])
    func invalid(field: String, config: PPOConfig) {
        do {
            try config.validate()
            Issue.record("\(field): expected a PPOConfigError")
        } catch let e as PPOConfigError {
            #expect(e.field == field, "\(e)")
            #expect(!e.reason.isEmpty)
        } catch {
            Issue.record("\(field): unexpected error \(error)")
        }
    }

    @Test("snake_case JSON: defaults for omitted keys, null turns options off, round trip, unknown keys rejected")
    func codable() throws {
        let json = """
            {"clip_epsilon": 0.1, "dual_clip": 3, "value_clip": null, "advantage": "grpo", "group_size": 4,
             "kl_estimator": "k3", "kl_target": null, "temperature": {"schedule": "constant", "base": 0.9}}
            """
        let c = try JSONDecoder().decode(PPOConfig.self, from: Data(json.utf8))
        #expect(c.clipEpsilon == 0.1 && c.dualClip == 3 && c.valueClip == nil && c.advantage == .grpo && c.groupSize == 4)
        #expect(c.klEstimator == .k3 && c.klTarget == nil && c.lambda == 0.95)
        #expect(c.temperature == .schedule(.constant(temperature: 0.9)))
        let again = try JSONDecoder().decode(PPOConfig.self, from: try JSONEncoder().encode(c))
        #expect(again == c)
        let partial = try JSONDecoder().decode(PPOConfig.self, from: Data(#"{"temperature": {"entropy_target": {"target": 0.8}}}"#.utf8))
        #expect(partial.temperature == .entropyTarget(target: 0.8, rate: 0.1, minimum: 0.5, maximum: 1.5, initial: 1))
        #expect(partial.scaleRewards == .group)
        let drGRPO = try JSONDecoder().decode(PPOConfig.self, from: Data(#"{"advantage": "grpo", "group_size": 4, "scale_rewards": "none"}"#.utf8))
        #expect(drGRPO.scaleRewards == RewardScaling.none)
        #expect(try JSONDecoder().decode(PPOConfig.self, from: try JSONEncoder().encode(drGRPO)) == drGRPO)

        func failure(_ text: String) -> PPOConfigError? {
            do { _ = try JSONDecoder().decode(PPOConfig.self, from: Data(text.utf8)); return nil } catch { return error as? PPOConfigError }
        }
        #expect(failure(#"{"clip_epsilonn": 0.1}"#)?.field == "clip_epsilonn")
        #expect(failure(#"{"epochs": "two"}"#)?.field == "epochs")
        #expect(failure(#"{"kl_estimator": "k2"}"#)?.field == "kl_estimator")
        #expect(failure(#"{"scale_rewards": "std"}"#)?.field == "scale_rewards")
        #expect(failure(#"{"gamma": 2}"#)?.field == "gamma")
        #expect(failure(#"{"temperature": {"entropy_target": {"rates": 1}}}"#)?.field == "temperature.entropy_target.rates")
        #expect(failure(#"{"temperature": {}}"#)?.field == "temperature")
    }

    @Test("sampling temperature schedules in the distillation stages' form: a number, or schedule + its own keys, with defaults; wrong keys named")
    func temperatureForms() throws {
        func temperature(_ json: String) throws -> TemperatureControl {
            try JSONDecoder().decode(PPOConfig.self, from: Data(#"{"temperature": \#(json)}"#.utf8)).temperature
        }
        #expect(try temperature("0.7") == .schedule(.constant(temperature: 0.7)))
        #expect(try temperature(#"{"schedule": "constant"}"#) == .schedule(.constant(temperature: 1)))
        #expect(try temperature(#"{"schedule": "step", "base": 1.2, "late_from": 20}"#)
                == .schedule(.step(base: 1.2, earlyFactor: 1.5, earlyUntil: 5, lateFactor: 0.8, lateFrom: 20)))
        #expect(try temperature(#"{"schedule": "linear_decay", "start": 1.2, "decrement": 0.1, "interval": 5, "floor": 0.6}"#)
                == .schedule(.linearDecay(start: 1.2, decrement: 0.1, interval: 5, floor: 0.6)))
        #expect(try temperature(#"{"schedule": "linear_decay", "start": 0.8}"#)
                == .schedule(.linearDecay(start: 0.8, decrement: 0.5, interval: 10, floor: 0.8)))
        for control in [try temperature(#"{"schedule": "step", "base": 0.9}"#), try temperature(#"{"schedule": "linear_decay", "start": 2}"#),
                        try temperature(#"{"entropy_target": {"target": 0.2}}"#), try temperature("0.5")] {
            var c = PPOConfig()
            c.temperature = control
            #expect(try JSONDecoder().decode(PPOConfig.self, from: try JSONEncoder().encode(c)).temperature == control)
        }

        func failure(_ json: String) -> PPOConfigError? {
            do { _ = try temperature(json); return nil } catch { return error as? PPOConfigError }
        }
        #expect(failure(#"{"schedule": "cosine"}"#)?.field == "temperature.schedule")
        #expect(failure(#"{"schedule": "constant", "start": 1}"#)?.field == "temperature.start")
        #expect(failure(#"{"schedule": "step", "base": "hot"}"#)?.field == "temperature.base")
        #expect(failure(#"{"schedule": "constant", "base": -1}"#)?.field == "temperature.schedule")
        #expect(failure(#"{"entropy_target": {"target": 0.2}, "base": 1}"#)?.field == "temperature.base")
        #expect(failure(#"{"entropy_target": {"target": 0.2}, "schedule": "constant"}"#)?.field == "temperature")
        #expect(failure(#"{"bases": 1}"#)?.field == "temperature.bases")
        #expect(failure("-0.5")?.field == "temperature.schedule")
    }
}
