import Foundation
import Stages
import TestSupport
import Testing

// The on-policy-distill stage through the built `distill`: a run killed mid-stage and at its boundary resumes
// bit-identically. Its settings and losses are StagesTests' OnPolicyDistillStageTests and PPOTests.

@Suite("on-policy-distill through distill", .serialized)
struct OnPolicyDistillCommandTests {
    static let killCurriculum = """
    # on-policy-distill after a small teacher: both objectives, lambda's mix, the entropy target and the reward on
    name: opd-kill
    seed: 12
    run: {checkpoint_every: 4, keep_checkpoints: 3, log_every: 4}
    data: {domains: [addition], difficulty: 1, train_size: 48, validation_size: 8, max_length: 96}
    teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
    student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
    stages:
      - kind: teacher-sft
        steps: 20
        batch_size: 8
        learning_rate: 0.01
      - kind: teacher-traces
        samples: 1
        questions_per_step: 16
        limit: 16
        max_new_tokens: 60
      - kind: on-policy-distill
        iterations: 12
        eval_every: 5
        validation_problems: 8
        restore_best: false
        beta: 0.5
        lambda: 0.5
        data: both
        learning_rate: 0.003
        prompts_per_iteration: 4
        samples_per_prompt: 2
        max_new_tokens: 40
        temperature: {entropy_target: {target: 0.5}}
        reward_weight: 0.5
      - kind: on-policy-distill
        objective: reverse_kl_pg
        iterations: 6
        eval_every: 3
        validation_problems: 8
        restore_best: false
        learning_rate: 0.003
        prompts_per_iteration: 4
        max_new_tokens: 40
        reward_weight: 0.5
        reward_discount: 0
    """

    private func run(_ distill: String, _ args: [String], fault: String? = nil) throws -> ProcessResult {
        var env = childEnvironment()
        if let fault { env["TRACEDISTILL_FAULT"] = fault }
        return try runProcess(distill, args, environment: env, currentDirectory: packageRoot, timeout: 300)
    }

    @Test("SIGKILL mid on-policy-distill (gkd with lambda 0.5, then reverse_kl_pg) and at its stage boundary: resumed runs end bit-identical")
    func killAndResume() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("opd-kill") { dir in
            let curriculum = dir + "-opd.yaml"
            try Self.killCurriculum.write(toFile: curriculum, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: curriculum) }
            let clean = try run(distill, ["run", curriculum, "--run-dir", dir + "/clean"])
            #expect(clean.succeeded, "\(clean)")
            let final = "stage-3-on-policy-distill.h5"
            let want = try roleHashes(distill, dir + "/clean/" + final)
            #expect(Set(want.keys) == ["teacher", "student"], "\(want.keys)")
            // the stages trained the student: it differs from the student the teacher-traces stage handed on
            let handed = try roleHashes(distill, dir + "/clean/stage-1-teacher-traces.h5")
            let afterGKD = try roleHashes(distill, dir + "/clean/stage-2-on-policy-distill.h5")
            #expect(handed["student"] != afterGKD["student"] && afterGKD["student"] != want["student"])
            let rows = try String(contentsOfFile: dir + "/clean/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            let gkdRows = rows.filter { $0.contains("\"stage\":\"on-policy-distill\"") && $0.contains("\"on_policy\"") }
            // lambda 0.5 over 12 iterations: both kinds of batch occur (the draw is seeded, so this is fixed)
            #expect(gkdRows.contains { $0.contains("\"on_policy\":1") } && gkdRows.contains { $0.contains("\"on_policy\":0") }, "\(gkdRows)")
            #expect(rows.contains { $0.contains("validation/answer_accuracy") && $0.contains("validation/start_answer_accuracy") })

            // teacher-sft is 20 global steps and teacher-traces 1: 27 is mid gkd, 36 mid reverse_kl_pg
            for fault in ["kill-after-step:27", "kill-after-stage:2", "kill-after-step:36"] {
                let d = dir + "/" + fault.replacingOccurrences(of: ":", with: "-")
                let killed = try run(distill, ["run", curriculum, "--run-dir", d], fault: fault)
                #expect(killed.signaled, "\(fault): the run should have been killed: \(killed)")
                let resumed = try run(distill, ["resume", d])
                #expect(resumed.succeeded, "\(fault): \(resumed)")
                #expect(resumed.stderr.contains("resuming from"))
                #expect(try roleHashes(distill, d + "/" + final) == want, "\(fault): weights differ from the uninterrupted run")
                #expect(try metricRowKeys(d) == metricRowKeys(dir + "/clean"), "\(fault): metrics.jsonl rows differ")
            }
        }
    }
}
