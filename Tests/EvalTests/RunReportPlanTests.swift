import Eval
import Stages
import Testing

// Which rows `distill report` evaluates, from the stage file names and the roles each file holds.

/// What the built-in stage kinds say their files give.
private func standardRow(_ kind: String) -> StageReportRow? { StageRegistry.standard.reportRow(ofKind: kind) }

private func files(_ names: [String]) -> [RunReportPlan.StageFile] {
    names.map { RunReportPlan.StageFile.parse(name: $0, folder: "/run")! }
}

@Test func stageFileNames() {
    let f = RunReportPlan.StageFile.parse(name: "stage-12-output-distill.h5", folder: "/run")
    #expect(f == RunReportPlan.StageFile(index: 12, kind: "output-distill", path: "/run/stage-12-output-distill.h5"))
    for name in ["step-100.h5", "stage-x-ppo.h5", "stage-1-.h5", "stage-1-ppo-trace.h5.tmp", "stage--1-ppo.h5", ".stage-1-a.h5.tmp-42",
                 "stage-1-ppo trace.h5", "stage-1.h5"] {
        #expect(RunReportPlan.StageFile.parse(name: name, folder: "/run") == nil, "\(name)")
    }
}

@Test func fullCurriculumRows() throws {
    let roles: [String: [String]] = [
        "/run/stage-0-teacher-sft.h5": ["teacher"],
        "/run/stage-1-teacher-traces.h5": ["teacher"],
        "/run/stage-2-output-distill.h5": ["student", "teacher"],
        "/run/stage-3-feature-align.h5": ["projection", "student", "teacher"],
        "/run/stage-4-ppo-trace.h5": ["student", "value_head"],
        "/run/stage-5-baseline-ce.h5": ["baseline"],
    ]
    let plan = try RunReportPlan(stageFiles: files(roles.keys.map { String($0.dropFirst(5)) }), roles: { roles[$0]! }, folder: "/run", rowOf: standardRow)
    #expect(plan.rows.map(\.label) == ["teacher", "student after output-distill", "student after feature-align",
                                       "student after ppo-trace", "baseline (CE only)"])
    #expect(plan.rows.map(\.role) == ["teacher", "student", "student", "student", "baseline"])
    #expect(plan.rows.map(\.stageIndex) == [0, 2, 3, 4, 5])
    #expect(plan.rows[0].file == "/run/stage-0-teacher-sft.h5")
    #expect(plan.notes.count == 1 && plan.notes[0].contains("teacher-traces"))
}

@Test func teacherFallbackMissingBaselineAndOddStages() throws {
    // No teacher-sft stage (a given teacher): the first file with a teacher supplies the row; an unknown student
    // stage kind gets a row; a stage file without a student is noted; no baseline is noted.
    let roles: [String: [String]] = [
        "/run/stage-0-teacher-traces.h5": ["teacher"],
        "/run/stage-1-output-distill.h5": ["student", "teacher"],
        "/run/stage-2-grpo-trace.h5": ["student"],
        "/run/stage-3-export.h5": ["reference"],
    ]
    let plan = try RunReportPlan(stageFiles: files(roles.keys.map { String($0.dropFirst(5)) }), roles: { roles[$0]! }, folder: "/run", rowOf: standardRow)
    #expect(plan.rows.map(\.label) == ["teacher", "student after output-distill", "student after grpo-trace"])
    #expect(plan.rows[0].file == "/run/stage-0-teacher-traces.h5")
    #expect(plan.notes.contains { $0.contains("no teacher-sft stage") && $0.contains("stage-0-teacher-traces.h5") })
    #expect(plan.notes.contains { $0.contains("stage-3-export.h5") && $0.contains("no student role") })
    #expect(plan.notes.contains { $0.contains("no baseline-ce stage") })

    let noTeacher = try RunReportPlan(stageFiles: files(["stage-0-output-distill.h5"]), roles: { _ in ["student"] }, folder: "/run", rowOf: standardRow)
    #expect(noTeacher.rows.map(\.label) == ["student after output-distill"])
    #expect(noTeacher.notes.contains("no stage file holds a teacher: no teacher row"))
}

@Test func badRunFoldersAreTypedErrors() {
    #expect(throws: EvalError.runFolder(path: "/run", reason: "two checkpoints for stage 2: stage-2-a.h5 and stage-2-b.h5; remove the stale one")) {
        try RunReportPlan(stageFiles: files(["stage-2-a.h5", "stage-2-b.h5"]), roles: { _ in ["student"] }, folder: "/run", rowOf: standardRow)
    }
    #expect(throws: EvalError.missingRole(file: "/run/stage-0-teacher-sft.h5", role: "teacher", available: ["student"])) {
        try RunReportPlan(stageFiles: files(["stage-0-teacher-sft.h5"]), roles: { _ in ["student"] }, folder: "/run", rowOf: standardRow)
    }
    #expect(throws: EvalError.missingRole(file: "/run/stage-1-baseline-ce.h5", role: "baseline", available: ["student"])) {
        try RunReportPlan(stageFiles: files(["stage-1-baseline-ce.h5"]), roles: { _ in ["student"] }, folder: "/run", rowOf: standardRow)
    }
}
