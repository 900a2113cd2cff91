import Eval
import Stages
import Testing

// Stage kinds say what they are (their report row, whether they leave teacher traces, their distillation steps);
// a kind registered from a script is treated by what it says, never by its name.

/// Settings of a script's stage kind that leaves teacher traces (as `teacher-traces` does) and trains nothing.
struct TraceSourceConfiguration: StageConfiguration {
    init(_ node: ConfigNode) throws {}
    var producesTeacherTraces: Bool { true }
}

@Suite("stage kinds describe themselves")
struct StageTraitsTests {
    @Test("a registered kind that produces teacher traces makes a later output-distill default to them, as teacher-traces does")
    func scriptTraceSource() throws {
        var registry = StageRegistry.standard
        registry.register(StageKind(name: "my-traces", reportRow: .none(note: "only writes traces"), parse: TraceSourceConfiguration.init) { _, _, _ in
            CountUpStage(total: 1)
        })
        let stages = "\nstages:\n  - kind: KIND\n  - kind: output-distill\n    steps: 2\n"
        let mine = try Curriculum(text: tinyRunHead + stages.replacingOccurrences(of: "KIND", with: "my-traces"), registry: registry)
        let builtIn = try Curriculum(text: tinyRunHead + stages.replacingOccurrences(of: "KIND", with: "teacher-traces"), registry: registry)
        let count = try Curriculum(text: tinyRunHead + stages.replacingOccurrences(of: "KIND", with: "count-up"),
                                   registry: { var r = registry; r.register(CountUpStage.kind); return r }())
        #expect(mine.hasTeacherTraces(before: 1) && builtIn.hasTeacherTraces(before: 1) && !count.hasTeacherTraces(before: 1))
        #expect(!mine.hasTeacherTraces(before: 0))
        // the resolved configuration shows the default each stage runs with
        #expect(mine.resolvedDescription.contains("data: teacher_traces") && builtIn.resolvedDescription.contains("data: teacher_traces"))
        #expect(!count.resolvedDescription.contains("data: teacher_traces") && count.resolvedDescription.contains("data: reference"))
    }

    @Test("the report plan asks each kind for its row: a script's data-only kind gets a note, an unknown kind a student row")
    func reportRows() throws {
        var registry = StageRegistry.standard
        registry.register(StageKind(name: "my-traces", reportRow: .none(note: "only writes traces"), parse: TraceSourceConfiguration.init) { _, _, _ in
            CountUpStage(total: 1)
        })
        #expect(registry.reportRow(ofKind: "teacher-sft") == .teacher && registry.reportRow(ofKind: "baseline-ce") == .baseline)
        #expect(registry["output-distill"]?.trainsStudent == true && registry["teacher-logits"]?.trainsStudent == false)
        let files = ["stage-0-teacher-sft.h5", "stage-1-my-traces.h5", "stage-2-output-distill.h5", "stage-3-unknown-kind.h5"]
            .map { RunReportPlan.StageFile.parse(name: $0, folder: "/run")! }
        let plan = try RunReportPlan(stageFiles: files, roles: { _ in ["teacher", "student"] }, folder: "/run",
                                     rowOf: registry.reportRow(ofKind:))
        #expect(plan.rows.map(\.label) == ["teacher", "student after output-distill", "student after unknown-kind"])
        #expect(plan.notes.contains("stage-1-my-traces.h5: my-traces only writes traces; no row"), "\(plan.notes)")
    }
}
