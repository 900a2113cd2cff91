import Checkpoint
import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing

// The runner in-process: a stage kind defined here (not in Sources) runs without any runner change; a stop
// request ends a run after a checkpoint and resuming gives bit-identical weights; the distillation stages
// change every student weight and leave the teacher alone.

/// A stage kind that exists only in this test: each step adds 1 to the student's final norm and draws from the
/// run generator.
struct CountUpConfiguration: StageConfiguration {
    var steps: Int
    init(_ node: ConfigNode) throws { steps = try node.int("steps", 3, min: 1) }
}

final class CountUpStage: Stage {
    static let kind = StageKind(name: "count-up", parse: CountUpConfiguration.init) { c, _, _ in CountUpStage(total: c.steps) }
    let totalSteps: Int
    private(set) var step = 0
    private var draws = 0.0
    init(total: Int) { totalSteps = total }
    func advance(_ context: RunContext) throws -> [String: Double] {
        let w = context.student.parameters["model.norm.weight"]
        for i in 0..<w.count { w.ptr[i] += 1 }
        draws += context.rng.nextDouble()
        step += 1
        return ["count": Double(step), "draws": draws]
    }
    var isEvaluationDue: Bool { step == totalSteps }
    func evaluate(_ context: RunContext) throws -> StageEvaluation { StageEvaluation(metrics: ["validation/count": Double(step)]) }
    func progress() -> StageProgress { StageProgress(step: step, controllers: ["count": ["draws": draws]]) }
    func restore(_ p: StageProgress, context: RunContext) throws { step = p.step; draws = p.controllers["count"]?["draws"] ?? 0 }
    func finish(_ context: RunContext) throws {}
}

/// A stage kind that fails on its second step.
struct Broken: Error, CustomStringConvertible { var description: String { "the data source went away" } }

final class FailingStage: Stage {
    static let kind = StageKind(name: "fail-at-2", parse: CountUpConfiguration.init) { _, _, _ in FailingStage() }
    let totalSteps = 5
    private(set) var step = 0
    func advance(_ context: RunContext) throws -> [String: Double] {
        if step == 1 { throw Broken() }
        step += 1
        return [:]
    }
    var isEvaluationDue: Bool { false }
    func evaluate(_ context: RunContext) throws -> StageEvaluation { StageEvaluation(metrics: [:]) }
    func progress() -> StageProgress { StageProgress(step: step) }
    func restore(_ p: StageProgress, context: RunContext) throws { step = p.step }
    func finish(_ context: RunContext) throws {}
}

func snapshot(_ store: ParameterStore) -> [Float] { Array(UnsafeBufferPointer(start: store.values.base, count: store.count)) }

func withRunFolder<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
    let dir = NSTemporaryDirectory() + "stages-\(label)-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

