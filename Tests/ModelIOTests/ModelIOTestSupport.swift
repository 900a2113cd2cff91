import Foundation
import ModelIO
import Testing

// Fixture access for the ModelIO tests (Fixtures/ is written by scripts/make_modelio_fixtures.py with gguf-py,
// safetensors and torch), scratch files, byte patching for damaged-file tests, and a GGUF field locator.

/// Why a fixture could not be used.
struct FixtureMissing: Error, CustomStringConvertible {
    let description: String
}

enum IOFixtures {
    /// The Fixtures folder inside the test bundle.
    static func folder() throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw FixtureMissing(description: "Fixtures is not in the test bundle (run scripts/make_modelio_fixtures.py)")
        }
        return url.path
    }

    /// The path of `relative` inside Fixtures.
    static func path(_ relative: String) throws -> String {
        let p = try folder() + "/" + relative
        guard FileManager.default.fileExists(atPath: p) else {
            throw FixtureMissing(description: "Fixtures/\(relative) is missing (run scripts/make_modelio_fixtures.py)")
        }
        return p
    }

    /// The bytes of `relative`.
    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    /// A raw little-endian float32 reference file.
    static func floats(_ relative: String) throws -> [Float] {
        let b = try bytes(relative)
        return stride(from: 0, to: b.count, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }

    /// A JSON fixture decoded as `T`.
    static func json<T: Decodable>(_ relative: String, as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }
}

// MARK: - Scratch files

private func scratchFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("tracedistill-modelio-tests-\(getpid())")
}

private let scratchFolderMade: URL = {
    let dir = scratchFolder()
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: scratchFolder()) }
    return dir
}()

/// A fresh path in this process's scratch folder (removed at exit).
func scratchPath(_ name: String) -> String {
    scratchFolderMade.appendingPathComponent("\(UUID().uuidString)-\(name)").path
}

/// Writes `bytes` to a fresh scratch file and returns its path.
func writeScratch(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = scratchPath(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

// MARK: - Bytes

extension Array where Element == UInt8 {
    /// Overwrites the bytes at `offset` with `value`, little-endian.
    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        var v = value.littleEndian
        for i in 0..<MemoryLayout<T>.size {
            self[offset + i] = UInt8(truncatingIfNeeded: v)
            v = v >> 8
        }
    }

    /// The little-endian integer at `offset`.
    func get<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var v = T.zero
        for i in (0..<MemoryLayout<T>.size).reversed() { v = v << 8 | T(self[offset + i]) }
        return v
    }

    /// Offset of the first occurrence of `needle`'s UTF-8 bytes preceded by its u64 length (a GGUF string).
    func ggufString(_ needle: String) -> Int? {
        let target = [UInt8](needle.utf8)
        var prefixed = [UInt8](repeating: 0, count: 8)
        prefixed.put(UInt64(target.count), at: 0)
        prefixed += target
        guard count >= prefixed.count else { return nil }
        for i in 0...(count - prefixed.count) where self[i] == prefixed[0] {
            if Array(self[i..<(i + prefixed.count)]) == prefixed { return i }
        }
        return nil
    }
}

/// Byte offsets of a tensor info's fields in a GGUF file: found by the tensor's name, then walked.
struct GGUFTensorFields {
    let nameLength: Int
    let dimensionCount: Int
    let type: Int
    let offset: Int

    init(_ bytes: [UInt8], tensor: String) throws {
        // Tensor names also never occur as metadata strings in the fixture, so the first match is the info.
        guard let at = bytes.ggufString(tensor) else { throw FixtureMissing(description: "no tensor info \(tensor)") }
        nameLength = at
        dimensionCount = at + 8 + tensor.utf8.count
        let dims = Int(bytes.get(UInt32.self, at: dimensionCount))
        type = dimensionCount + 4 + 8 * dims
        offset = type + 4
    }
}

/// The message of the `ModelFileError` that `body` throws, after checking it throws one.
func modelFileError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ModelFileError? {
    do {
        try body()
        Issue.record("expected a ModelFileError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let e as ModelFileError {
        return e
    } catch {
        Issue.record("expected a ModelFileError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Checks that `error`'s message contains every one of `parts`.
func expectMessage(_ error: ModelFileError?, contains parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error else { return }
    let text = error.description
    for part in parts {
        #expect(text.contains(part), "message \"\(text)\" does not contain \"\(part)\"", sourceLocation: sourceLocation)
    }
}

/// Whether two float arrays hold the same bit patterns (NaN payloads, signed zeros included).
func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// The first index where two float arrays' bits differ, for messages.
func firstDifference(_ a: [Float], _ b: [Float]) -> String {
    guard a.count == b.count else { return "counts \(a.count) and \(b.count)" }
    guard let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) else { return "none" }
    return "element \(i): \(a[i]) vs \(b[i])"
}
