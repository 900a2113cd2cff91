import Checkpoint
import Foundation
import Stages
import TestSupport
import Testing

// The resolved configuration (every default filled in) is stored in every checkpoint beside the text the user
// wrote, and it is a complete description of the run: running it again gives the same weights, bit for bit.

@Suite("resolved configuration", .serialized)
struct ResolvedConfigurationTests {
    /// A small run over several settings families: training settings, a searched temperature feeding a step
    /// schedule with no base, and PPO with its reward and sampling settings, each mostly left to its defaults
    /// (PPO keeps its last student, so the compared weights are the ones its update made).
    static let text = tinyRunHead + """

        stages:
          - kind: teacher-sft
            steps: 3
            batch_size: 4
            learning_rate: 0.01
          - kind: temperature-search
            trials: 2
            steps_per_trial: 1
            batch_size: 4
            data: reference
          - kind: output-distill
            steps: 2
            batch_size: 4
            temperature: {schedule: step}
            data: reference
          - kind: ppo-trace
            iterations: 1
            validation_problems: 2
            restore_best: false
            ppo: {prompts_per_iteration: 2, max_new_tokens: 8, minibatches: 1, advantage: grpo, group_size: 2}
        """

    /// Every parameter of every role in `file`, as bit patterns, by role and name.
    private func weights(_ file: String) throws -> [String: [UInt32]] {
        let r = try CheckpointReader(path: file)
        var out: [String: [UInt32]] = [:]
        for role in try r.roles() {
            for p in try r.rawParameters(role: role) { out[role + "/" + p.name] = p.values.map(\.bitPattern) }
        }
        return out
    }

    @Test("every checkpoint stores the resolved YAML beside the original; `distill run` on it reproduces the final weights bit for bit")
    func resolvedReproducesTheRun() throws {
        try withRunFolder("resolved") { dir in
            let first = try Curriculum(text: Self.text, file: dir + "/a.yaml")
            #expect(try CurriculumRunner(curriculum: first, runDirectory: dir + "/a").run() == .completed)
            let last = "/stage-3-ppo-trace.h5"
            let stored = try CheckpointReader(path: dir + "/a" + last)
            #expect(stored.curriculum == Self.text, "the text as written stays stored")
            let resolved = try #require(stored.resolvedCurriculum)
            #expect(resolved == first.resolvedDescription)
            // defaults the file left out are written in the resolved text
            for key in ["warmup_steps:", "min_learning_rate:", "clip_epsilon", "first_invalid_penalty", "keep_checkpoints: 2"] {
                #expect(resolved.contains(key), "\(key) missing from the resolved configuration:\n\(resolved)")
            }
            let periodic = try FileManager.default.contentsOfDirectory(atPath: dir + "/a").filter { $0.hasPrefix("step-") }
            for name in periodic {
                #expect(try CheckpointReader(path: dir + "/a/" + name).resolvedCurriculum == resolved, "\(name)")
            }

            let again = try Curriculum(text: resolved, file: dir + "/resolved.yaml")
            #expect(try CurriculumRunner(curriculum: again, runDirectory: dir + "/b").run() == .completed)
            let a = try weights(dir + "/a" + last), b = try weights(dir + "/b" + last)
            #expect(!a.isEmpty && a.keys.sorted() == b.keys.sorted())
            for key in a.keys.sorted() where a[key] != b[key] {
                Issue.record("\(key) differs between the run and its resolved re-run")
            }
            // and the re-run's resolved configuration is the same text (a fixed point)
            #expect(try CheckpointReader(path: dir + "/b" + last).resolvedCurriculum == resolved)
        }
    }

    /// Runs `text` in `dir/a`, then its stored resolved YAML in `dir/b`: the final weights must be the same bits, and
    /// the re-run's resolved text the same (a fixed point). Returns the resolved text.
    @discardableResult
    private func rerunsFromResolved(_ text: String, in dir: String, last: String) throws -> String {
        let first = try Curriculum(text: text, file: dir + "/a.yaml")
        #expect(try CurriculumRunner(curriculum: first, runDirectory: dir + "/a").run() == .completed)
        let resolved = try #require(try CheckpointReader(path: dir + "/a" + last).resolvedCurriculum)
        #expect(resolved == first.resolvedDescription)
        let again = try Curriculum(text: resolved, file: dir + "/resolved.yaml")
        #expect(again.settings == first.resolvedSettings, "the resolved YAML reads back to the resolved root settings")
        #expect(try CurriculumRunner(curriculum: again, runDirectory: dir + "/b").run() == .completed)
        let a = try weights(dir + "/a" + last), b = try weights(dir + "/b" + last)
        #expect(!a.isEmpty && a.keys.sorted() == b.keys.sorted())
        for key in a.keys.sorted() where a[key] != b[key] {
            Issue.record("\(key) differs between the run and its resolved re-run")
        }
        #expect(try CheckpointReader(path: dir + "/b" + last).resolvedCurriculum == resolved)
        return resolved
    }

    @Test("data, teacher and student settings: an imported teacher with a student cut from its layers, then a teacher checkpoint, each re-run from the resolved YAML bit for bit")
    func resolvedModelsAndData() throws {
        let chatTeacher = packageRoot + "/Tests/ModelIOTests/Fixtures/hf/qwen2-chat"
        let stages = """

            stages:
              - kind: teacher-sft
                steps: 2
                batch_size: 2
              - kind: output-distill
                steps: 2
                batch_size: 2
            """
        try withRunFolder("resolved-models") { dir in
            // every data key the built-in generator reads, a real teacher (Hugging Face folder) and a cut student
            let imported = """
                name: imported
                seed: 4
                run: {checkpoint_every: 2}
                data: {domains: [subtraction, addition], difficulty: 2, train_size: 12, reference_traces: 6, validation_size: 4, seed: 21, max_length: 160, prompt_template: chatml}
                teacher: {hf: \(chatTeacher), hidden_dropout: 0.05}
                student: {from_teacher: {every: 2}, hidden_dropout: 0.1}
                """ + stages
            let resolved = try rerunsFromResolved(imported, in: dir + "/imported", last: "/stage-1-output-distill.h5")
            for line in ["difficulty: 2", "reference_traces: 6", "seed: 21", "prompt_template: chatml", "hf: \"\(chatTeacher)\"",
                         "from_teacher:", "layers: [0]", "hidden_dropout: 0.1"] {
                #expect(resolved.contains(line), "\(line) missing from:\n\(resolved)")
            }
            // the trained teacher of that run as a checkpoint; a student cut from it by a layer list
            let teacherFile = dir + "/imported/a/stage-0-teacher-sft.h5"
            let fromCheckpoint = """
                name: from-checkpoint
                seed: 6
                run: {checkpoint_every: 2}
                data: {domains: [addition], train_size: 8, validation_size: 4, max_length: 160}
                teacher: {checkpoint: \(teacherFile)}
                student: {from_teacher: {layers: [1]}}
                """ + stages
            let second = try rerunsFromResolved(fromCheckpoint, in: dir + "/checkpoint", last: "/stage-1-output-distill.h5")
            #expect(second.contains("checkpoint: \"\(teacherFile)\"") && second.contains("seed: 6"), "\(second)")
        }
    }
}
