import Checkpoint
import Data
import FileErrors
import Foundation
import Model
import TestSupport
import Testing

// Where a command cannot write (issue #27, item 9): every message names the path, the cause in words (is a
// directory, not a directory, no such folder, permission denied, disk full) and what to do, never a raw Foundation
// error ("NSCocoaErrorDomain Code=513"). The tests run as root, which chmod cannot stop, so they use the causes
// root meets too: an output that is a folder, a path under a regular file, and a parent that does not exist.

/// Raw Foundation and POSIX error text a user should never see.
private let rawErrorText = ["NSCocoaErrorDomain", "Code=", "The operation could not be completed", "Error Domain", "NSFilePath"]

/// Asserts a clean failure whose stderr holds every phrase and no raw error text.
private func expectWriteFailure(_ r: ProcessResult, _ phrases: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!r.signaled && !r.timedOut && r.status != 0, "\(what) must fail: \(r)", sourceLocation: sourceLocation)
    for phrase in phrases {
        #expect(r.stderr.contains(phrase), "\(what): stderr should contain \(phrase): \(r.stderr)", sourceLocation: sourceLocation)
    }
    for raw in rawErrorText { #expect(!r.stderr.contains(raw), "\(what): raw error text: \(r.stderr)", sourceLocation: sourceLocation) }
}

/// Asserts the message of a thrown error holds every phrase and no raw error text.
private func expectMessage(_ body: () throws -> Void, _ phrases: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("\(what) succeeded", sourceLocation: sourceLocation)
    } catch {
        let message = "\(error)"
        for phrase in phrases { #expect(message.contains(phrase), "\(what): \(message)", sourceLocation: sourceLocation) }
        for raw in rawErrorText { #expect(!message.contains(raw), "\(what): \(message)", sourceLocation: sourceLocation) }
    }
}

@Suite("output paths that cannot be written")
struct OutputPathTests {
    @Test("init --out: a folder, a path under a regular file")
    func initOut() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("out-init") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/folder.h5", withIntermediateDirectories: true)
            try "notes\n".write(toFile: dir + "/file.txt", atomically: true, encoding: .utf8)
            expectWriteFailure(try runDistill(distill, ["init", "--preset", "tiny", "--out", dir + "/folder.h5"]),
                               [dir + "/folder.h5", "is a directory", "give a file path"], "init --out folder")
            expectWriteFailure(try runDistill(distill, ["init", "--preset", "tiny", "--out", dir + "/file.txt/x.h5"]),
                               [dir + "/file.txt/x.h5", dir + "/file.txt", "not a directory"], "init --out under a file")
            #expect(FileManager.default.fileExists(atPath: dir + "/file.txt") && folderItems(dir + "/folder.h5").isEmpty,
                    "nothing was changed")
        }
    }

    @Test("init, generate-data, export and eval --out onto a named pipe: refused before writing, the pipe left a pipe (a rename would have replaced it, as it once replaced /dev/null)")
    func outOntoSpecialFile() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("out-fifo") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let pipe = dir + "/pipe"
            guard mkfifo(pipe, 0o644) == 0 else {
                Issue.record("mkfifo \(pipe): \(String(cString: strerror(errno)))")
                return
            }
            func isPipe() -> Bool {
                var info = stat()
                return lstat(pipe, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO
            }
            expectWriteFailure(try runDistill(distill, ["init", "--preset", "tiny", "--out", pipe]),
                               [pipe, "is a named pipe (FIFO), not a regular file", "renamed into place", "give a path to a regular file"],
                               "init --out pipe")
            #expect(isPipe(), "init left the pipe a pipe")
            expectWriteFailure(try runDistill(distill, ["generate-data", "--domain", "addition", "--count", "5", "--out", pipe]),
                               [pipe, "is a named pipe (FIFO), not a regular file"], "generate-data --out pipe")
            #expect(isPipe(), "generate-data left the pipe a pipe")
            let checkpoint = dir + "/model.h5"
            #expect(try runDistill(distill, ["init", "--preset", "tiny", "--out", checkpoint]).succeeded)
            expectWriteFailure(try runDistill(distill, ["export", checkpoint, "--format", "gguf", "--out", pipe]),
                               [pipe, "is a named pipe (FIFO), not a regular file"], "export --format gguf --out pipe")
            #expect(isPipe(), "export left the pipe a pipe")
            let reportFolder = dir + "/report"
            try FileManager.default.createDirectory(atPath: reportFolder, withIntermediateDirectories: true)
            let reportPipe = reportFolder + "/report.json"
            #expect(mkfifo(reportPipe, 0o644) == 0, "mkfifo \(reportPipe)")
            expectWriteFailure(try runDistill(distill, ["eval", "--checkpoint", checkpoint, "--limit", "1", "--max-new-tokens", "4",
                                                        "--quiet", "--out", reportFolder]),
                               [reportPipe, "is a named pipe (FIFO), not a regular file"], "eval --out a folder holding a pipe")
            var info = stat()
            #expect(lstat(reportPipe, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "eval left report.json a pipe")
        }
    }

    @Test("generate-data --out: a folder, a path under a regular file, a parent that does not exist")
    func generateDataOut() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("out-data") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/rows", withIntermediateDirectories: true)
            try "notes\n".write(toFile: dir + "/file.txt", atomically: true, encoding: .utf8)
            let base = ["generate-data", "--domain", "addition", "--count", "2", "--out"]
            expectWriteFailure(try runDistill(distill, base + [dir + "/rows"]), [dir + "/rows", "is a directory"], "generate-data --out folder")
            expectWriteFailure(try runDistill(distill, base + [dir + "/file.txt/x.jsonl"]),
                               [dir + "/file.txt/x.jsonl", "not a directory"], "generate-data --out under a file")
            expectWriteFailure(try runDistill(distill, base + [dir + "/missing/x.jsonl"]),
                               [dir + "/missing/x.jsonl", "the folder \(dir)/missing does not exist; create it"], "generate-data --out in a missing folder")
        }
    }

    @Test("eval --out: a regular file where the report folder goes, and a path under a regular file")
    func evalOut() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("out-eval") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let checkpoint = dir + "/step-0.h5"
            #expect(try runDistill(distill, ["init", "--preset", "tiny", "--out", checkpoint]).succeeded)
            try "notes\n".write(toFile: dir + "/file.txt", atomically: true, encoding: .utf8)
            let base = ["eval", "--checkpoint", checkpoint, "--limit", "1", "--max-new-tokens", "4", "--quiet", "--out"]
            expectWriteFailure(try runDistill(distill, base + [dir + "/file.txt"]),
                               [dir + "/file.txt", "is a file, not a directory", "give a folder"], "eval --out file")
            expectWriteFailure(try runDistill(distill, base + [dir + "/file.txt/report"]),
                               [dir + "/file.txt/report", "not a directory"], "eval --out under a file")
        }
    }

    @Test("run --run-dir under a regular file: the folder cannot be made, said in words")
    func runDirectoryUnderFile() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("out-run") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "notes\n".write(toFile: dir + "/file.txt", atomically: true, encoding: .utf8)
            let r = try runProcess(distill, ["run", "curricula/smoke.yaml", "--run-dir", dir + "/file.txt/run"],
                                   environment: childEnvironment(), currentDirectory: packageRoot, timeout: 120)
            expectWriteFailure(r, [dir + "/file.txt/run", "not a directory"], "run --run-dir under a file")
        }
    }

    @Test("the libraries' own errors: CheckpointWriter.save and TraceDataset.write name path, cause and fix")
    func libraryErrors() throws {
        try withRunFolder("out-library") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/folder.h5", withIntermediateDirectories: true)
            try "notes\n".write(toFile: dir + "/file.txt", atomically: true, encoding: .utf8)
            let contents = CheckpointContents(tokenizer: .math)
            expectMessage({ try CheckpointWriter.save(contents, to: dir + "/folder.h5") },
                          [dir + "/folder.h5", "is a directory"], "save onto a folder")
            expectMessage({ try CheckpointWriter.save(contents, to: dir + "/file.txt/sub/x.h5") },
                          [dir + "/file.txt/sub/x.h5", "\(dir)/file.txt is a file, not a directory"], "save under a file")
            let row = TraceRecord(id: "r", question: "Compute 1 + 1.", steps: ["1 + 1 = 2"], answer: "2")
            expectMessage({ try TraceDataset.write([row], to: dir + "/folder.h5") }, [dir + "/folder.h5", "is a directory"], "rows onto a folder")
            expectMessage({ try TraceDataset.write([row], to: dir + "/file.txt/rows.jsonl") },
                          [dir + "/file.txt/rows.jsonl", "not a directory"], "rows under a file")
        }
    }
}

