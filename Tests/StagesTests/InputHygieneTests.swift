import Foundation
import Logging
import Model
import PPO
import Stages
import TestSupport
import Testing

// The "also seen" items of issue #27: null values and 0-step stages are refused with FILE:LINE: key.path; the
// resolved configuration is YAML that reads back to the same curriculum and prints the steps a stage runs; a run
// that cannot load its data leaves nothing it made.

@Suite("curriculum input hygiene")
struct InputHygieneTests {
    private static let stages = "\nstages:\n  - kind: teacher-sft\n    steps: 5\n"

    @Test("a null value (~, null, or nothing) is an error naming the key and saying to delete the line, for every kind of key")
    func nullIsAnError() {
        let tiny = CurriculumTests.tiny
        // stages[0].steps: ~ on line 8 (the tiny file is 5 lines, then `stages:`, `- kind:`).
        let steps = curriculumError(tiny + "\nstages:\n  - kind: teacher-sft\n    steps: ~\n")
        #expect(steps?.keyPath == "stages[0].steps" && steps?.line == 8, "\(String(describing: steps))")
        #expect(steps.map { "\($0)" }?.hasPrefix("c.yaml:8: stages[0].steps: is null") == true, "\(String(describing: steps))")
        #expect(steps?.message.contains("delete the line to get the default") == true)
        let empty = curriculumError(tiny + "\nstages:\n  - kind: output-distill\n    learning_rate:\n")
        #expect(empty?.keyPath == "stages[0].learning_rate" && empty?.message.contains("delete the line") == true)
        let section = curriculumError("name: t\nrun: null\n" + tiny.split(separator: "\n").dropFirst().joined(separator: "\n") + Self.stages)
        #expect(section?.keyPath == "run" && section?.line == 2, "\(String(describing: section))")
        let dataKey = curriculumError(tiny.replacingOccurrences(of: "train_size: 8", with: "train_size: ~") + Self.stages)
        #expect(dataKey?.keyPath == "data.train_size" && dataKey?.message.contains("delete the line") == true)
        // Inside ppo and reward (decoded with Codable): a null that is not "off" is refused too.
        let ppo = curriculumError(tiny + "\nstages:\n  - kind: ppo-trace\n    ppo: {learning_rate: null}\n")
        #expect(ppo?.keyPath == "stages[0].ppo.learning_rate" && ppo?.message.contains("delete the line") == true, "\(String(describing: ppo))")
        let reward = curriculumError(tiny + "\nstages:\n  - kind: ppo-trace\n    reward: {max_length: ~}\n")
        #expect(reward?.keyPath == "stages[0].reward.max_length" && reward?.message.contains("delete the line") == true, "\(String(describing: reward))")
    }

    @Test("null keeps its documented meaning where it has one: ppo's optional settings turned off")
    func nullTurnsOffOptionalPPOSettings() throws {
        let c = try Curriculum(text: CurriculumTests.tiny + "\nstages:\n  - kind: ppo-trace\n    ppo: {kl_target: null, max_grad_norm: ~, approx_kl_limit: null}\n")
        let p = try #require(c.stages.first?.configuration as? PPOTraceConfiguration)
        #expect(p.ppo.klTarget == nil && p.ppo.maxGradNorm == nil && p.ppo.approxKLLimit == nil)
        #expect(PPOConfig().klTarget == 6, "the default is on, so null means something else than the default")
    }