@Suite("curriculum runner", .serialized)
struct RunnerTests {
    @Test("a stage kind defined in the test registers by name and runs through its whole state machine")
    func customStage() throws {
        var registry = StageRegistry.standard
        registry.register(CountUpStage.kind)
        let text = CurriculumTests.tiny + "\nstages:\n  - kind: count-up\n    steps: 4\n"
        let c = try Curriculum(text: text, registry: registry)
        try withRunFolder("custom") { dir in
            var events: [RunEvent] = []
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir, registry: registry, observer: { events.append($0) })
            let before = runner.context.student.parameters["model.norm.weight"].toArray()
            #expect(try runner.run() == .completed)
            let after = runner.context.student.parameters["model.norm.weight"].toArray()
            #expect(zip(before, after).allSatisfy { $1 == $0 + 4 })
            var states: [String] = []
            for e in events { if case .stateChanged(_, _, _, let to) = e { states.append(to.name) } }
            #expect(states == ["running", "evaluating", "completed"])
            let steps = events.compactMap { e -> Int? in if case .stepFinished(_, _, let s, _, _, _) = e { return s } else { return nil } }
            #expect(steps == [1, 2, 3, 4])
            let reader = try CheckpointReader(path: dir + "/stage-0-count-up.h5")
            let record = try #require(try reader.stages().first)
            #expect(record.kind == "count-up" && record.state == "completed" && record.step == 4)
            #expect(record.controllers["count"]?["draws"] != nil)
        }
    }

    @Test("a stage that throws ends failed with its reason on record; resume refuses and says why")
    func failure() throws {
        var registry = StageRegistry.standard
        registry.register(FailingStage.kind)
        let c = try Curriculum(text: CurriculumTests.tiny + "\nstages:\n  - kind: fail-at-2\n", registry: registry)
        try withRunFolder("fail") { dir in
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir, registry: registry)
            #expect(throws: RunError.self) { try runner.run() }
            let (path, _) = try CheckpointDirectory(path: dir).latestValid()
            let newest = try #require(path)
            let record = try #require(try CheckpointReader(path: newest).stages().first)
            #expect(record.state == "failed" && record.failureReason == "the data source went away" && record.step == 1)
            do {
                _ = try CurriculumRunner(resuming: dir, registry: registry)
                Issue.record("resuming a failed run must refuse")
            } catch let e as RunError {
                #expect("\(e)".contains("failed: the data source went away"))
            }
        }
    }

    @Test("teacher-sft is skipped when the curriculum names a teacher checkpoint; the run starts from those weights")
    func teacherCheckpoint() throws {
        try withRunFolder("teacher-file") { dir in
            // a trained-looking teacher: the curriculum's architecture with its own seed, saved as a checkpoint
            let first = try CurriculumRunner(curriculum: try Curriculum(text: CurriculumTests.tiny + "\nstages:\n  - kind: teacher-sft\n    steps: 2\n    batch_size: 2\n"),
                                             runDirectory: dir + "/a")
            #expect(try first.run() == .completed)
            let teacherFile = dir + "/a/stage-0-teacher-sft.h5"
            let text = CurriculumTests.tiny.replacingOccurrences(of: "teacher: {", with: "teacher: {checkpoint: \(teacherFile), ")
                + "\nstages:\n  - kind: teacher-sft\n    steps: 50\n"
            let runner = try CurriculumRunner(curriculum: try Curriculum(text: text), runDirectory: dir + "/b")
            #expect(snapshot(runner.context.teacher.parameters) == snapshot(first.context.teacher.parameters))
            var steps = 0
            let observed = try CurriculumRunner(curriculum: try Curriculum(text: text), runDirectory: dir + "/c",
                                                observer: { if case .stepFinished = $0 { steps += 1 } })
            #expect(try observed.run() == .completed)
            #expect(steps == 0, "the skipped stage did \(steps) steps")
            let record = try #require(try CheckpointReader(path: dir + "/c/stage-0-teacher-sft.h5").stages().first)
            #expect(record.state == "completed" && record.step == 0)
            #expect(try CheckpointReader(path: dir + "/c/stage-0-teacher-sft.h5").parameterHash(role: "teacher")
                    == CheckpointReader(path: teacherFile).parameterHash(role: "teacher"))
        }
    }

    @Test("distilling from teacher traces when the teacher kept none: `both` falls back to the references, `teacher_traces` stops with advice")
    func noTeacherTraces() throws {
        let head = CurriculumTests.tiny + """

        stages:
          - kind: teacher-traces
            samples: 1
            limit: 4
            max_new_tokens: 8
          - kind: output-distill
            steps: 1
            batch_size: 2

        """
        try withRunFolder("no-traces") { dir in
            let both = try CurriculumRunner(curriculum: try Curriculum(text: head + "    data: both\n"), runDirectory: dir + "/both")
            #expect(try both.run() == .completed)
            #expect(try both.context.teacherTraces().isEmpty, "an untrained teacher should keep no verified trace")
            let strict = try CurriculumRunner(curriculum: try Curriculum(text: head + "    data: teacher_traces\n"), runDirectory: dir + "/strict")
            do {
                try strict.run()
                Issue.record("output-distill on zero teacher traces must stop")
            } catch {
                #expect("\(error)".contains("kept no verified trace"), "\(error)")
            }
        }
    }

    @Test("stop request: checkpoint after the current step, then resume gives bit-identical weights")
    func stopAndResume() throws {
        let c = try Curriculum.load(path: packageRoot + "/curricula/smoke.yaml")
        try withRunFolder("stop") { dir in
            let reference = try CurriculumRunner(curriculum: c, runDirectory: dir + "/a")
            #expect(try reference.run() == .completed)

            var steps = 0
            let first = try CurriculumRunner(curriculum: c, runDirectory: dir + "/b", observer: { e in
                if case .stepFinished = e { steps += 1 }
            })
            first.stopRequested = { steps >= 23 ? SIGINT : nil }
            guard case .interrupted(let signal, let path) = try first.run() else {
                Issue.record("the run did not stop")
                return
            }
            #expect(signal == SIGINT && path.hasSuffix("step-23.h5"))
            let resumed = try CurriculumRunner(resuming: dir + "/b")
            #expect(try resumed.run() == .completed)
            for role in ["teacher", "student", "projection", "value_head", "baseline"] {
                let a = try CheckpointReader(path: dir + "/a/stage-6-baseline-ce.h5").parameterHash(role: role)
                let b = try CheckpointReader(path: dir + "/b/stage-6-baseline-ce.h5").parameterHash(role: role)
                #expect(a == b, "\(role) differs after resume")
            }

            // issue 7: after ppo-trace the validation reward is above its value at the stage's start
            let reader = try CheckpointReader(path: dir + "/a/stage-5-ppo-trace.h5")
            let record = try #require(try reader.stages().dropFirst(5).first)
            #expect(record.kind == "ppo-trace" && record.state == "completed")
            let start = try #require(record.controllers["start"]?["reward"])
            let series = try #require(try reader.metrics()[5]?["validation/reward"])
            let end = try #require(series.last(where: { !$0.isNaN }))
            #expect(end > start + 0.1, "validation reward \(start) at the start of ppo-trace, \(end) after it")
        }
    }

    @Test("distillation stages change every student weight and no teacher weight; feature-align saves its projection")
    func trainsStudentOnly() throws {
        let text = CurriculumTests.tiny + """

        stages:
          - kind: output-distill
            steps: 3
            batch_size: 4
            data: reference
          - kind: feature-align
            steps: 2
            batch_size: 4
            data: reference
        """
        let c = try Curriculum(text: text)
        try withRunFolder("student-only") { dir in
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir)
            let teacher0 = snapshot(runner.context.teacher.parameters)
            let student0 = runner.context.student.parameters
            let views = student0.views
            let before = snapshot(student0)
            #expect(try runner.run() == .completed)
            #expect(snapshot(runner.context.teacher.parameters) == teacher0)
            let after = snapshot(runner.context.student.parameters)
            for v in views {
                let changed = (v.offset..<(v.offset + v.count)).contains { before[$0] != after[$0] }
                #expect(changed, "\(v.name) did not change")
            }
            let roles = try CheckpointReader(path: dir + "/stage-1-feature-align.h5").roles()
            #expect(roles.contains("projection") && !roles.contains("student_best"))
        }
    }
}
