/// What a stage kind's end-of-stage file (`stage-<index>-<kind>.h5`) adds to a run report. Each stage kind says
/// its own (`StageKind.reportRow` in Stages); `RunReportPlan` asks, and matches no kind by name.
public enum StageReportRow: Sendable, Equatable {
    /// The trained teacher: role `teacher`, row `teacher`.
    case teacher
    /// The student as the stage left it: role `student`, row `student after <kind>`.
    case student
    /// The CE-only baseline: role `baseline`, row `baseline (CE only)`.
    case baseline
    /// No row; `note` says why (`only writes traces`), shown under the table.
    case none(note: String)
}
