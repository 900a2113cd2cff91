import Checkpoint
import Eval
import Foundation
import Model
import ModelIO
import Stages
import TestSupport
import Testing

// Issue 24's `prune` stage through the built `distill`: the student comes out physically smaller and a later stage
// trains the smaller one, a run killed mid-round resumes bit-identical, the pruned checkpoint exports to a Hugging
// Face folder and a GGUF file that read back with the new shapes, and min_accuracy stops the stage. The settings
// checks are StagesTests' PruneStageTests.

@Suite("prune stage through distill", .serialized)
struct PruneCommandTests {
    /// Student: 2 layers, d 32, 4 query heads in 2 KV groups of width 8, MLP 48, vocabulary 97 (the math tokenizer).
    /// Global steps: teacher-sft 1-4, prune 5-13 (3 rounds of 3 steps), output-distill 14-16; checkpoints every 2 steps.
    static let curriculum = """
    \(tinyRunHead)
    stages:
      - kind: teacher-sft
        steps: 4
        batch_size: 2
      - kind: prune
        target: 0.8
        fraction_per_round: 0.1
        steps_per_round: 3
        batch_size: 2
        validation_problems: 4
        max_new_tokens: 40
        data: reference
      - kind: output-distill
        steps: 3
        batch_size: 2
        data: reference

    """

    /// The parameter count of a Llama student by hand from its checkpoint config: untied embedding and head, two
    /// norms per layer and the final one, q and o of heads x head_dim, k and v of kv_heads x head_dim, SwiGLU.
    private func handCount(_ c: TransformerConfig) -> Int {
        let h = c.hiddenSize, d = c.headDim
        let layer = 2 * h + h * c.numAttentionHeads * d * 2 + 2 * h * c.numKeyValueHeads * d + 3 * h * c.intermediateSize
        return 2 * c.vocabSize * h + h + c.numHiddenLayers * layer
    }

    private func distill(_ exe: String, _ args: [String], fault: String? = nil) throws -> ProcessResult {
        var env = childEnvironment()
        if let fault { env["TRACEDISTILL_FAULT"] = fault }
        return try runProcess(exe, args, environment: env, timeout: 300)
    }

