import Foundation
import Tensor

/// The processes of one job and what they do together. A process not started by `mpirun` is a group of one
/// (`LocalProcess`); under `mpirun` it is `MPIWorld`. Every call is collective: every rank makes it, in the same order.
public protocol Collective: ShardReduction {
    /// Waits until every rank has called it.
    func barrier() throws
    /// `bytes` of rank `root`, on every rank (the other ranks' arguments are ignored).
    func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8]
    /// Every rank's `bytes`, in rank order, on every rank.
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// The largest `value` over the ranks, on every rank.
    func maximum(_ value: Int64) throws -> Int64
    /// The elementwise sum over the ranks with MPI_Allreduce: fast, but the order of the additions depends on the
    /// number of ranks and the MPI library's algorithm, so the bits do too (`sum(local:...)` does not).
    func allreduceSum(_ values: inout [Float]) throws
}

extension Collective {
    /// Whether this process writes the run's files (rank 0) or only computes.
    public var isWriter: Bool { rank == 0 }

    /// Every rank reports whether a step that must succeed everywhere did (`failure` nil) or why not; returns on
    /// every rank when all succeeded, else throws `DistributedError.rankFailed` naming the lowest failing rank, on
    /// every rank, so that no rank waits for one that has stopped.
    public func requireAll(_ failure: String?) throws {
        let all = try allgather(failure.map { [1] + Array($0.utf8) } ?? [0])
        if let r = all.firstIndex(where: { $0.first == 1 }) {
            throw DistributedError.rankFailed(rank: r, size: size, reason: String(decoding: all[r].dropFirst(), as: UTF8.self))
        }
    }

    /// Runs `body`, then `requireAll` with its error: the body's own error on the rank that threw it (rethrown as is,
    /// so its message and type stay), `DistributedError.rankFailed` on the others.
    public func together<T>(_ body: () throws -> T) throws -> T {
        let result = Result { try body() }
        do {
            switch result {
            case .success: try requireAll(nil)
            case .failure(let error): try requireAll("\(error)")
            }
        } catch let e as DistributedError {
            if case .failure(let own) = result { throw own }
            throw e
        }
        return try result.get()
    }

    /// Stops together: the signal some rank received (the largest), or nil when none did, on every rank.
    public func anySignal(_ local: Int32?) throws -> Int32? {
        let m = try maximum(Int64(local ?? 0))
        return m == 0 ? nil : Int32(m)
    }
}

/// A job of one process: every collective is the identity, and `sum` is `ShardSum.tree` over the local shards.
public final class LocalProcess: Collective {
    public let rank = 0
    public let size = 1
    public init() {}

    public func barrier() {}
    public func broadcast(_ bytes: [UInt8], from root: Int) -> [UInt8] { bytes }
    public func allgather(_ bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func maximum(_ value: Int64) -> Int64 { value }
    public func allreduceSum(_ values: inout [Float]) {}

    public func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws {
        guard first == 0, local.count == shardCount, shardCount > 0 else {
            throw DistributedError.shardLayout(rank: 0, reason: "one process must hold all \(shardCount) shards; it holds \(local.count) from \(first)")
        }
        let n = local[0].count
        if let bad = local.firstIndex(where: { $0.count != n }) {
            throw DistributedError.shardLayout(rank: 0, reason: "shard \(bad) has \(local[bad].count) values, shard 0 has \(n)")
        }
        if total.count != n { total = [Float](repeating: 0, count: n) }
        ShardTree.withBuffers(local) { ptrs in total.withUnsafeMutableBufferPointer { ShardSum.tree(ptrs, into: $0) } }
    }

    public func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] {
        guard first == 0, local.count == shardCount else {
            throw DistributedError.shardLayout(rank: 0, reason: "one process must hold all \(shardCount) shards; it holds \(local.count) from \(first)")
        }
        return local
    }
}

/// How this process was started.
public enum Launch {
    /// True when a launcher (mpirun, or a PMIx/PMI one) started this process as a rank of a job: Open MPI sets
    /// OMPI_COMM_WORLD_SIZE, PMIx launchers PMIX_RANK, Slurm's PMI2 PMI_SIZE.
    public static func isMPIJob(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil || environment["PMI_SIZE"] != nil
    }

    /// The job this process belongs to: `MPIWorld` (MPI initialised here, finalised at exit) when started by a
    /// launcher, else a `LocalProcess` that never touches MPI. Made once, on first use.
    ///
    /// `TRACEDISTILL_MPI_SUM=allreduce` in the environment makes the world's gradient sums MPI_Allreduce (its bits
    /// then depend on the number of ranks); unset or `exact`, the order-fixed sum. Anything else is an error.
    public static func world(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Collective {
        if let made = made { return made }
        var exact = true
        switch environment["TRACEDISTILL_MPI_SUM"] {
        case nil, "exact": exact = true
        case "allreduce": exact = false
        case let other?:
            throw DistributedError.badSetting(name: "TRACEDISTILL_MPI_SUM", value: other, expected: "exact (the default) or allreduce")
        }
        let group: any Collective
        if isMPIJob(environment: environment) {
            let world = try MPIWorld.initialize()
            world.exact = exact
            group = world
        } else {
            group = LocalProcess()
        }
        made = group
        return group
    }
    nonisolated(unsafe) private static var made: (any Collective)?
}
