import Checkpoint
import Foundation
import Stages
import TestSupport
import Testing

// Issue 27: what `distill resume` does with an edited curriculum.yaml, two processes on one run folder, and a
// checkpoint write that fails for want of space. Every run here is a tiny two-stage curriculum (a few seconds);
// the reference for "resume works" is the same curriculum run without interruption, compared with
// `distill inspect --hash` (SHA-256 over each role's parameters) as the SIGKILL resume tests do.

@Suite("resume: edited curriculum, one process per run folder, full disk", .serialized)
struct ResumeIntegrityTests {
    /// Stage 0 is global steps 1-6, stage 1 steps 7-10; checkpoints every 2 steps.
    static let curriculum = CurriculumTests.tiny + """

    run: {checkpoint_every: 2, keep_checkpoints: 2}
    stages:
      - kind: teacher-sft
        steps: 6
        batch_size: 2
      - kind: output-distill
        steps: 4
        batch_size: 2
        data: reference

    """
    static let final = "stage-1-output-distill.h5"

    private func distill(_ distill: String, _ args: [String], fault: String? = nil) throws -> ProcessResult {
        var env = childEnvironment()
        if let fault { env["TRACEDISTILL_FAULT"] = fault }
        return try runProcess(distill, args, environment: env, timeout: 300)
    }

    private func hashes(_ distill: String, _ file: String) throws -> [String: String] { try roleHashes(distill, file) }

