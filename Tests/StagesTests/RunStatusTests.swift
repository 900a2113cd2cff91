import Checkpoint
import Data
import Eval
import Foundation
import Stages
import TestSupport
import Testing

// What `distill status` and `distill report --suite run` read from a run folder, as library calls: the status of
// runs made here in-process (the curriculum's steps and the stage's own metric values are the independent source),
// and the held-out suite rebuilt from the curriculum stored in the newest checkpoint.

@Suite("run folder reads: status and the run's held-out suite", .serialized)
struct RunStatusTests {
    @Test("a completed count-up run: one stage, completed 3/3, its last metrics, the newest checkpoint; JSON and text say the same")
    func completedRun() throws {
        var registry = StageRegistry.standard
        registry.register(CountUpStage.kind)
        let c = try Curriculum(text: CurriculumTests.tiny + "\nstages:\n  - kind: count-up\n    steps: 3\n", registry: registry)
        try withRunFolder("status") { dir in
            #expect(try CurriculumRunner(curriculum: c, runDirectory: dir, registry: registry).run() == .completed)
            let status = try RunStatus(runDirectory: dir)
            let (newest, _) = try CheckpointDirectory(path: dir).latestValid()
            #expect(status.newestCheckpoint == newest)
            #expect(status.skipped.isEmpty)
            #expect(status.globalStep == 3)
            #expect(status.stages.count == 1)
            let stage = try #require(status.stages.first)
            #expect(stage.index == 0 && stage.kind == "count-up" && stage.state == "completed")
            #expect(stage.step == 3 && stage.totalSteps == 3)
            #expect(stage.failureReason == nil)
            // CountUpStage reports count = its step and validation/count at the end; global_step is not a metric
            #expect(stage.lastMetrics["count"] == 3 && stage.lastMetrics["validation/count"] == 3)
            #expect(stage.lastMetrics["global_step"] == nil)

            let json = status.jsonObject
            #expect(json["run_dir"] as? String == dir && json["global_step"] as? Int == 3)
            #expect(json["rows_dropped_for_length"] is NSNull || json["rows_dropped_for_length"] is Int)
            let stages = try #require(json["stages"] as? [[String: Any]])
            #expect(stages.first?["total_steps"] as? Int == 3 && stages.first?["state"] as? String == "completed")
            #expect(JSONSerialization.isValidJSONObject(json))
            #expect(status.lines.first == "run \(dir): global step 3, newest checkpoint \(newest ?? "")")
            #expect(status.lines.contains { $0.hasPrefix("  [0] count-up: completed 3/3  ") && $0.contains("count=3") })
        }
    }

    @Test("a failed stage carries its reason; a folder without checkpoints is RunError.noCheckpoint")
    func failedAndEmpty() throws {
        var registry = StageRegistry.standard
        registry.register(FailingStage.kind)
        let c = try Curriculum(text: CurriculumTests.tiny + "\nstages:\n  - kind: fail-at-2\n", registry: registry)
        try withRunFolder("status-failed") { dir in
            #expect(throws: RunError.self) { try CurriculumRunner(curriculum: c, runDirectory: dir, registry: registry).run() }
            let stage = try #require(try RunStatus(runDirectory: dir).stages.first)
            #expect(stage.state == "failed" && stage.step == 1 && stage.failureReason == "the data source went away")
            #expect(try RunStatus(runDirectory: dir).lines.contains("  [0] fail-at-2: failed 1/5 (the data source went away)"))
        }
        try withRunFolder("status-empty") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            do {
                _ = try RunStatus(runDirectory: dir)
                Issue.record("a folder without checkpoints has no status")
            } catch let RunError.noCheckpoint(directory, skipped) {
                #expect(directory == dir && skipped.isEmpty)
            }
        }
    }

    @Test("the run suite is the held-out math-proof suite of the stored curriculum's domains")
    func runSuite() throws {
        var registry = StageRegistry.standard
        registry.register(CountUpStage.kind)
        let text = CurriculumTests.tiny.replacingOccurrences(of: "domains: [addition]", with: "domains: [addition, subtraction]")
            + "\nstages:\n  - kind: count-up\n    steps: 1\n"
        let c = try Curriculum(text: text, registry: registry)
        try withRunFolder("run-suite") { dir in
            #expect(try CurriculumRunner(curriculum: c, runDirectory: dir, registry: registry).run() == .completed)
            let suite = try EvalSuite.ofRun(directory: dir, perDomain: 3, registry: registry)
            #expect(suite.problems.count == 6)
            #expect(Set(suite.problems.map(\.domain)) == ["addition", "subtraction"])
            #expect(suite == (try MathProofSuite(domains: [.addition, .subtraction], countPerDomain: 3, difficulty: 1).generate()))
        }
    }
}
