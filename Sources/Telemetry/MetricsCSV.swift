import Foundation

/// metrics.csv: the rows of metrics.jsonl as one table for spreadsheets and pandas.
///
/// One file for the whole run with the union of all metric columns (the row's own columns first, then
/// metric names in sorted order). A row lacking a metric leaves its cell empty. Metric sets change between
/// stages, so when a row brings a new metric the monitor rewrites the whole file from metrics.jsonl with the
/// wider header (atomically, temporary file and rename); otherwise it appends one line. The CSV is derived
/// data: on resume it is regenerated from the kept rows of metrics.jsonl, so a torn CSV line never survives.
/// Numbers use the same shortest round-trip text as the JSONL; non-finite ones are `nan`, `inf`, `-inf`.
public enum MetricsCSV {
    /// The file name inside a run folder.
    public static let fileName = "metrics.csv"

    /// The metric columns of `rows`: every metric name, sorted.
    public static func metricColumns(of rows: [MetricRow]) -> [String] {
        var names = Set<String>()
        for r in rows { names.formUnion(r.values.keys) }
        return names.sorted()
    }

    /// The header line (no newline).
    public static func header(metricColumns: [String]) -> String {
        (MetricRow.reservedKeys + metricColumns).map(field).joined(separator: ",")
    }

    /// One data line (no newline).
    public static func line(_ row: MetricRow, metricColumns: [String]) -> String {
        var cells = [String(row.step), field(row.stage), String(row.stageIndex), String(row.stageStep), number(row.time)]
        for name in metricColumns { cells.append(row.values[name].map(number) ?? "") }
        return cells.joined(separator: ",")
    }

    /// The whole file for `rows`, header first, each line ending in a newline.
    public static func render(rows: [MetricRow]) -> String {
        let columns = metricColumns(of: rows)
        var s = header(metricColumns: columns) + "\n"
        for r in rows { s += line(r, metricColumns: columns) + "\n" }
        return s
    }

    /// A number cell: shortest round-trip text, or nan/inf/-inf.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return "\(value)"
    }

    /// An RFC 4180 field: quoted (quotes doubled) when it holds a comma, quote or line break.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
