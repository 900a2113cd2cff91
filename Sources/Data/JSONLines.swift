import Foundation

/// Reads JSONL files row by row, turning every problem into a `DataError` with file, line and field.
enum JSONLines {
    /// The non-blank lines of the file at `path` with their 1-based line numbers.
    static func lines(_ path: String) throws -> [(line: Int, bytes: Foundation.Data)] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError.unreadableFile(path: path, reason: "no such file; check the path")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadableFile(path: path, reason: "permission denied or not a regular file")
        }
        var out: [(Int, Foundation.Data)] = []
        // One pass over the raw bytes (Data's own `split` checks exclusive access per byte and is several
        // times slower on a 4 MB file).
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var lineNumber = 0, start = 0
            func take(_ end: Int) {
                lineNumber += 1
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                // Blank lines (a trailing newline, spacing) are not rows, so skipping them drops nothing.
                if !line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { out.append((lineNumber, Foundation.Data(line))) }
            }
            for (i, b) in bytes.enumerated() where b == 10 {
                take(i)
                start = i + 1
            }
            if start < bytes.count { take(bytes.count) }
        }
        return out
    }

    /// Decodes every row of `path` as `T`.
    static func decode<T: Decodable>(_ path: String, as type: T.Type) throws -> [(line: Int, value: T)] {
        let decoder = JSONDecoder()
        return try lines(path).map { line, bytes in
            do {
                return (line, try decoder.decode(T.self, from: bytes))
            } catch let e as FieldError {
                throw DataError.malformedLine(file: path, line: line, field: e.field, reason: e.reason)
            } catch {
                guard String(data: bytes, encoding: .utf8) != nil else {
                    throw DataError.malformedLine(file: path, line: line, field: nil, reason: "not valid UTF-8 text; re-save the file as UTF-8")
                }
                throw DataError.malformedLine(file: path, line: line, field: nil,
                                              reason: "not valid JSON (each line must be one complete JSON object; look for a missing quote, comma or brace)")
            }
        }
    }

    /// Writes `lines` (each without newline) to `path`, replacing it atomically: a crash leaves the old file
    /// or the new one, never half of one.
    static func write(_ lines: [String], to path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError.writeFailed(path: path, reason: "the folder \(folder) does not exist; create it first")
        }
        var text = lines.joined(separator: "\n")
        if !lines.isEmpty { text += "\n" }
        do {
            try Foundation.Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}