    private func rows(_ run: String) throws -> [[String: Any]] {
        try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    @Test("prune then output-distill: the student is physically smaller, one validation row per round, the next stage trains the smaller one; its HF and GGUF exports read back")
    func pruneThenDistill() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("prune") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml", run = dir + "/run"
            try Self.curriculum.write(toFile: yaml, atomically: true, encoding: .utf8)
            let r = try distill(exe, ["run", yaml, "--run-dir", run])
            #expect(r.succeeded, "\(r)")
            let before = try CheckpointReader(path: run + "/stage-0-teacher-sft.h5")
            let pruned = try CheckpointReader(path: run + "/stage-1-prune.h5")
            let after = try CheckpointReader(path: run + "/stage-2-output-distill.h5")
            let start = try before.transformerConfig(role: "student"), small = try pruned.transformerConfig(role: "student")
            // by hand: 97 x 32 x 2 + 32 + 2 x (64 + 2 x 32 x 32 + 2 x 32 x 16 + 3 x 32 x 48) = 21,728
            #expect(handCount(start) == 21_728)
            let stored = try pruned.parameters(role: "student").reduce(0) { $0 + $1.shape.reduce(1, *) }
            #expect(stored == handCount(small), "the checkpoint's tensors hold the config's shapes")
            // at or above 80% of 21,728 (17,383), within one MLP channel per layer (2 x 96) of it
            #expect(stored >= 17_383 && stored < 17_383 + 2 * 96, "\(stored) parameters")
            #expect(small.numHiddenLayers == 2 && small.hiddenSize == 32 && small.headDim == 8)
            // the frozen start and the kept copy do not outlive the stage
            #expect(try !pruned.roles().contains("prune_teacher") && !pruned.roles().contains("prune_kept"))

            // metrics.jsonl: the start in the first prune step's row, then one validation row per round
            let all = try rows(run)
            let first = try #require(all.first { ($0["stage_index"] as? Int) == 1 })
            #expect(first["start/parameters"] as? Double == 21_728 && first["start/accuracy"] != nil)
            let rounds = all.filter { ($0["stage_index"] as? Int) == 1 && $0["validation/round"] != nil }
            #expect(rounds.map { $0["validation/round"] as? Double } == [1, 2, 3], "\(rounds)")
            let counts = [21_728.0] + rounds.compactMap { $0["validation/parameters"] as? Double }
            #expect(counts.last == Double(stored))
            // each round removes something and at most 10% of the 15,360 prunable parameters
            // (2 layers x (2 groups x 1,536 + 48 channels x 96)), by hand
            for (a, b) in zip(counts, counts.dropFirst()) { #expect(b < a && a - b <= 1_536, "\(a) -> \(b)") }
            for row in rounds {
                #expect((row["validation/tokens_per_second"] as? Double ?? 0) > 0 && row["validation/accuracy"] != nil, "\(row)")
            }

            // distill report's pruning table: the same rounds, read back from the stage file's metric history
            let table = try #require(PruningRounds(stageIndex: 1, history: try pruned.metrics()[1] ?? [:], finalParameters: stored))
            #expect(table.rounds.map(\.round) == [0, 1, 2, 3] && table.rounds.map { Double($0.parameters) } == counts)
            #expect(table.rounds.map(\.accuracy) == [first["start/accuracy"] as? Double] + rounds.map { $0["validation/accuracy"] as? Double })
            #expect(!table.rounds.contains { $0.undone })
            let report = try distill(exe, ["report", run, "--limit", "2", "--samples", "0", "--max-new-tokens", "4", "--quiet",
                                           "--out", dir + "/report"])
            #expect(report.succeeded && report.stdout.contains("pruning rounds (stage 1)"), "\(report)")
            let reportJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report/report.json"))) as? [String: Any]
            let pruning = try #require(reportJSON?["pruning"] as? [[String: Any]])
            #expect(pruning.count == 1 && (pruning.first?["rounds"] as? [Any])?.count == 4, "\(pruning)")

            // output-distill trained the pruned student: same shapes, other values; the teacher untouched
            #expect(try after.transformerConfig(role: "student") == small)
            let p1 = try pruned.loadTransformer(role: "student"), p2 = try after.loadTransformer(role: "student")
            let changed = p1.parameters.names.filter { p1.parameters[$0].toArray() != p2.parameters[$0].toArray() }
            #expect(changed.count == p1.parameters.names.count, "unchanged: \(Set(p1.parameters.names).subtracting(changed))")
            let t1 = try before.loadTransformer(role: "teacher"), t2 = try after.loadTransformer(role: "teacher")
            #expect(t1.parameters.names.allSatisfy { t1.parameters[$0].toArray() == t2.parameters[$0].toArray() })

            // export: the folder's config.json and tensors carry the pruned shapes and read back bit for bit
            let folder = dir + "/hf"
            let export = try distill(exe, ["export", run + "/stage-2-output-distill.h5", "--format", "hf", "--out", folder])
            #expect(export.succeeded, "\(export)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json"))) as? [String: Any])
            #expect(json["num_key_value_heads"] as? Int == small.numKeyValueHeads && json["intermediate_size"] as? Int == small.intermediateSize)
            let back = try ModelImporter.load(folder).model
            #expect(back.parameterCount == stored)
            for name in p2.parameters.names {
                #expect(back.parameters[name].toArray().map(\.bitPattern) == p2.parameters[name].toArray().map(\.bitPattern), "\(name)")
            }
            // and to GGUF at f32: the metadata's head and MLP counts are the pruned ones, the tensors read back bit for bit
            let gguf = dir + "/pruned.gguf"
            let ggufExport = try distill(exe, ["export", run + "/stage-2-output-distill.h5", "--format", "gguf", "--type", "f32", "--out", gguf])
            #expect(ggufExport.succeeded, "\(ggufExport)")
            let fromGGUF = try ModelImporter.load(gguf).model
            #expect(fromGGUF.config.numKeyValueHeads == small.numKeyValueHeads && fromGGUF.config.intermediateSize == small.intermediateSize)
            for name in p2.parameters.names {
                #expect(fromGGUF.parameters[name].toArray().map(\.bitPattern) == p2.parameters[name].toArray().map(\.bitPattern), "gguf \(name)")
            }
        }
    }