    /// Writes the curriculum beside `dir`, runs it uninterrupted into `dir/clean` and returns its final hashes.
    private func cleanRun(_ exe: String, _ dir: String) throws -> (yaml: String, hashes: [String: String]) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let yaml = dir + "/c.yaml"
        try Self.curriculum.write(toFile: yaml, atomically: true, encoding: .utf8)
        let clean = try distill(exe, ["run", yaml, "--run-dir", dir + "/clean"])
        #expect(clean.succeeded, "\(clean)")
        let want = try hashes(exe, dir + "/clean/" + Self.final)
        #expect(Set(want.keys).isSuperset(of: ["teacher", "student"]))
        return (yaml, want)
    }

    /// Runs the curriculum into `run`, killed by SIGKILL right after global step `step`.
    private func killedRun(_ exe: String, _ yaml: String, _ run: String, afterStep step: Int) throws {
        let killed = try distill(exe, ["run", yaml, "--run-dir", run], fault: "kill-after-step:\(step)")
        #expect(killed.signaled, "the run should have been killed: \(killed)")
    }

    private func checkpoints(_ run: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasSuffix(".h5") || $0.contains(".tmp") }.sorted()
    }

    @Test("a comment-and-layout edit of curriculum.yaml is no change: resume continues and ends bit-identical")
    func commentOnlyEdit() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("edit-comment") { dir in
            let (yaml, want) = try cleanRun(exe, dir)
            let run = dir + "/run"
            try killedRun(exe, yaml, run, afterStep: 3)
            let file = run + "/curriculum.yaml"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            // a comment, another indentation of a flow mapping, and a value written in another YAML spelling (4 = 0x4)
            let edited = "# tried a comment here\n" + text.replacingOccurrences(of: "run: {checkpoint_every: 2, keep_checkpoints: 2}",
                                                                                with: "run:\n    checkpoint_every: 2   # unchanged\n    keep_checkpoints: 2")
                .replacingOccurrences(of: "    steps: 4\n", with: "    steps: 0x4\n")
            #expect(edited != text && edited.contains("0x4"))
            try edited.write(toFile: file, atomically: true, encoding: .utf8)
            let resumed = try distill(exe, ["resume", run])
            #expect(resumed.succeeded, "\(resumed)")
            #expect(try hashes(exe, run + "/" + Self.final) == want, "weights differ from the uninterrupted run")
        }
    }

    @Test("a changed key refuses with the diff; --accept-changes continues, and the change is in the next checkpoint and metrics.jsonl")
    func changedKeyRefusedThenAccepted() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("edit-key") { dir in
            let (yaml, _) = try cleanRun(exe, dir)
            let run = dir + "/run"
            try killedRun(exe, yaml, run, afterStep: 3)  // newest checkpoint: step 2, stage 0 running
            let before = try checkpoints(run)
            let file = run + "/curriculum.yaml"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let edited = text.replacingOccurrences(of: "    steps: 4\n", with: "    steps: 5\n")
                .replacingOccurrences(of: "keep_checkpoints: 2}", with: "keep_checkpoints: 3}")
            try edited.write(toFile: file, atomically: true, encoding: .utf8)

            let refused = try distill(exe, ["resume", run])
            #expect(refused.status == 1 && !refused.signaled, "\(refused)")
            #expect(refused.stderr.contains("\(file) was edited after \(run)/step-2.h5 was written; 2 keys changed"), "\(refused.stderr)")
            #expect(refused.stderr.contains("stages[1].steps: 4 -> 5"), "\(refused.stderr)")
            #expect(refused.stderr.contains("run.keep_checkpoints: 2 -> 3"), "\(refused.stderr)")
            #expect(refused.stderr.contains("distill resume \(run) --accept-changes"), "\(refused.stderr)")
            #expect(try checkpoints(run) == before, "a refused resume must not touch the checkpoints")

            let accepted = try distill(exe, ["resume", run, "--accept-changes"])
            #expect(accepted.succeeded, "\(accepted)")
            #expect(accepted.stderr.contains("continuing with 2 changed keys (--accept-changes)"), "\(accepted.stderr)")
            // the checkpoints after the resume (here the end of stage 0) store the edited text and the record
            let next = try CheckpointReader(path: run + "/stage-0-teacher-sft.h5")
            #expect(next.curriculum == edited)
            let record = String(decoding: try #require(try next.artifacts()[CurriculumRunner.changesArtifact]), as: UTF8.self)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any], "\(record)")
            #expect(object["global_step"] as? Int == 2 && object["stage_index"] as? Int == 0, "\(record)")
            let keys = (object["changes"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }.sorted()
            #expect(keys == ["run.keep_checkpoints", "stages[1].steps"], "\(record)")
            // the edited curriculum ran: stage 1 took 5 steps (global steps 7-11)
            let status = try runDistill(exe, ["status", run, "--json"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let stages = json["stages"] as? [[String: Any]] ?? []
            #expect(stages.last?["step"] as? Int == 5 && json["global_step"] as? Int == 11, "\(status.stdout)")
            // metrics.jsonl: one row at step 2 saying which keys changed, with their new values
            let rows = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let change = rows.filter { $0["curriculum_changed_keys"] != nil }
            #expect(change.count == 1)
            #expect(change.first?["step"] as? Int == 2 && change.first?["curriculum_changed_keys"] as? Double == 2)
            #expect(change.first?["curriculum_change/stages[1].steps"] as? Double == 5)
            #expect(change.first?["curriculum_change/run.keep_checkpoints"] as? Double == 3)
        }
    }

    @Test("changes that cannot apply to a run in progress are refused even with --accept-changes; a deleted curriculum.yaml comes back from the checkpoint")
    func forbiddenChangeRefused() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("edit-forbidden") { dir in
            let (yaml, want) = try cleanRun(exe, dir)
            let run = dir + "/run"
            try killedRun(exe, yaml, run, afterStep: 9)  // newest checkpoint: step 8, stage 1 running, stage 0 completed
            let before = try checkpoints(run)
            let file = run + "/curriculum.yaml"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let edited = text.replacingOccurrences(of: "teacher: {hidden_size: 32,", with: "teacher: {hidden_size: 48,")
                .replacingOccurrences(of: "    steps: 6\n", with: "    steps: 7\n")
                .replacingOccurrences(of: "  - kind: output-distill", with: "  - kind: baseline-ce")
                .replacingOccurrences(of: "    data: reference\n", with: "")
            try edited.write(toFile: file, atomically: true, encoding: .utf8)
            let r = try distill(exe, ["resume", run, "--accept-changes"])
            #expect(r.status == 1 && !r.signaled, "\(r)")
            #expect(r.stderr.contains("cannot apply to the run in progress, even with --accept-changes"), "\(r.stderr)")
            #expect(r.stderr.contains("teacher.hidden_size: 32 -> 48 (the models' architecture"), "\(r.stderr)")
            #expect(r.stderr.contains("stages[0].steps: 6 -> 7 (stage 0 is already completed)"), "\(r.stderr)")
            #expect(r.stderr.contains("stages[1].kind: output-distill -> baseline-ce (stage 1 is in progress as output-distill"), "\(r.stderr)")
            #expect(try checkpoints(run) == before, "a refused resume must not touch the checkpoints")

            // deleting the file is the way back: resume writes it from the checkpoint and says so
            try FileManager.default.removeItem(atPath: file)
            let resumed = try distill(exe, ["resume", run])
            #expect(resumed.succeeded, "\(resumed)")
            #expect(resumed.stderr.contains("\(file) was missing; wrote it back from the checkpoint's curriculum"), "\(resumed.stderr)")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == text)
            #expect(try hashes(exe, run + "/" + Self.final) == want, "weights differ from the uninterrupted run")
        }
    }

    @Test("a second process on a run folder refuses at start naming the holder's pid; after kill -9 of the holder, resume works")
    func oneProcessPerFolder() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("lock") { dir in
            let (yaml, want) = try cleanRun(exe, dir)
            let run = dir + "/run"
            // the holder stops after global step 3 (checkpoint of step 2 on disk) and waits there, holding the lock
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: exe)
            holder.arguments = ["run", yaml, "--run-dir", run]
            var env = childEnvironment()
            env["TRACEDISTILL_FAULT"] = "stall-after-step:3"
            holder.environment = env
            holder.standardOutput = FileHandle.nullDevice
            holder.standardError = FileHandle.nullDevice
            try holder.run()
            defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
            let lockFile = run + "/" + RunFolderLock.fileName
            let deadline = Date().addingTimeInterval(240)
            while Date() < deadline && !FileManager.default.fileExists(atPath: run + "/step-2.h5") { Thread.sleep(forTimeInterval: 0.1) }
            #expect(FileManager.default.fileExists(atPath: run + "/step-2.h5"))
            #expect((try? String(contentsOfFile: lockFile, encoding: .utf8)) == "\(holder.processIdentifier)\n")

            let second = try distill(exe, ["resume", run])
            #expect(second.status == 1 && !second.signaled, "\(second)")
            #expect(second.stderr.contains("\(run) is in use: process \(holder.processIdentifier) holds its lock \(lockFile)"), "\(second.stderr)")
            #expect(holder.isRunning, "the refused resume must leave the holder alone")

            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
            #expect(holder.terminationReason == .uncaughtSignal)
            let resumed = try distill(exe, ["resume", run])
            #expect(resumed.succeeded, "the kernel released the dead holder's lock: \(resumed)")
            #expect(try hashes(exe, run + "/" + Self.final) == want, "weights differ from the uninterrupted run")
        }
    }

    @Test("a checkpoint write that hits the file-size limit names the file and the cause; the previous checkpoint stays valid and resume ends bit-identical")
    func fullDiskDuringCheckpoint() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("full-disk") { dir in
            let (yaml, want) = try cleanRun(exe, dir)
            let run = dir + "/run"
            try killedRun(exe, yaml, run, afterStep: 3)  // newest checkpoint: step 2
            let previous = run + "/step-2.h5"
            let size = try #require(try FileManager.default.attributesOfItem(atPath: previous)[.size] as? Int)
            let blocks = size / 1024 / 2  // `ulimit -f` counts 1024-byte blocks: half a checkpoint
            #expect(blocks > 8, "checkpoint of \(size) bytes")
            let limited = try runProcess("/bin/bash", ["-c", "ulimit -f \(blocks) && exec \"$0\" resume \"$1\"", exe, run],
                                         environment: childEnvironment(), timeout: 300)
            #expect(limited.status == 1 && !limited.signaled, "the write must fail with EFBIG, not kill the process: \(limited)")
            #expect(limited.stderr.contains("cannot write checkpoint \(run)/step-4.h5: file too large"), "\(limited.stderr)")
            #expect(limited.stderr.contains("file-size limit of \(blocks * 1024) bytes (RLIMIT_FSIZE"), "\(limited.stderr)")
            #expect(limited.stderr.contains("the previous checkpoint \(previous) is intact"), "\(limited.stderr)")
            #expect(!(try checkpoints(run)).contains { $0.contains(".tmp") }, "no temporary file is left behind")
            let verify = try runDistill(exe, ["inspect", previous])
            #expect(verify.succeeded, "\(verify)")

            let resumed = try distill(exe, ["resume", run])
            #expect(resumed.succeeded, "\(resumed)")
            #expect(resumed.stderr.contains("resuming from \(previous)"), "\(resumed.stderr)")
            #expect(try hashes(exe, run + "/" + Self.final) == want, "weights differ from the uninterrupted run")
        }
    }
}

