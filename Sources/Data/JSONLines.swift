import FileErrors
import Foundation

/// Reads JSONL files row by row, turning every problem into a `DataError` with file, line and field.
enum JSONLines {
    /// The non-blank lines of the file at `path` with their 1-based line numbers and the byte offset of each
    /// line's start in the file.
    static func lines(_ path: String) throws -> [(line: Int, offset: Int, bytes: Foundation.Data)] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError.unreadableFile(path: path, reason: "no such file; check the path")
        }
        let data: Foundation.Data
        do { data = try ReadFailure.contents(of: path) } catch let e as ReadFailure {
            throw DataError.unreadableFile(path: path, reason: e.reason)
        }
        var out: [(Int, Int, Foundation.Data)] = []
        // One pass over the raw bytes (Data's own `split` checks exclusive access per byte and is several
        // times slower on a 4 MB file).
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var lineNumber = 0, start = 0
            func take(_ end: Int) {
                lineNumber += 1
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                // Blank lines (a trailing newline, spacing) are not rows, so skipping them drops nothing.
                if !line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { out.append((lineNumber, start, Foundation.Data(line))) }
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
        return try lines(path).map { line, offset, bytes in
            // A bad byte inside a key or a string value reaches the strict decoder as a wrong type ("expected a
            // string"), so a line with one is an encoding error, with its offset.
            let bad = firstInvalidUTF8Byte(bytes)
            func encodingError(_ at: Int) -> DataError {
                .invalidEncoding(file: path, line: line, byteInLine: at, byteInFile: offset + at, byte: bytes[bytes.startIndex + at])
            }
            do {
                let value = try decoder.decode(T.self, from: bytes)
                if let bad { throw encodingError(bad) }
                return (line, value)
            } catch let e as DataError {
                throw e
            } catch let e as FieldError {
                if let bad { throw encodingError(bad) }
                throw DataError.malformedLine(file: path, line: line, field: e.field, reason: e.reason)
            } catch {
                // Not JSON at all, with a bad byte in it: the encoding is the first thing to fix, at its offset.
                if let bad { throw encodingError(bad) }
                throw DataError.malformedLine(file: path, line: line, field: nil,
                                              reason: "not valid JSON (each line must be one complete JSON object; look for a missing quote, comma or brace)")
            }
        }
    }

    /// The offset of the first byte of `bytes` that is not part of a well-formed UTF-8 character, or nil when all are.
    static func firstInvalidUTF8Byte(_ bytes: Foundation.Data) -> Int? {
        if String(validating: bytes, as: UTF8.self) != nil { return nil }  // the fast, common case
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }

    /// Writes `lines` (each without newline) to `path`, replacing it atomically: a crash leaves the old file
    /// or the new one, never half of one.
    static func write(_ lines: [String], to path: String) throws {
        if let inTheWay = WriteFailure.inTheWay(ofFileAt: path, exampleName: "rows.jsonl") {
            throw DataError.writeFailed(path: path, reason: inTheWay.reason)
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            // A regular file where the folder should be is its own cause; otherwise the folder is missing.
            let diagnosed = WriteFailure.diagnose(path: path, target: .file)
            if case .notDirectory = diagnosed.cause { throw DataError.writeFailed(path: path, reason: diagnosed.reason) }
            throw DataError.writeFailed(path: path, reason: "the folder \(folder) does not exist; create it first")
        }
        var text = lines.joined(separator: "\n")
        if !lines.isEmpty { text += "\n" }
        do {
            try Foundation.Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw DataError.writeFailed(path: path, reason: WriteFailure.diagnose(path: path, target: .file, error: error,
                                                                                   exampleName: "rows.jsonl").reason)
        }
    }
}