    @Test("SIGKILL mid-round, at a round's end, and inside a checkpoint write: resumed runs end bit-identical")
    func killAndResume() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("prune-kill") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml"
            try Self.curriculum.write(toFile: yaml, atomically: true, encoding: .utf8)
            let clean = try distill(exe, ["run", yaml, "--run-dir", dir + "/clean"])
            #expect(clean.succeeded, "\(clean)")
            let finals = ["stage-1-prune.h5", "stage-2-output-distill.h5"]
            let want = try finals.map { try roleHashes(exe, dir + "/clean/" + $0) }
            // after step 5 (round 1's first step; the newest checkpoint is the stage's start), after 9 (newest: step 8, round
            // 2 with one step done and its optimizer moments), after 13 (the last round's last step, before its validation), inside the 6th save
            for fault in ["kill-after-step:5", "kill-after-step:9", "kill-after-step:13", "kill-in-save:6"] {
                let d = dir + "/" + fault.replacingOccurrences(of: ":", with: "-")
                let killed = try distill(exe, ["run", yaml, "--run-dir", d], fault: fault)
                #expect(killed.signaled, "\(fault): the run should have been killed: \(killed)")
                if fault == "kill-after-step:9" {
                    // it does resume mid-round: the newest checkpoint, step 8, holds round 2 with 1 step done
                    let prune = try CheckpointReader(path: d + "/step-8.h5").stages()[1].controllers["prune"] ?? [:]
                    #expect(prune["round"] == 2 && prune["round_step"] == 1, "\(prune)")
                }
                let resumed = try distill(exe, ["resume", d])
                #expect(resumed.succeeded, "\(fault): \(resumed)")
                for (file, hashes) in zip(finals, want) {
                    #expect(try roleHashes(exe, d + "/" + file) == hashes, "\(fault): \(file) differs from the uninterrupted run")
                }
                #expect(try metricRowKeys(d) == metricRowKeys(dir + "/clean"), "\(fault): metrics.jsonl rows differ")
            }
        }
    }

    @Test("score: activation ranks on calibration traces and resumes bit-identical after a kill mid-round")
    func activationScoreResume() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("prune-activation") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml"
            try Self.curriculum.replacingOccurrences(of: "    target: 0.8\n", with: "    target: 0.8\n    score: activation\n    calibration: 4\n")
                .write(toFile: yaml, atomically: true, encoding: .utf8)
            let clean = try distill(exe, ["run", yaml, "--run-dir", dir + "/clean"])
            #expect(clean.succeeded, "\(clean)")
            let small = try CheckpointReader(path: dir + "/clean/stage-1-prune.h5").parameters(role: "student").reduce(0) { $0 + $1.shape.reduce(1, *) }
            #expect(small >= 17_383 && small < 17_383 + 2 * 96, "\(small) parameters")
            let d = dir + "/killed"
            #expect(try distill(exe, ["run", yaml, "--run-dir", d], fault: "kill-after-step:9").signaled)
            #expect(try distill(exe, ["resume", d]).succeeded)
            for file in ["stage-1-prune.h5", "stage-2-output-distill.h5"] {
                #expect(try roleHashes(exe, d + "/" + file) == roleHashes(exe, dir + "/clean/" + file), "\(file) differs from the uninterrupted run")
            }
        }
    }

    @Test("min_accuracy above the student's accuracy before any pruning stops the stage and says what to change")
    func floorAboveStart() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("prune-floor") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml"
            // an untrained 4-step teacher-sft run: the student answers nothing right, so any positive floor is above it
            try Self.curriculum.replacingOccurrences(of: "    target: 0.8\n", with: "    target: 0.8\n    min_accuracy: 0.5\n")
                .write(toFile: yaml, atomically: true, encoding: .utf8)
            let r = try distill(exe, ["run", yaml, "--run-dir", dir + "/run"])
            #expect(!r.succeeded && r.stderr.contains("min_accuracy 0.5 is above the student's validation accuracy 0.0 before any pruning"),
                    "\(r)")
        }
    }
}
