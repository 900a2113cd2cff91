import Checkpoint
import Foundation
import Stages
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
}
