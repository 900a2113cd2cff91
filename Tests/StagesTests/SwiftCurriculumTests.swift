import Data
import Foundation
import Model
import PPO
import Reward
import Stages
import TestSupport
import Testing

// A script builds a curriculum from the settings structs' memberwise initialisers, with no YAML; it means the same
// as the shipped curricula/smoke.yaml (the published file is the independent source).
@Suite("curriculum in Swift")
struct SwiftCurriculumTests {
    /// curricula/smoke.yaml written as a script would: only what differs from the defaults.
    static func smoke() throws -> Curriculum {
        let teacher = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 64, intermediateSize: 172, numHiddenLayers: 2,
                                        numAttentionHeads: 4, maxPositionEmbeddings: 160)
        let reward = RewardConfig(weights: ["answer": 1, "step_validity": 0.5, "teacher_agreement": 0.25, "format": 0.2, "length": 1],
                                  maxLength: 48, lengthBuffer: 24)
        let ppo = PPOConfig(learningRate: 0.003, minibatches: 2, klCoefficient: 0.01, klTarget: nil, advantage: .grpo, groupSize: 4,
                            promptsPerIteration: 8, maxNewTokens: 64)
        return try Curriculum(
            name: "smoke", seed: 12,
            run: RunSettings(checkpointEvery: 10, keepCheckpoints: 3, logEvery: 10, gradientShards: 4),
            data: DataSettings(domains: [.multiplication, .addition], difficulty: 1, trainSize: 96, validationSize: 16, maxLength: 128),
            models: ModelSettings(teacher: teacher, shrink: ShrinkSpec(layers: 1, hiddenSize: 32, heads: 2, intermediateSize: 86)),
            stages: [
                ("teacher-sft", TeacherSFTConfiguration(training: TrainingSettings(steps: 120, batchSize: 16, learningRate: 0.01, warmupSteps: 5, evalEvery: 40))),
                ("teacher-traces", TeacherTracesConfiguration(samples: 2, questionsPerStep: 16, maxNewTokens: 100, limit: 32)),
                ("temperature-search", TemperatureSearchConfiguration(trials: 2, stepsPerTrial: 3, data: .reference)),
                ("output-distill", OutputDistillConfiguration(
                    training: TrainingSettings(steps: 60, learningRate: 0.01, warmupSteps: 2, labelSmoothing: 0.1, evalEvery: 20, patience: 3),
                    data: .reference)),
                ("feature-align", FeatureAlignConfiguration(output: OutputDistillConfiguration(
                    training: TrainingSettings(steps: 10, learningRate: 0.005, warmupSteps: 2, evalEvery: 5), data: .reference))),
                ("ppo-trace", PPOTraceConfiguration(iterations: 40, evalEvery: 20, validationProblems: 16, reward: reward, ppo: ppo)),
                ("baseline-ce", BaselineCEConfiguration(training: TrainingSettings(steps: 300, learningRate: 0.01, warmupSteps: 2))),
            ])
    }

    @Test("the smoke curriculum built in Swift equals the one read from curricula/smoke.yaml, setting by setting")
    func smokeInSwift() throws {
        let swift = try Self.smoke()
        let yaml = try Curriculum.load(path: packageRoot + "/curricula/smoke.yaml")
        #expect(swift.name == yaml.name && swift.seed == yaml.seed && swift.run == yaml.run && swift.data == yaml.data)
        #expect(swift.models == yaml.models)
        #expect(swift.stages.map(\.kind) == yaml.stages.map(\.kind))
        for (a, b) in zip(swift.stages, yaml.stages) {
            let same: Bool
            switch (a.configuration, b.configuration) {
            case let (x as TeacherSFTConfiguration, y as TeacherSFTConfiguration): same = x == y
            case let (x as TeacherTracesConfiguration, y as TeacherTracesConfiguration): same = x == y
            case let (x as TemperatureSearchConfiguration, y as TemperatureSearchConfiguration): same = x == y
            case let (x as OutputDistillConfiguration, y as OutputDistillConfiguration): same = x == y
            case let (x as FeatureAlignConfiguration, y as FeatureAlignConfiguration): same = x == y
            case let (x as PPOTraceConfiguration, y as PPOTraceConfiguration): same = x == y
            case let (x as BaselineCEConfiguration, y as BaselineCEConfiguration): same = x == y
            default: same = false
            }
            #expect(same, "stage \(a.index) (\(a.kind)) differs:\n\(a.configuration)\n\(b.configuration)")
        }
        #expect(swift.resolvedDescription == yaml.resolvedDescription)
        // the stored text of a curriculum built in Swift is its resolved configuration, which reads back
        #expect(swift.text == swift.resolvedDescription)
    }

    @Test("a curriculum built in Swift is checked as a file is: a bad value is a CurriculumError naming the key")
    func checkedInSwift() {
        do {
            _ = try Curriculum(stages: [("output-distill", OutputDistillConfiguration(alphaStart: 1.5))])
            Issue.record("alpha 1.5 was accepted")
        } catch let e as CurriculumError {
            #expect(e.keyPath == "stages[0].alpha.start", "\(e)")
        } catch {
            Issue.record("expected a CurriculumError, got \(error)")
        }
        #expect(throws: CurriculumError.self) { try Curriculum(stages: [("distill-everything", TeacherSFTConfiguration())]) }
    }
}
