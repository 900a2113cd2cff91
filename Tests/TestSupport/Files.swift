import Foundation

// Temporary folders and file reading for the test targets (one copy: the command tests, the checkpoint, stage and
// telemetry tests all use them).

/// Runs `body` with a new empty folder under the system temp dir and removes the folder afterwards.
public func withTemporaryFolder<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("tracedistill-tests-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Runs `body` with a run folder path under the system temp dir (not created: the run makes it) and removes it
/// afterwards.
public func withRunFolder<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
    let dir = NSTemporaryDirectory() + "stages-\(label)-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

/// The text of a file.
public func readText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

/// Names in a folder, sorted (empty when it cannot be read).
public func folderListing(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}