@Suite("WriteFailure: causes root cannot reproduce, from the error number")
struct WriteFailureCauseTests {
    @Test("disk full, permission denied and read-only come from errno or Foundation's error, each with a fix")
    func causesFromErrorNumbers() throws {
        try withRunFolder("write-failure") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let path = dir + "/out.h5"
            let full = WriteFailure.diagnose(path: path, target: .file, errno: ENOSPC)
            #expect(full.cause == .diskFull && full.reason.contains("no space left") && full.description.hasPrefix(path + ": "), "\(full)")
            let denied = WriteFailure.diagnose(path: path, target: .file, errno: EACCES)
            #expect(denied.cause == .permissionDenied(folder: dir) && denied.reason.contains("permission denied"), "\(denied)")
            #expect(WriteFailure.diagnose(path: path, target: .file, errno: EROFS).cause == .readOnly)
            // Foundation's errors: Cocoa code 513 is "no permission" (the NSCocoaErrorDomain Code=513 of the issue).
            let cocoa = NSError(domain: NSCocoaErrorDomain, code: CocoaError.Code.fileWriteNoPermission.rawValue)
            let fromCocoa = WriteFailure.diagnose(path: path, target: .file, error: cocoa)
            #expect(fromCocoa.cause == .permissionDenied(folder: dir) && !fromCocoa.reason.contains("NSCocoaErrorDomain"), "\(fromCocoa)")
            let underlying = NSError(domain: NSCocoaErrorDomain, code: 512,
                                     userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
            #expect(WriteFailure.diagnose(path: path, target: .file, error: underlying).cause == .diskFull)
        }
    }
}

/// Names in a folder.
private func folderItems(_ path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
}
