import Foundation

/// Reading metrics.jsonl, the run's source of truth (CSV and TensorBoard files are derived from it).
///
/// Rows are appended one `write(2)` per line, so a crash (even SIGKILL) can only tear the last line. A last
/// line that is incomplete (no newline) or does not parse is reported as torn and left out; a bad line
/// anywhere else is an error, since no crash can produce it.
public enum MetricsLog {
    /// The file name inside a run folder.
    public static let fileName = "metrics.jsonl"

    /// What a metrics.jsonl holds.
    public struct Contents: Sendable {
        /// The complete rows, in file order.
        public var rows: [MetricRow]
        /// The torn last line that was left out (nil when the file ended cleanly).
        public var tornLine: String?
    }

    /// Reads and parses `path`; a missing file reads as no rows.
    /// - Throws: `TelemetryError.io` when it cannot be read, `.malformedMetrics` for a bad line before the last.
    public static func read(path: String) throws -> Contents {
        guard FileManager.default.fileExists(atPath: path) else { return Contents(rows: [], tornLine: nil) }
        return try parse(try FileOperations.read(path), file: path)
    }

    /// Parses the bytes of a metrics.jsonl.
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - file: the file's name, for error messages.
    public static func parse(_ bytes: [UInt8], file: String) throws -> Contents {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // After the final newline split gives an empty piece; anything else there is a line cut short.
        let unterminated = lines.removeLast()
        var rows: [MetricRow] = []
        var torn: String? = unterminated.isEmpty ? nil : String(decoding: unterminated, as: UTF8.self)
        let lastNonEmpty = lines.lastIndex { !$0.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") } }
        for (n, raw) in lines.enumerated() {
            let text = String(decoding: raw, as: UTF8.self)
            if text.allSatisfy({ $0 == " " || $0 == "\r" }) { continue }
            do {
                rows.append(try MetricRow(jsonLine: text, file: file, line: n + 1))
            } catch {
                // A complete but unparsable final line (e.g. zero bytes after a power loss) counts as torn
                // only when nothing follows it.
                guard n == lastNonEmpty, torn == nil else { throw error }
                torn = text
            }
        }
        return Contents(rows: rows, tornLine: torn)
    }
}