@Suite("curriculum changes a run in progress refuses")
struct CurriculumChangeRuleTests {
    @Test("restore_best of the stage in progress may not change (its best copy was kept under the old setting); a later stage's may")
    func restoreBestInProgress() {
        let change = CurriculumKeyChange(key: "stages[1].restore_best", old: "false", new: "true")
        let refused = CurriculumDiff.refused([change], stageIndex: 1, stageCompleted: false)
        #expect(refused.count == 1 && refused.first?.reason.contains("in progress") == true, "\(refused)")
        #expect(CurriculumDiff.refused([change], stageIndex: 0, stageCompleted: false).isEmpty)
        // the stage in progress may still change its other settings
        #expect(CurriculumDiff.refused([CurriculumKeyChange(key: "stages[1].steps", old: "4", new: "5")], stageIndex: 1,
                                       stageCompleted: false).isEmpty)
    }

    @Test("a dictionary setting written in another key order is no change; another value is one change, keys sorted")
    func dictionaryOrder() throws {
        func curriculum(_ weights: String) throws -> Curriculum {
            try Curriculum(text: CurriculumTests.tiny + "\nstages:\n  - kind: ppo-trace\n    reward: {weights: \(weights)}\n")
        }
        let forward = try curriculum("{answer: 1, step_validity: 0.5, teacher_agreement: 0.25, format: 0.1, length: 0.1}")
        let backward = try curriculum("{length: 0.1, format: 0.1, teacher_agreement: 0.25, step_validity: 0.5, answer: 1}")
        #expect(CurriculumDiff.changes(from: forward, to: backward).isEmpty)
        let changed = CurriculumDiff.changes(from: forward, to: try curriculum("{length: 0.1, format: 0.1, teacher_agreement: 0.25, step_validity: 0.5, answer: 2}"))
        #expect(changed.map(\.description) == [#"stages[0].reward.weights: ["answer": 1.0, "format": 0.1, "length": 0.1, "step_validity": 0.5, "teacher_agreement": 0.25] -> ["answer": 2.0, "format": 0.1, "length": 0.1, "step_validity": 0.5, "teacher_agreement": 0.25]"#])
    }
}
