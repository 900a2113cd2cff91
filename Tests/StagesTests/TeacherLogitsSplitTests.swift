import Checkpoint
import Distributed
import Foundation
import Stages
import Testing
import TestSupport

// teacher-logits split across ranks (issue 26): each step's rows run as `run.gradient_shards` fixed forward passes, a
// block per rank, gathered in row order; rank 0 alone writes the cache. Checked against one process with fake groups
// of 2 and 3 ranks (`SamplingSplitTests.asRanks`, whose other ranks' bytes are recorded by running them first), the
// cache's values compared bit for bit. `make test-mpi` makes the same comparison under mpirun, with a SIGKILL.

@Suite("teacher-logits split across ranks", .serialized)
struct TeacherLogitsSplitTests {
    /// teacher-logits alone over 12 reference rows, 6 a step cut into 6 passes (blocks of 3 passes at 2 ranks, of 2 at 3).
    static let curriculum = TestCurricula.tiny.replacingOccurrences(of: "train_size: 8, validation_size: 4, max_length: 96}",
                                                                    with: "train_size: 12, validation_size: 4, max_length: 128}") + """

        run: {gradient_shards: 6, checkpoint_every: 1, keep_checkpoints: 2}
        stages:
          - {kind: teacher-logits, k: 8, temperature: 2.0, batch_size: 6, chunk_targets: 32, data: reference}
        """

    /// One run of the curriculum in a new folder as `group`'s rank: whether it completed and, on the rank that writes,
    /// the cache's contents.
    static func run(group: any Collective) throws -> (completed: Bool, cache: (logProbs: [Float], ids: [Int32], leftover: [Float])?) {
        try withRunFolder("topk-split") { dir in
            let runner = try CurriculumRunner(curriculum: try Curriculum(text: curriculum), runDirectory: dir, group: group)
            let completed = try runner.run() == .completed
            let path = dir + "/teacher-logits-0.h5"
            guard FileManager.default.fileExists(atPath: path) else { return (completed, nil) }
            let c = try TopKTargetsTests.contents(path)
            return (completed, (c.logProbs, c.ids, c.leftover))
        }
    }

    /// `run(group:)` as a rank of `SamplingSplitTests.asRanks`: the runner takes a gather it has no bytes for as the
    /// stage's failure, so the group stops the run with an error the runner passes on (`StopAtRecord`), which becomes
    /// the recording signal again here.
    static func run(rank: ReplayedRank) throws -> (completed: Bool, cache: (logProbs: [Float], ids: [Int32], leftover: [Float])?) {
        let group = StopAtRecord(rank)
        do { return try run(group: group) } catch where group.stopped { throw ReplayedRank.Recorded() }
    }

    @Test("the cache written at 2 and 3 ranks holds one process's values, bit for bit; only rank 0 writes it")
    func sameCache() throws {
        let one = try Self.run(group: LocalProcess())
        let cache = try #require(one.cache)
        #expect(one.completed && cache.ids.count == cache.logProbs.count && cache.ids.count == 8 * cache.leftover.count)
        #expect(cache.leftover.count > 12, "12 rows should give more targets than rows: \(cache.leftover.count)")
        try SamplingSplitTests.asRanks({ rank in try Self.run(rank: rank) }, check: { result, rank, size in
            #expect(result.completed, "rank \(rank) of \(size)")
            guard rank == 0 else {
                #expect(result.cache == nil, "rank \(rank) of \(size) wrote a cache")
                return
            }
            let got = try #require(result.cache, "rank 0 of \(size) wrote no cache")
            #expect(firstDifference(got.logProbs.map(\.bitPattern), cache.logProbs.map(\.bitPattern)) == nil, "rank 0 of \(size): log-probs")
            #expect(firstDifference(got.ids, cache.ids) == nil, "rank 0 of \(size): ids")
            #expect(firstDifference(got.leftover.map(\.bitPattern), cache.leftover.map(\.bitPattern)) == nil, "rank 0 of \(size): leftovers")
        })
    }
}

/// The first index where `a` and `b` differ (the shorter one's length when one is a prefix of the other); nil when equal.
private func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> Int? {
    a.indices.first { $0 >= b.count || a[$0] != b[$0] } ?? (a.count < b.count ? a.count : nil)
}

/// A `ReplayedRank` whose first gather without recorded bytes stops the run with `DistributedError.rankFailed`, which the
/// runner passes on as a launch's failure (a stage's own errors it records as the stage's); every call after that
/// stops the same way, so the recorded bytes stay those of that first gather.
private final class StopAtRecord: Collective {
    let inner: ReplayedRank
    private(set) var stopped = false
    init(_ inner: ReplayedRank) { self.inner = inner }
    var rank: Int { inner.rank }
    var size: Int { inner.size }
    private var stop: DistributedError { .rankFailed(rank: inner.rank, size: inner.size, reason: "gather recorded") }
    func barrier() throws { if stopped { throw stop } }
    func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] {
        if stopped { throw stop }
        return try inner.broadcast(bytes, from: root)
    }
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        if stopped { throw stop }
        do { return try inner.allgather(bytes) } catch is ReplayedRank.Recorded {
            stopped = true
            throw stop
        }
    }
    func maximum(_ value: Int64) throws -> Int64 {
        if stopped { throw stop }
        return try inner.maximum(value)
    }
    func allreduceSum(_ values: inout [Float]) throws { try inner.allreduceSum(&values) }
    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws {
        try inner.sum(local: local, first: first, shardCount: shardCount, into: &total)
    }
    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] {
        try inner.gather(local: local, first: first, shardCount: shardCount)
    }
}
