import Foundation

/// The report of `distill eval`: one suite, one or two models (teacher and student side by side), and for a
/// teacher-student pair the retention ratio student / teacher of every headline metric.
public struct EvalReport: Sendable {
    /// One headline metric of a teacher and a student, and student / teacher.
    public struct Retention: Sendable, Equatable {
        /// The metric's name (`accuracy`, `pass@4`, ...).
        public var metric: String
        /// The teacher's value.
        public var teacher: Double?
        /// The student's value.
        public var student: Double?
        /// student / teacher; nil when either is missing or the teacher's value is 0.
        public var ratio: Double?
    }

    /// The suite evaluated.
    public var suite: SuiteSummary
    /// The checkpoint the models came from, if any.
    public var checkpoint: String?
    /// The settings.
    public var config: EvalConfig
    /// One report per model, in the order evaluated (teacher first with `--role both`).
    public var models: [ModelReport]
    /// When the report was made (ISO 8601, UTC).
    public var createdUTC: String

    /// A report of `models` on `suite`.
    public init(suite: EvalSuite, checkpoint: String?, config: EvalConfig, models: [ModelReport], createdUTC: String = utcNow()) {
        self.suite = SuiteSummary(suite)
        self.checkpoint = checkpoint
        self.config = config
        self.models = models
        self.createdUTC = createdUTC
    }

    /// Student / teacher for every headline metric, when the report holds a model of role `teacher` and one of
    /// another role (the first such); empty otherwise.
    public var retention: [Retention] {
        guard let teacher = models.first(where: { $0.role == "teacher" }),
              let student = models.first(where: { $0.role != "teacher" }) else { return [] }
        return Self.retention(teacher: teacher, student: student)
    }

    /// Student / teacher for every headline metric of the two reports.
    public static func retention(teacher: ModelReport, student: ModelReport) -> [Retention] {
        let t = teacher.headline, s = student.headline
        return t.map { name, tv in
            let sv = s.first { $0.name == name }?.value
            return Retention(metric: name, teacher: tv, student: sv, ratio: ratio(sv, tv))
        }
    }

    /// The report as a JSON object (snake_case keys; absent values are null, so every key is always present).
    public var jsonObject: [String: Any] {
        [
            "kind": "tracedistill-eval-report",
            "created_utc": createdUTC,
            "checkpoint": checkpoint as Any? ?? NSNull(),
            "suite": suite.jsonObject,
            "config": config.jsonObject,
            "models": models.map(\.jsonObject),
            "retention": retention.map { r -> [String: Any] in
                ["metric": r.metric, "teacher": json(r.teacher), "student": json(r.student), "ratio": json(r.ratio)]
            },
        ]
    }

    /// The summary table: a row per headline metric, a column per model, and student / teacher when there is a pair.
    public var summaryTable: MarkdownTable {
        let pairs = retention
        var headers = ["metric"] + models.map(\.label)
        if !pairs.isEmpty { headers.append("student / teacher") }
        let names = models.first?.headline.map(\.name) ?? []
        let rows = names.map { name -> [String] in
            var row = [name] + models.map { m in ModelReport.formatHeadline(name, m.headline.first { $0.name == name }?.value) }
            if !pairs.isEmpty { row.append(Cell.ratio(pairs.first { $0.metric == name }?.ratio)) }
            return row
        }
        return MarkdownTable(headers: headers, rows: rows)
    }

    /// Writes report.json, report.md and completions.jsonl into `directory` (see `ReportFiles`).
    @discardableResult
    public func write(to directory: String) throws -> [String] {
        try ReportFiles.write(json: jsonObject, markdown: markdown, models: models, to: directory)
    }

    /// The report as Markdown: settings, the summary table, per-domain accuracy and step validity, the
    /// distribution of the first invalid step, and any problems that could not be attempted.
    public var markdown: String {
        var out = ["# Evaluation on \(suite.name)", ""]
        if let checkpoint { out.append("- checkpoint: `\(checkpoint)`") }
        out += suite.markdownLines + config.markdownLines(models: models) + ["- created: \(createdUTC)", "", "## Summary", "",
                                                                              summaryTable.text, ""]
        out += ModelReport.domainSection(models) + ModelReport.firstInvalidSection(models) + ModelReport.notAttemptedSection(models)
        out += ModelReport.definitions
        return out.joined(separator: "\n") + "\n"
    }
}

/// What a report says about the suite.
public struct SuiteSummary: Sendable, Equatable {
    /// The suite's name.
    public var name: String
    /// Where it came from.
    public var source: String
    /// Its row format.
    public var format: SuiteFormat
    /// Problems evaluated.
    public var problems: Int
    /// Problems per domain, in the order domains first appear.
    public var domains: [(domain: String, problems: Int)]

    /// The summary of `suite`.
    public init(_ suite: EvalSuite) {
        name = suite.name
        source = suite.source
        format = suite.format
        problems = suite.problems.count
        var order: [String] = [], counts: [String: Int] = [:]
        for p in suite.problems {
            if counts[p.domain] == nil { order.append(p.domain) }
            counts[p.domain, default: 0] += 1
        }
        domains = order.map { ($0, counts[$0]!) }
    }

    /// Equal when every field is equal.
    public static func == (a: SuiteSummary, b: SuiteSummary) -> Bool {
        a.name == b.name && a.source == b.source && a.format == b.format && a.problems == b.problems
            && a.domains.map(\.domain) == b.domains.map(\.domain) && a.domains.map(\.problems) == b.domains.map(\.problems)
    }

    /// As JSON.
    var jsonObject: [String: Any] {
        ["name": name, "source": source, "format": format.rawValue, "problems": problems,
         "domains": domains.map { ["domain": $0.domain, "problems": $0.problems] as [String: Any] }]
    }

    /// Bullet lines for Markdown reports.
    var markdownLines: [String] {
        ["- suite: \(name) (\(source), \(format.rawValue) format), \(problems) problems: "
            + domains.map { "\($0.domain) \($0.problems)" }.joined(separator: ", ")]
    }
}

extension EvalConfig {
    /// As JSON.
    var jsonObject: [String: Any] {
        ["max_new_tokens": maxNewTokens, "batch_size": batchSize, "samples": samples, "k": resolvedKs,
         "temperature": decimal(temperature), "top_p": json(topP.map(decimal)), "seed": seed]
    }

    /// Bullet lines for Markdown reports.
    func markdownLines(models: [ModelReport]) -> [String] {
        var lines = ["- decoding: greedy, at most \(maxNewTokens) new tokens, batches of \(batchSize)"]
        if samples > 0 {
            lines.append("- sampling: \(samples) samples per problem, temperature \(Cell.number(Double(temperature)))"
                         + (topP.map { ", top-p \(Cell.number(Double($0)))" } ?? "") + ", seed \(seed); k = "
                         + resolvedKs.map(String.init).joined(separator: ", "))
        }
        for m in models { lines.append("- \(m.label): role `\(m.role)`, \(m.architecture)") }
        return lines
    }
}

/// A JSON value for an optional number (null when absent or not finite: JSON has no NaN).
func json(_ x: Double?) -> Any {
    guard let x, x.isFinite else { return NSNull() }
    return x
}

/// A float setting as the decimal the user wrote (0.6, not 0.6000000238418579): the shortest text that reads back
/// as the same float, read as a double.
func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

/// The current time as ISO 8601 UTC.
public func utcNow() -> String { ISO8601DateFormatter().string(from: Date()) }
