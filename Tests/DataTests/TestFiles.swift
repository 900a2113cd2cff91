import Foundation

// Where the published data sets are, and scratch files for tests that write.

/// `../shared/data/<relative>` from the package root, located from this file so tests run from any directory
/// (CI clones the repository with `shared/` beside it, as here).
func sharedData(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath)          // <root>/Tests/DataTests/TestFiles.swift
        .deletingLastPathComponent()         // <root>/Tests/DataTests
        .deletingLastPathComponent()         // <root>/Tests
        .deletingLastPathComponent()         // <root>
        .deletingLastPathComponent()         // the folder holding the repository and shared/
        .appendingPathComponent("shared/data")
        .appendingPathComponent(relative).path
}

/// This process's scratch folder, removed when the test process exits.
private func scratchFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("tracedistill-datatests-\(getpid())")
}

private let scratchFolderMade: URL = {
    let dir = scratchFolder()
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: scratchFolder()) }
    return dir
}()

/// A fresh path in a per-process temporary folder.
func scratchFile(_ name: String) -> String {
    scratchFolderMade.appendingPathComponent("\(UUID().uuidString)-\(name)").path
}

/// Writes `text` to a scratch file and returns its path.
func writeScratch(_ name: String, _ text: String) throws -> String {
    let path = scratchFile(name)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}
