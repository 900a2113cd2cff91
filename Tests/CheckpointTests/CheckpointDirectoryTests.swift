import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// A run folder: which files count as checkpoints, the newest valid one (skipping damaged newer ones
// and saying why), and retention (last K, best by validation metric, never the newest valid one).

@Suite("Checkpoint directory")
struct CheckpointDirectoryTests {
    /// A small valid checkpoint at `step` with an optional validation metric.
    private func write(_ folder: CheckpointDirectory, step: Int, metric: Double?) throws {
        try CheckpointWriter.save(CheckpointContents(curriculum: "step \(step)\n",
                                                     run: RunRecord(globalStep: step, rngState: [1, 2, 3], validationMetric: metric)),
                                  to: folder.file(step: step))
    }

    /// Replaces the checkpoint at `step` with its first half.
    private func truncate(_ folder: CheckpointDirectory, step: Int) throws {
        let path = folder.file(step: step)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
    }

    @Test("files(): step-N.h5 only, in numeric step order; temporary and unrelated files are ignored")
    func listing() throws {
        try withTemporaryFolder("dir-files") { dir in
            let folder = CheckpointDirectory(path: dir)
            #expect(folder.file(step: 42) == dir + "/step-42.h5")
            for step in [100, 9, 10] { try write(folder, step: step, metric: nil) }
            for junk in [".step-110.h5.tmp-4242", "step-abc.h5", "step-7.h5.bak", "notes.txt", "step-.h5", "xstep-3.h5"] {
                _ = FileManager.default.createFile(atPath: dir + "/" + junk, contents: Data("x".utf8))
            }
            let files = try folder.files()
            #expect(files.map(\.step) == [9, 10, 100])
            #expect(files.map(\.path) == [dir + "/step-9.h5", dir + "/step-10.h5", dir + "/step-100.h5"])
            #expect(try folder.latestValid().path == dir + "/step-100.h5", "numeric, not name, order decides the newest")
            #expect(try CheckpointDirectory(path: dir + "/does-not-exist").files().isEmpty)
        }
    }