    @Test("steps: 0 is refused on every training stage (a stage of 0 steps leaves its model untrained)")
    func zeroSteps() {
        for kind in ["teacher-sft", "output-distill", "feature-align", "baseline-ce"] {
            let e = curriculumError(CurriculumTests.tiny + "\nstages:\n  - kind: \(kind)\n    steps: 0\n")
            #expect(e?.keyPath == "stages[0].steps" && e?.line == 8, "\(kind): \(String(describing: e))")
            #expect(e?.message.hasPrefix("is 0: a stage of 0 steps leaves its model untrained") == true && e?.message.contains("remove the stage") == true,
                    "\(kind): \(String(describing: e))")
        }
    }

    /// `text` read, printed resolved, and the printed text read again.
    private func roundTrip(_ text: String) throws -> (Curriculum, Curriculum) {
        let first = try Curriculum(text: text, file: "first.yaml")
        let printed = first.resolvedDescription
        let second: Curriculum
        do { second = try Curriculum(text: printed, file: "resolved.yaml") } catch {
            Issue.record("the resolved configuration does not read back: \(error)\n\(printed)")
            throw error
        }
        return (first, second)
    }

    /// Checks that two curricula mean the same: run, data (seed resolved), both architectures, and every stage's
    /// resolved settings; and that printing the second gives the same text (a fixed point).
    private func expectSameMeaning(_ a: Curriculum, _ b: Curriculum, _ label: String) {
        #expect(a.name == b.name && a.seed == b.seed && a.run == b.run, "\(label)")
        var da = a.data, db = b.data
        da.seed = da.seed ?? a.seed
        db.seed = db.seed ?? b.seed
        #expect(da == db, "\(label): data \(da) vs \(db)")
        #expect(a.models.teacher == b.models.teacher, "\(label): teacher")
        #expect(a.studentConfig == b.studentConfig, "\(label): student")
        #expect(a.models.studentDropout == b.models.studentDropout)
        #expect(a.stages.map(\.kind) == b.stages.map(\.kind))
        // Comments are notes, not settings (baseline-ce notes why its steps are what they are only the first time).
        func settings(_ c: Curriculum) -> [Substring] {
            c.resolvedDescription.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
        }
        #expect(settings(a) == settings(b), "\(label): printing again gives other settings")
    }

    @Test("the printed resolved configuration is YAML that reads back as a curriculum with the same meaning (shipped curricula)")
    func shippedRoundTrip() throws {
        for name in ["smoke", "default", "full-references"] {
            let text = try String(contentsOfFile: packageRoot + "/curricula/\(name).yaml", encoding: .utf8)
            let (a, b) = try roundTrip(text)
            expectSameMeaning(a, b, name)
            // Stage by stage, the settings that drive training are equal.
            for (x, y) in zip(a.stages, b.stages) {
                switch (x.configuration, y.configuration) {
                case let (p as OutputDistillConfiguration, q as OutputDistillConfiguration):
                    #expect(p.training == q.training && p.alphaStart == q.alphaStart && p.alphaEnd == q.alphaEnd
                            && p.temperature == q.temperature && p.divergence == q.divergence, "\(name) stage \(x.index)")
                case let (p as FeatureAlignConfiguration, q as FeatureAlignConfiguration):
                    #expect(p.output.training == q.output.training && p.output.temperature == q.output.temperature
                            && p.hiddenWeight == q.hiddenWeight && p.attentionWeight == q.attentionWeight && p.layerMap == q.layerMap)
                case let (p as PPOTraceConfiguration, q as PPOTraceConfiguration):
                    #expect(p.ppo == q.ppo && p.reward == q.reward && p.iterations == q.iterations, "\(name) stage \(x.index)")
                case let (p as TeacherTracesConfiguration, q as TeacherTracesConfiguration):
                    #expect(p.samples == q.samples && p.temperature == q.temperature && p.limit == q.limit && p.topP == q.topP)
                case let (p as TeacherSFTConfiguration, q as TeacherSFTConfiguration):
                    #expect(p.training == q.training)
                default: break
                }
            }
        }
    }

    @Test("every kind of value reads back: temperature schedules, jsd, layer maps, ppo temperature schedules, small floats")
    func variedRoundTrip() throws {
        let text = CurriculumTests.tiny.replacingOccurrences(of: "max_length: 96}", with: "max_length: 96, prompt_template: \"Q: {question}\\nA:\", reference_traces: 4}") + """

        stages:
          - kind: teacher-sft
            steps: 5
            learning_rate: 1.0e-5
            min_learning_rate: 1.0e-6
            dropout: 0.1
          - kind: teacher-traces
            samples: 1
            temperature: 0
            top_p: 0.9
          - kind: temperature-search
            trials: 1
          - kind: output-distill
            steps: 4
            temperature: {schedule: linear_decay, start: 5, decrement: 0.25, interval: 3, floor: 1.5, unit: step}
            divergence: jsd
            jsd_beta: 0.3
            alpha: 0.7
          - kind: feature-align
            steps: 3
            temperature: {schedule: step, early_factor: 2}
            layer_map: [[0, 1]]
            divergence: reverse_kl
          - kind: ppo-trace
            iterations: 2
            ppo: {learning_rate: 3.0e-6, dual_clip: 3, temperature: {schedule: linear_decay, start: 1.2, decrement: 0.1, interval: 1, floor: 0.6}}
            reward: {weights: {answer: 2, length: 0}}
          - kind: baseline-ce
        """
        let (a, b) = try roundTrip(text)
        expectSameMeaning(a, b, "varied")
        let od = try #require(b.stages[3].configuration as? OutputDistillConfiguration)
        #expect(od.temperature == (try #require(a.stages[3].configuration as? OutputDistillConfiguration)).temperature)
        #expect(od.divergence == .jsd(beta: 0.3) && od.alphaStart == 0.7 && od.alphaEnd == 0.7)
        let fa = try #require(b.stages[4].configuration as? FeatureAlignConfiguration)
        #expect(fa.layerMap == [[0, 1]] && fa.output.temperature.base == nil, "no base: an earlier temperature-search still fills it")
        let ppo = try #require(b.stages[5].configuration as? PPOTraceConfiguration)
        let ppoA = try #require(a.stages[5].configuration as? PPOTraceConfiguration)
        #expect(ppo.ppo == ppoA.ppo && ppo.reward == ppoA.reward && ppo.ppo.learningRate == 3e-6)
        let sft = try #require(b.stages[0].configuration as? TeacherSFTConfiguration)
        #expect(sft.training.learningRate == 1e-5 && sft.training.dropout == 0.1)
        #expect(b.data.promptTemplate == a.data.promptTemplate && b.data.referenceTraces == 4)
        // The printed text is YAML, not Swift's description of an enum.
        #expect(!a.resolvedDescription.contains("entropyTarget(") && !a.resolvedDescription.contains("linearDecay("))
    }

    @Test("baseline-ce without steps prints the steps it runs: as many as output-distill and feature-align together")
    func baselinePrintsWhatRuns() throws {
        // smoke.yaml: output-distill 60 + feature-align 10 = 70 (not the struct's 300).
        let smoke = try Curriculum.load(path: packageRoot + "/curricula/smoke.yaml")
        let printed = smoke.resolvedDescription
        let baseline = try #require(printed.range(of: "  - kind: baseline-ce\n"))
        #expect(printed[baseline.upperBound...].hasPrefix("    steps: 70\n"), "\(printed[baseline.upperBound...].prefix(60))")
        let reread = try Curriculum(text: printed)
        let c = try #require(reread.stages.last?.configuration as? BaselineCEConfiguration)
        #expect(c.training.steps == 70)
    }

    private func folder(_ label: String) -> String {
        NSTemporaryDirectory() + "hygiene-\(label)-\(UUID().uuidString)"
    }

    /// A curriculum whose train_file is not JSON: it reads (the file exists) but its data cannot load.
    private func badDataCurriculum() throws -> Curriculum {
        let bad = NSTemporaryDirectory() + "hygiene-bad-\(UUID().uuidString).jsonl"
        try "this is not a row\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let text = CurriculumTests.tiny.replacingOccurrences(of: "max_length: 96}", with: "max_length: 96, train_file: \(bad)}") + Self.stages
        return try Curriculum(text: text)
    }

    @Test("a run whose data cannot load leaves no folder it created (nested ones included)")
    func failedStartRemovesItsFolders() throws {
        let root = folder("new")
        let runDirectory = root + "/a/b/run"
        #expect(throws: (any Error).self) {
            try CurriculumRunner(curriculum: try badDataCurriculum(), runDirectory: runDirectory, logger: Logger(label: "test"))
        }
        #expect(!FileManager.default.fileExists(atPath: root), "left \(root)")
    }

    @Test("in a folder that existed, a failed start removes only what it added; what was there stays")
    func failedStartKeepsWhatExisted() throws {
        let runDirectory = folder("existing")
        try FileManager.default.createDirectory(atPath: runDirectory + "/notes", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }
        try "mine\n".write(toFile: runDirectory + "/notes/todo.txt", atomically: true, encoding: .utf8)
        try "yaml of mine\n".write(toFile: runDirectory + "/curriculum.yaml.bak", atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) {
            try CurriculumRunner(curriculum: try badDataCurriculum(), runDirectory: runDirectory, logger: Logger(label: "test"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: runDirectory).sorted() == ["curriculum.yaml.bak", "notes"])
        #expect(try String(contentsOfFile: runDirectory + "/notes/todo.txt", encoding: .utf8) == "mine\n")
    }
}
