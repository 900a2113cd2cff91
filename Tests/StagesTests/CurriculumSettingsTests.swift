import Checkpoint
import Data
import Foundation
import Model
import PPO
import Stages
import Tensor
import TestSupport
import Testing

// The root settings (name, seed, run, data, teacher, student) are Codable structs: a script's memberwise values and
// the YAML a person writes for them are the same settings, and the resolved YAML of every shipped curriculum reads
// back to the settings it was written from.
@Suite("curriculum settings")
struct CurriculumSettingsTests {
    /// Every data key and every teacher key written out, a student cut from the teacher, and a temperature schedule
    /// with every linear-decay key: what `wide()` builds in Swift.
    static let wideYAML = """
        name: "wide run"
        seed: 5
        run: {checkpoint_every: 7, keep_checkpoints: 2, log_every: 3}
        data:
          domains: [subtraction, addition, subtraction]
          difficulty: 2
          train_size: 40
          reference_traces: 10
          validation_size: 8
          seed: 99
          max_length: 64
          prompt_template: "Q: {question}\\nA:"
        teacher:
          hidden_size: 48
          intermediate_size: 96
          num_hidden_layers: 4
          num_attention_heads: 4
          num_key_value_heads: 2
          rms_norm_eps: 1.0e-05
          rope_theta: 500000
          max_position_embeddings: 96
          tie_word_embeddings: true
          qkv_bias: true
          hidden_dropout: 0.1
        student:
          from_teacher: {every: 2}
          hidden_dropout: 0.05
        stages:
          - kind: output-distill
            steps: 3
            temperature: {schedule: linear_decay, start: 4, decrement: 0.5, interval: 2, floor: 1.5, unit: step}
        """

    /// `wideYAML` built with the memberwise initialisers.
    static func wide() throws -> Curriculum {
        let teacher = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 48, intermediateSize: 96, numHiddenLayers: 4,
                                        numAttentionHeads: 4, numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 500_000, maxPositionEmbeddings: 96,
                                        tieWordEmbeddings: true, qkvBias: true, hiddenDropout: 0.1)
        let temperature = TemperatureSetting(schedule: TemperatureScheduleSettings(kind: .linearDecay, base: 4, decrement: 0.5, interval: 2, floor: 1.5),
                                             unit: .step)
        return try Curriculum(
            name: "wide run", seed: 5,
            run: RunSettings(checkpointEvery: 7, keepCheckpoints: 2, logEvery: 3),
            data: DataSettings(domains: [.subtraction, .addition], difficulty: 2, trainSize: 40, referenceTraces: 10, validationSize: 8, seed: 99,
                               maxLength: 64, promptTemplate: .custom("Q: {question}\nA:")),
            models: ModelSettings(teacher: teacher, studentDropout: 0.05, studentFromTeacher: .every(2)),
            stages: [("output-distill", OutputDistillConfiguration(training: TrainingSettings(steps: 3), temperature: temperature))])
    }

    @Test("a curriculum built with the memberwise inits (data, teacher, student included) equals the one read from the same settings in YAML")
    func swiftEqualsYAML() throws {
        let swift = try Self.wide(), yaml = try Curriculum(text: Self.wideYAML)
        #expect(swift.settings == yaml.settings, "\(swift.settings)\n\(yaml.settings)")
        #expect(yaml.data.domains == [.subtraction, .addition], "a repeated domain is read once")
        #expect(yaml.studentConfig.numHiddenLayers == 2 && yaml.studentConfig.hiddenSize == 48, "every 2nd of 4 teacher layers, the teacher's width")
        let a = try #require(swift.stages.first?.configuration as? OutputDistillConfiguration)
        let b = try #require(yaml.stages.first?.configuration as? OutputDistillConfiguration)
        #expect(a == b)
        #expect(swift.resolvedDescription == yaml.resolvedDescription)
        // and the Swift curriculum's stored text (its resolved YAML) reads back to its resolved settings
        #expect(try Curriculum(text: swift.text).settings == swift.resolvedSettings)
    }

    @Test("the distillation temperature is PPO's schedule settings plus a unit: same keys, same schedule")
    func temperatureWrapsTheScheduleSettings() throws {
        let text = tinyRunHead + "\nstages:\n  - kind: output-distill\n    temperature: {schedule: step, base: 3, early_factor: 2, early_until: 2, late_from: 4}\n"
        let d = try #require(try Curriculum(text: text).stages.first?.configuration as? OutputDistillConfiguration)
        #expect(d.temperature.schedule == TemperatureScheduleSettings(kind: .step, base: 3, earlyFactor: 2, earlyUntil: 2, lateFrom: 4,
                                                                       floor: TemperatureSchedule.linearDecayDefaults.floor))
        #expect(d.temperature.unit == .epoch)
        // by hand: 3 x 2 before epoch 2, 3 until epoch 4, then 3 x 0.8 (the default late factor)
        let s = d.temperature.schedule(searched: nil)
        #expect(s.temperature(at: 1) == 6 && s.temperature(at: 2) == 3 && s.temperature(at: 3) == 3 && s.temperature(at: 4) == Float(3) * 0.8)
    }

    @Test("the resolved YAML of each curriculum in curricula/ reads back to the same settings and the same resolved keys")
    func shippedResolvedReadsBack() throws {
        let folder = packageRoot + "/curricula"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        var checked: [String] = []
        try withRunFolder("shipped-resolved") { dir in
            for name in names {
                var text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
                if name == "prune-default.yaml" {
                    // it starts from the default run's last checkpoint: one with the default curriculum's teacher and student
                    let defaults = try Curriculum.load(path: folder + "/default.yaml")
                    var rng = RandomGenerator(seed: 1)
                    let teacher = try Transformer(config: defaults.models.teacher, rng: &rng), student = try Transformer(config: defaults.studentConfig, rng: &rng)
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    let file = dir + "/default-last.h5"
                    try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "teacher", configJSON: teacher.config.jsonString(), store: teacher.parameters),
                                                                          ModelSnapshot(role: "student", configJSON: student.config.jsonString(), store: student.parameters)],
                                                                 tokenizer: Tokenizer.math), to: file)
                    text = text.replacingOccurrences(of: "../checkpoints/default/stage-4-ppo-trace.h5", with: file)
                }
                let c: Curriculum
                do { c = try Curriculum(text: text, file: folder + "/" + name, baseDirectory: folder) } catch let e as CurriculumError where e.message.contains("no file at") {
                    // smollm2 needs `make smollm2`'s file
                    print("skipped \(name): \(e)")
                    continue
                }
                let resolved = c.resolvedDescription
                let again = try Curriculum(text: resolved, file: folder + "/resolved-" + name, baseDirectory: c.baseDirectory)
                #expect(again.settings == c.resolvedSettings, "\(name)")
                #expect(again.stages.map(\.kind) == c.stages.map(\.kind), "\(name)")
                // the same keys and values; comments may go (baseline-ce's "steps: as many as ..." explains a count that the
                // resolved text then writes out)
                func keys(_ text: String) -> [String] { text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") } }
                #expect(keys(again.resolvedDescription) == keys(resolved), "\(name): the resolved text is a fixed point")
                checked.append(name)
            }
        }
        #expect(Set(["smoke.yaml", "default.yaml", "full-references.yaml", "prune-default.yaml"]).isSubset(of: checked), "\(checked)")
    }
}