    @Test("latestValid skips damaged newer files, says which and why, and returns the newest valid one")
    func latestValid() throws {
        try withTemporaryFolder("dir-latest") { dir in
            let folder = CheckpointDirectory(path: dir)
            for step in [10, 20, 30, 40, 50] { try write(folder, step: step, metric: nil) }
            try truncate(folder, step: 50)
            // step 40: a flipped byte inside the rng_state data (a findable 32-byte pattern).
            let pattern = (0..<32).map { UInt8(200 - $0) }
            try CheckpointWriter.save(CheckpointContents(run: RunRecord(globalStep: 40, rngState: pattern)), to: folder.file(step: 40))
            let found = offsets(of: Data(pattern), in: try Data(contentsOf: URL(fileURLWithPath: folder.file(step: 40))))
            #expect(found.count == 1, "rng pattern at \(found)")
            try flipByte(in: folder.file(step: 40), at: try #require(found.first) + 5)
            // step 45: an HDF5 file that is not a checkpoint.
            try writeHandmadeCheckpoint(folder.file(step: 45), format: "other", version: 1, store: ParameterStore([]), configJSON: "{}")

            let result = try folder.latestValid()
            #expect(result.path == folder.file(step: 30))
            #expect(result.skipped.map(\.path) == [folder.file(step: 50), folder.file(step: 45), folder.file(step: 40)], "newest first")
            guard result.skipped.count == 3 else { return }
            let (truncated, foreign, flipped) = (result.skipped[0], result.skipped[1], result.skipped[2])
            #expect(truncated.reason.contains("damaged") || truncated.reason.contains("truncated"), "\(truncated)")
            #expect(foreign.reason.contains("not a TraceDistill checkpoint"), "\(foreign)")
            #expect(flipped.reason.contains("/run/rng_state") && flipped.reason.lowercased().contains("checksum"), "\(flipped)")
            #expect(truncated.description.contains(folder.file(step: 50)))

            // Nothing valid: no path, everything listed as skipped.
            for step in [10, 20, 30] { try truncate(folder, step: step) }
            let none = try folder.latestValid()
            #expect(none.path == nil)
            #expect(none.skipped.count == 6)
            #expect(try CheckpointDirectory(path: dir + "/empty").latestValid().path == nil)
        }
    }

    @Test("prune keeps the last K, the best (lowest) metric and the newest valid one, and deletes the rest")
    func prune() throws {
        try withTemporaryFolder("dir-prune") { dir in
            let folder = CheckpointDirectory(path: dir)
            // step: metric. Best is -0.5 at step 30 (lowest, not smallest magnitude); 20 has none.
            let metrics: [Int: Double?] = [10: 0.9, 20: nil, 30: -0.5, 40: 0.1, 50: 0.3, 60: 0.2, 70: 0.05]
            for (step, m) in metrics { try write(folder, step: step, metric: m) }
            // The two newest are damaged: keeping the last 2 alone would keep no valid checkpoint.
            try truncate(folder, step: 60)
            try truncate(folder, step: 70)

            let deleted = try folder.prune(keepLast: 2)
            #expect(Set(deleted) == Set([10, 20, 40].map { folder.file(step: $0) }), "deleted \(deleted)")
            #expect(try folder.files().map(\.step) == [30, 50, 60, 70], "kept: best 30, newest valid 50, last two 60 and 70")
            #expect(try folder.latestValid().path == folder.file(step: 50))

            // Without keepBest the best one goes too; the newest valid one still stays.
            let more = try folder.prune(keepLast: 1, keepBest: false)
            #expect(Set(more) == Set([30, 60].map { folder.file(step: $0) }), "deleted \(more)")
            #expect(try folder.files().map(\.step) == [50, 70])
            try CheckpointReader(path: folder.file(step: 50)).verify()
        }
    }

    @Test("prune with everything valid keeps exactly the last K plus the best")
    func pruneAllValid() throws {
        try withTemporaryFolder("dir-prune-valid") { dir in
            let folder = CheckpointDirectory(path: dir)
            for (step, m) in [(1, 0.5), (2, 0.01), (3, 0.4), (4, 0.3), (5, 0.2), (6, 0.6)] { try write(folder, step: step, metric: m) }
            let deleted = try folder.prune(keepLast: 3)
            #expect(Set(deleted) == Set([1, 3].map { folder.file(step: $0) }))
            #expect(try folder.files().map(\.step) == [2, 4, 5, 6])
            #expect(try folder.prune(keepLast: 3).isEmpty, "pruning again deletes nothing")
        }
    }
}

@Suite("CheckpointDirectory retention direction")
struct CheckpointRetentionDirectionTests {
    @Test("with higher-is-better the highest metric is kept")
    func higherIsBetter() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("td-prune-high-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = CheckpointDirectory(path: dir)
        for (step, m) in [(1, 0.2), (2, 0.9), (3, 0.5), (4, 0.1), (5, 0.3)] {
            try CheckpointWriter.save(CheckpointContents(run: RunRecord(globalStep: step, rngState: [1], validationMetric: m)),
                                      to: folder.file(step: step))
        }
        try folder.prune(keepLast: 2, keepBest: true, lowerIsBetter: false)
        #expect(try folder.files().map(\.step) == [2, 4, 5], "best (0.9 at step 2) and the last two")
    }
}

@Suite("CheckpointDirectory errors")
struct CheckpointDirectoryErrorTests {
    @Test("a run folder that is a file, or cannot be listed, is an error, not an empty run")
    func unreadableFolder() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("td-not-a-folder-\(getpid())").path
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: CheckpointError.self) { try CheckpointDirectory(path: file).files() }
        #expect(throws: CheckpointError.self) { try CheckpointDirectory(path: file).latestValid() }
    }
}
