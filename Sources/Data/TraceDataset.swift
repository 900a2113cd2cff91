/// A trace dataset file (JSONL, one `TraceRecord` per line) with each row's line number, for messages.
public struct TraceDataset: Sendable {
    /// The file the rows came from (or will be written to).
    public var path: String
    /// The rows, in file order.
    public var records: [TraceRecord]
    /// The 1-based line number of each row in `path` (blank lines are skipped, so numbers may jump).
    public var lineNumbers: [Int]

    /// A dataset of `records` numbered 1, 2, ... as they would be written.
    public init(path: String, records: [TraceRecord]) {
        self.path = path
        self.records = records
        self.lineNumbers = records.indices.map { $0 + 1 }
    }

    /// Loads and validates every row of `path`.
    /// - Parameters:
    ///   - path: The JSONL file.
    ///   - split: When given, every row's question must belong to this split under `plan` (held-out files
    ///     are checked so they cannot leak into training).
    ///   - plan: The split assignment.
    /// - Throws: `DataError.malformedLine` naming file, line and field for the first bad row;
    ///   `DataError.splitMismatch` for a row in the wrong split; `DataError.unreadableFile`.
    public static func load(_ path: String, split: DatasetSplit? = nil, plan: SplitPlan = .standard) throws -> TraceDataset {
        let rows = try JSONLines.decode(path, as: TraceRecord.self)
        var dataset = TraceDataset(path: path, records: rows.map(\.value))
        dataset.lineNumbers = rows.map(\.line)
        if let split { try plan.check(dataset, belongsTo: split) }
        return dataset
    }

    /// Writes `records` to `path` as JSONL (atomically).
    public static func write(_ records: [TraceRecord], to path: String) throws {
        try JSONLines.write(records.map(\.jsonLine), to: path)
    }
}
