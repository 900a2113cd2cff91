import Checkpoint
import Data
import FileErrors
import Foundation
import Stages
import TestSupport
import Testing

// Issue #27's read side of item 9: a path that cannot be read (a folder given as a file, a file given as a folder,
// a file above the path, nothing there) is named with the cause in words and the fix, never Foundation's text
// ("NSCocoaErrorDomain ..."). Permission denied is diagnosed too, but the tests run as root, which reads anything.

@Suite("read paths: the path, the cause in words, the fix")
struct ReadPathTests {
    private func withFolder(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "readpath-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    @Test("ReadFailure tells a folder, a file, a file above the path and a missing path apart")
    func causes() throws {
        try withFolder { dir in
            let file = dir + "/rows.jsonl"
            try "{}\n".write(toFile: file, atomically: true, encoding: .utf8)
            #expect(ReadFailure.diagnose(path: dir, target: .file).cause == .isDirectory)
            #expect(ReadFailure.diagnose(path: file, target: .folder).cause == .isFile)
            #expect(ReadFailure.diagnose(path: file + "/x.jsonl", target: .file).cause == .notDirectory(file: file))
            #expect(ReadFailure.diagnose(path: dir + "/none/x.jsonl", target: .file).cause == .missing)
            #expect(throws: ReadFailure(path: dir, cause: .isDirectory)) { try ReadFailure.contents(of: dir) }
            #expect(throws: ReadFailure(path: file, cause: .isFile)) { try ReadFailure.entries(of: file) }
            #expect(try ReadFailure.contents(of: file) == Data("{}\n".utf8))
            #expect(ReadFailure(path: dir, cause: .isDirectory).description == "\(dir): is a directory, not a file; give the path of a file (inside it, or elsewhere)")
        }
    }

    @Test("a data file, a curriculum and a run folder that cannot be read are named with the cause, without Foundation's text")
    func loaders() throws {
        try withFolder { dir in
            #expect(throws: DataError.unreadableFile(path: dir, reason: "is a directory, not a file; give the path of a file (inside it, or elsewhere)")) {
                try TraceDataset.load(dir)
            }
            do {
                _ = try Curriculum.load(path: dir)
                Issue.record("a folder loaded as a curriculum")
            } catch let e as CurriculumError {
                #expect(e.file == dir && e.message.contains("is a directory, not a file"), "\(e)")
            }
            let file = dir + "/plain.txt"
            try "x".write(toFile: file, atomically: true, encoding: .utf8)
            do {
                _ = try Curriculum.load(path: file + "/c.yaml")
                Issue.record("a path under a file loaded")
            } catch let e as CurriculumError {
                #expect(e.message.contains("\(file) is a file, not a directory"), "\(e)")
            }
            #expect(throws: CheckpointError.self) { try CheckpointDirectory(path: file).files() }
        }
    }

    @Test("distill init --config with a folder or a missing file says so, not NSCocoaErrorDomain")
    func initConfig() throws {
        guard let distill = requireDistill() else { return }
        try withFolder { dir in
            let r = try runDistill(distill, ["init", "--config", dir, "--out", dir + "/x.h5"])
            #expect(!r.succeeded && r.stderr.contains("cannot read --config \(dir): is a directory, not a file"), "\(r)")
            let missing = try runDistill(distill, ["init", "--config", dir + "/none.json", "--out", dir + "/x.h5"])
            #expect(!missing.succeeded && missing.stderr.contains("does not exist"), "\(missing)")
            #expect(!(r.stderr + missing.stderr).contains("NSCocoaErrorDomain") && !(r.stderr + missing.stderr).contains("couldn’t"))
        }
    }
}
