import Checkpoint
import Foundation
import TestSupport
import Testing

// A folder given where a checkpoint file belongs (issue #27, item 10) is not a "damaged checkpoint": the message
// says it is a directory, names a checkpoint file to give instead, and points at `distill status`.

@Suite("a directory given as a checkpoint")
struct DirectoryArgumentTests {
    @Test("CheckpointReader on a folder: says it is a directory, suggests DIR/step-N.h5 and distill status")
    func readerNamesDirectory() throws {
        try withTemporaryFolder("dir-as-checkpoint") { dir in
            do {
                _ = try CheckpointReader(path: dir)
                Issue.record("a folder opened as a checkpoint")
            } catch let e as CheckpointError {
                let message = "\(e)"
                #expect(message.contains("is a directory"), "\(message)")
                #expect(message.contains("\(dir)/step-"), "suggests a checkpoint file in it: \(message)")
                #expect(message.contains("distill status \(dir)"), "\(message)")
                #expect(!message.contains("damaged"), "\(message)")
            }
        }
    }

    @Test("inspect, score and eval given a run folder: the newest checkpoint in it is suggested, nothing says damaged")
    func commandsNameDirectory() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("dir-as-checkpoint-cli") { dir in
            for step in [0, 40] {
                let made = try runDistill(distill, ["init", "--preset", "tiny", "--out", dir + "/step-\(step).h5"])
                #expect(made.succeeded, "\(made)")
            }
            let runs = [["inspect", dir], ["score", "--checkpoint", dir, "--text", "1+1=2"],
                        ["eval", "--checkpoint", dir, "--limit", "1", "--out", dir + "/eval"]]
            for arguments in runs {
                let r = try runDistill(distill, arguments)
                #expect(!r.signaled && !r.timedOut && r.status != 0, "\(arguments[0]) must fail: \(r)")
                #expect(r.stderr.contains("is a directory"), "\(arguments[0]): \(r.stderr)")
                #expect(r.stderr.contains("\(dir)/step-40.h5"), "\(arguments[0]) should suggest the newest checkpoint: \(r.stderr)")
                #expect(r.stderr.contains("distill status \(dir)"), "\(arguments[0]): \(r.stderr)")
                #expect(!r.stderr.contains("damaged"), "\(arguments[0]): \(r.stderr)")
            }
        }
    }
}
