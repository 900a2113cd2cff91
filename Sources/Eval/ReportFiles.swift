import FileErrors
import Foundation

/// Writes a report's files into a folder: `report.json`, `report.md` and `completions.jsonl` (every problem's
/// greedy answer, one JSON object per line). Each file is written to a temporary name and renamed, so a reader
/// never sees half a report.
public enum ReportFiles {
    /// The files written, in order.
    public static let names = ["report.json", "report.md", "completions.jsonl"]

    /// Checks, before any work, that `write` can put the files into `directory`: it is a folder (or can be made
    /// under the nearest existing one), this user may write there, and none of the report's names is a folder.
    /// - Throws: `EvalError.writeFailed` naming the path, the cause in words and what to do.
    public static func checkDestination(_ directory: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder) else {
            let diagnosed = WriteFailure.diagnose(path: directory, target: .folder, createsFolders: true)
            switch diagnosed.cause {
            case .notDirectory, .permissionDenied, .readOnly: throw EvalError.writeFailed(path: directory, reason: diagnosed.reason)
            default: return
            }
        }
        guard isFolder.boolValue else {
            throw EvalError.writeFailed(path: directory, reason: WriteFailure(path: directory, cause: .isFile).reason
                                        + " (--out names the folder the report's \(names.joined(separator: ", ")) go into)")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw EvalError.writeFailed(path: directory, reason: WriteFailure(path: directory, cause: .permissionDenied(folder: directory)).reason)
        }
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            if let inTheWay = WriteFailure.inTheWay(ofFileAt: path) { throw EvalError.writeFailed(path: path, reason: inTheWay.reason) }
        }
    }

    /// Writes the three files into `directory` (created when missing) and returns their paths.
    /// - Throws: `EvalError.writeFailed` naming the path, the cause in words and what to do.
    @discardableResult
    public static func write(json: [String: Any], markdown: String, models: [ModelReport], to directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EvalError.writeFailed(path: directory, reason: WriteFailure.diagnose(path: directory, target: .folder, error: error,
                                                                                      createsFolders: true).reason)
        }
        let jsonData: Foundation.Data
        do {
            jsonData = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw EvalError.writeFailed(path: directory + "/report.json", reason: "the report is not valid JSON: \(error)")
        }
        let completions = try models.flatMap { try $0.completionLines() }.joined(separator: "\n") + "\n"
        let contents = [jsonData + Foundation.Data("\n".utf8), Foundation.Data(markdown.utf8), Foundation.Data(completions.utf8)]
        var paths: [String] = []
        for (name, data) in zip(names, contents) {
            let path = (directory as NSString).appendingPathComponent(name)
            do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw EvalError.writeFailed(path: path, reason: WriteFailure.diagnose(path: path, target: .file, error: error).reason)
            }
            paths.append(path)
        }
        return paths
    }
}
