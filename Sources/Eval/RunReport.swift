import Foundation
import Model

/// The report of `distill report`: one table over a finished run, a row per stage (teacher, student after each
/// student stage, CE-only baseline), with params, accuracy, step validity, pass@k and tokens/s.
public struct RunReport: Sendable {
    /// One evaluated row.
    public struct Row: Sendable {
        /// What was evaluated.
        public var plan: RunReportPlan.Row
        /// How it did.
        public var report: ModelReport
        /// Mean per-token KL(teacher || this model) on the suite's reference traces (nats), nil for the teacher row
        /// or when it cannot be computed (no teacher row, another vocabulary).
        public var klToTeacher: Double?
    }

    /// The run folder.
    public var runDirectory: String
    /// The suite.
    public var suite: SuiteSummary
    /// The settings.
    public var config: EvalConfig
    /// The rows, in table order.
    public var rows: [Row]
    /// What the plan skipped or substituted.
    public var notes: [String]
    /// When the report was made (ISO 8601, UTC).
    public var createdUTC: String
    /// Each `prune` stage's rounds, shown under the table (the caller reads them from the stage files' metric history).
    public var pruning: [PruningRounds] = []

    /// Evaluates every row of `plan` on `suite`, loading one model at a time from `source`.
    /// - Parameter batches: how each row's decoding batches and its KL-to-teacher batches are run (`Evaluator.evaluate`'s
    ///   and `TeacherDivergence.meanKL`'s `batches`: under mpirun a block per rank, gathered in batch order).
    /// - Throws: the source's loading errors; `EvalError` from the evaluator.
    public init(runDirectory: String, plan: RunReportPlan, suite: EvalSuite, evaluator: Evaluator, source: ModelSource,
                progress: ((EvalProgress) -> Void)? = nil, batches: RowSplit.Map = RowSplit.mapInOneProcess) throws {
        var rows: [Row] = []
        // the teacher stays loaded so every other row's distributions can be compared with it
        let teacherRow = plan.rows.first { $0.role == "teacher" }
        let teacher = try teacherRow.map { try source.model(inFile: $0.file, role: $0.role) }
        for p in plan.rows {
            // the teacher row is the model already loaded for the comparisons, not a second copy of it
            let loaded = p.file == teacherRow?.file && p.role == teacherRow?.role ? teacher! : try source.model(inFile: p.file, role: p.role)
            let report = try evaluator.evaluate(model: loaded.model, codec: loaded.codec, suite: suite, label: p.label,
                                                role: p.role, progress: progress, batches: batches)
            let kl = p.role == "teacher" ? nil : try teacher.flatMap {
                try TeacherDivergence.meanKL(teacher: $0.model, student: loaded.model, codec: loaded.codec, problems: suite.problems,
                                             batches: batches)
            }
            rows.append(Row(plan: p, report: report, klToTeacher: kl))
        }
        self.runDirectory = runDirectory
        self.suite = SuiteSummary(suite)
        self.config = evaluator.config
        self.rows = rows
        self.notes = plan.notes
        self.createdUTC = utcNow()
    }

    /// The table: row, stage file, params, accuracy, step validity, pass@k for each k (n/a without sampling),
    /// tokens/s, and accuracy and step validity as fractions of the teacher's (the retention issue 8 asks for).
    public var table: MarkdownTable {
        let ks = config.resolvedKs
        let teacher = rows.first { $0.plan.role == "teacher" }?.report.greedy
        let headers = ["row", "stage file", "params", "accuracy", "step validity"] + (ks.isEmpty ? ["pass@k"] : ks.map { "pass@\($0)" })
            + ["tokens/s", "accuracy vs teacher", "step validity vs teacher", "KL to teacher"]
        let body = rows.map { r -> [String] in
            let m = r.report
            let pass = ks.isEmpty ? ["n/a"] : ks.map { Cell.percent(m.passAt($0)) }
            return [r.plan.label, (r.plan.file as NSString).lastPathComponent, Cell.count(m.parameterCount), Cell.percent(m.greedy.accuracy),
                    Cell.percent(m.greedy.stepValidity)] + pass
                + [Cell.number(m.timing.tokensPerSecond, decimals: 1), Cell.ratio(ratio(m.greedy.accuracy, teacher?.accuracy)),
                   Cell.ratio(ratio(m.greedy.stepValidity, teacher?.stepValidity)),
                   r.klToTeacher.map { Cell.number($0, decimals: 4) } ?? "n/a"]
        }
        return MarkdownTable(headers: headers, rows: body)
    }

    /// As JSON: each row's headline columns, accuracy and step validity as fractions of the teacher's, and the row's
    /// full model report (every key present; undefined values null).
    public var jsonObject: [String: Any] {
        let teacher = rows.first { $0.plan.role == "teacher" }?.report.greedy
        var out: [String: Any] = [
            "kind": "tracedistill-run-report", "created_utc": createdUTC, "run_directory": runDirectory,
            "suite": suite.jsonObject, "config": config.jsonObject, "notes": notes,
            "rows": rows.map { r -> [String: Any] in
                let m = r.report
                return ["label": r.plan.label, "role": r.plan.role, "file": r.plan.file, "stage_index": r.plan.stageIndex,
                        "stage_kind": r.plan.stageKind, "parameters": m.parameterCount, "model_bytes": m.modelBytes,
                        "accuracy": m.greedy.accuracy, "step_validity": json(m.greedy.stepValidity),
                        "pass_at_k": (m.sampling?.passAtK ?? []).map { ["k": $0.k, "value": $0.value] as [String: Any] },
                        "tokens_per_second": m.timing.tokensPerSecond,
                        "accuracy_vs_teacher": json(ratio(m.greedy.accuracy, teacher?.accuracy)),
                        "step_validity_vs_teacher": json(ratio(m.greedy.stepValidity, teacher?.stepValidity)),
                        "kl_to_teacher": json(r.klToTeacher), "model": m.jsonObject]
            },
        ]
        // only a run with a prune stage has the key, so other runs' report.json keeps its shape
        if !pruning.isEmpty { out["pruning"] = pruning.map(\.jsonObject) }
        return out
    }

    /// Writes report.json, report.md and completions.jsonl into `directory` (see `ReportFiles`).
    @discardableResult
    public func write(to directory: String) throws -> [String] {
        try ReportFiles.write(json: jsonObject, markdown: markdown, models: rows.map(\.report), to: directory)
    }

    /// The report as Markdown: the table, notes, settings, per-domain accuracy and the definitions.
    public var markdown: String {
        var out = ["# Run report: \(runDirectory)", "", table.text, ""]
        if !notes.isEmpty { out += notes.map { "- note: \($0)" } + [""] }
        out += pruning.flatMap(\.markdownLines)
        out += suite.markdownLines + config.markdownLines(models: rows.map(\.report)) + ["- created: \(createdUTC)", ""]
        out += ModelReport.domainSection(rows.map(\.report)) + ModelReport.notAttemptedSection(rows.map(\.report)) + ModelReport.definitions
        return out.joined(separator: "\n") + "\n"
    }
}

/// `value / reference`, nil when either is missing or the reference is 0.
func ratio(_ value: Double?, _ reference: Double?) -> Double? {
    guard let value, let reference, reference != 0 else { return nil }
    return value / reference
}
