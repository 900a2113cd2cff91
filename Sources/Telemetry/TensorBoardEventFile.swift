import FileErrors
import Foundation

/// The run's TensorBoard event file (`events.out.tfevents.<unix time>.<hostname>`), one event per row.
///
/// Resume without duplicates: when a monitor opens, it writes a new event file holding the kept rows of
/// metrics.jsonl (the source of truth), renames it into place and deletes every other event file in the run
/// folder; later rows are appended to it. So after any number of crashes and resumes there is one event file
/// and each row appears once (TensorBoard itself would otherwise show the dropped, recomputed steps twice or
/// depend on its out-of-order purge heuristics). The file is built under a name without "tfevents", which
/// TensorBoard ignores, so it never reads a half-written file; a crash between the rename and the deletion
/// leaves an old file behind that the next open deletes. A TensorBoard already watching the folder keeps what
/// it loaded from a deleted file: reload it after a resume.
public final class TensorBoardEventFile {
    /// The event file's path.
    public let path: String
    private let file: AppendOnlyFile

    /// The conventional name for a file made at `time` on `host`.
    public static func fileName(time: Double, host: String) -> String {
        "events.out.tfevents.\(Int(time)).\(host)"
    }

    /// True for the names TensorBoard reads as event files.
    public static func isEventFileName(_ name: String) -> Bool { name.hasPrefix("events.out.tfevents.") }

    /// The event for a row: its metrics, sorted by name, as scalars at the row's global step.
    public static func event(for row: MetricRow) -> TensorBoardEvent {
        TensorBoardEvent(wallTime: row.time, step: Int64(row.step),
                         scalars: row.values.keys.sorted().map { .init(tag: $0, value: Float(row.values[$0]!)) })
    }

    /// Replaces the folder's event files by one new file holding `rows`, open for appending.
    /// - Parameters:
    ///   - directory: the run folder.
    ///   - rows: the rows already recorded (kept after a resume).
    ///   - time: the creation time (file name and the version event).
    /// - Returns: the new file and the names of the old event files it deleted.
    /// - Throws: `TelemetryError.io` when a file cannot be written, renamed or deleted.
    public static func replacing(directory: String, rows: [MetricRow], time: Double) throws -> (file: TensorBoardEventFile, deleted: [String]) {
        let name = fileName(time: time, host: hostName())
        let path = directory + "/" + name
        var bytes = TensorBoardEvent.record(TensorBoardEvent(wallTime: time, step: 0, fileVersion: TensorBoardEvent.currentFileVersion).serialized())
        for row in rows { bytes += TensorBoardEvent.record(event(for: row).serialized()) }
        try FileOperations.replace(path, with: bytes, temporaryName: ".tensorboard-events.tmp")
        let names: [String]
        do { names = try ReadFailure.entries(of: directory) } catch let e as ReadFailure {
            throw TelemetryError.io(path: directory, reason: "cannot list the run folder: \(e.reason)")
        }
        var deleted: [String] = []
        for old in names.sorted() where isEventFileName(old) && old != name {
            guard unlink(directory + "/" + old) == 0 else {
                throw TelemetryError.io(path: directory + "/" + old, reason: "cannot delete the superseded event file: \(errnoText())")
            }
            deleted.append(old)
        }
        return (TensorBoardEventFile(path: path, file: try AppendOnlyFile(path: path)), deleted)
    }

    private init(path: String, file: AppendOnlyFile) {
        self.path = path
        self.file = file
    }

    /// Appends the event of one row (one `write(2)`).
    public func append(_ row: MetricRow) throws {
        try file.write(TensorBoardEvent.record(Self.event(for: row).serialized()))
    }

    /// Flushes and closes the file.
    public func close() throws { try file.close() }

    /// This machine's host name, as TensorFlow puts it in event file names.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(cString: buffer)
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }
}
