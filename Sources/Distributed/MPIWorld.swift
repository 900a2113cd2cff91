import CMPI
import Foundation
import Tensor

/// The ranks of an `mpirun` job (MPI_COMM_WORLD). Made by `Launch.world()` when a launcher started the process;
/// MPI is finalised when the process exits normally. Only the thread that made it calls MPI (MPI_THREAD_FUNNELED).
///
/// `sum(local:first:shardCount:into:)` is exact by default: each rank sums the largest subtrees of `ShardSum.tree`
/// inside its block of shards; the subtree sums are exchanged slice by slice (MPI_Alltoallv: rank s receives the
/// s-th slice of every subtree sum), each rank combines its slice in the tree's order, and the slices are shared
/// (MPI_Allgatherv). Each rank sends and receives about what a ring allreduce moves (2 (N-1)/N of the buffer when its
/// block is one subtree), and the bits are those of one process summing every shard. `exact = false` uses
/// MPI_Allreduce on the local sums instead, whose bits depend on the number of ranks.
public final class MPIWorld: Collective {
    public let rank: Int
    public let size: Int
    /// Exact (order-fixed) gradient sums; false: MPI_Allreduce.
    public var exact = true
    private let comm: MPI_Comm
    /// The slices of every rank's subtree sums that `sum` receives, kept between calls (a gradient-sized buffer
    /// allocated once, not every step).
    private var received: [Float] = []

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
        comm = td_mpi_comm_world()
    }

    /// Initialises MPI (once per process) and registers MPI_Finalize for a normal exit.
    static func initialize() throws -> MPIWorld {
        var provided: Int32 = 0
        try check("MPI_Init_thread", MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided))
        var r: Int32 = 0, s: Int32 = 0
        try check("MPI_Comm_rank", MPI_Comm_rank(td_mpi_comm_world(), &r))
        try check("MPI_Comm_size", MPI_Comm_size(td_mpi_comm_world(), &s))
        atexit {
            var finalized: Int32 = 0
            MPI_Finalized(&finalized)
            if finalized == 0 { MPI_Finalize() }
        }
        return MPIWorld(rank: Int(r), size: Int(s))
    }

    /// Ends the whole job now (every rank, through mpirun) with `code`, after `message` on standard error: for a
    /// failure on one rank that the others cannot learn of through a collective (they would wait for it forever).
    public func abort(_ code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data("rank \(rank) of \(size): \(message)\n".utf8))
        MPI_Abort(comm, code)
        exit(code)
    }

    static func check(_ call: String, _ code: Int32) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw DistributedError.mpi(call: call, code: code, message: String(cString: text))
    }

    static func count(_ n: Int, _ what: String) throws -> Int32 {
        guard n <= Int(Int32.max) else { throw DistributedError.tooLarge(what: what, elements: n) }
        return Int32(n)
    }

    public func barrier() throws { try Self.check("MPI_Barrier", MPI_Barrier(comm)) }

    public func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] {
        var n = Int64(bytes.count)
        try Self.check("MPI_Bcast", MPI_Bcast(&n, 1, td_mpi_int64(), Int32(root), comm))
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(n))
        let c = try Self.count(Int(n), "broadcast")
        try out.withUnsafeMutableBytes { try Self.check("MPI_Bcast", MPI_Bcast($0.baseAddress, c, td_mpi_byte(), Int32(root), comm)) }
        return out
    }

    public func maximum(_ value: Int64) throws -> Int64 {
        var v = value
        try Self.check("MPI_Allreduce", MPI_Allreduce(td_mpi_in_place(), &v, 1, td_mpi_int64(), td_mpi_max(), comm))
        return v
    }

    public func allreduceSum(_ values: inout [Float]) throws {
        let c = try Self.count(values.count, "allreduce")
        try values.withUnsafeMutableBufferPointer {
            try Self.check("MPI_Allreduce", MPI_Allreduce(td_mpi_in_place(), $0.baseAddress, c, td_mpi_float(), td_mpi_sum(), comm))
        }
    }

    /// Each rank's `values` (any lengths), concatenated in rank order, with each rank's count.
    func allgatherv<T>(_ values: [T], _ type: MPI_Datatype, _ what: String) throws -> (all: [T], counts: [Int]) {
        var n = Int64(values.count)
        var counts64 = [Int64](repeating: 0, count: size)
        try Self.check("MPI_Allgather", MPI_Allgather(&n, 1, td_mpi_int64(), &counts64, 1, td_mpi_int64(), comm))
        let counts = counts64.map(Int.init)
        let total = counts.reduce(0, +)
        let c32 = try counts.map { try Self.count($0, what) }
        var displs = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) where size > 1 { displs[r] = try Self.count(Int(displs[r - 1]) + counts[r - 1], what) }
        _ = try Self.count(total, what)
        var all = [T]()
        all.reserveCapacity(total)
        try values.withUnsafeBufferPointer { send in
            all = try [T](unsafeUninitializedCapacity: total) { recv, initialized in
                try Self.check("MPI_Allgatherv", MPI_Allgatherv(send.baseAddress, c32[rank], type, recv.baseAddress, c32, displs, type, comm))
                initialized = total
            }
        }
        return (all, counts)
    }

    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        let (all, counts) = try allgatherv(bytes, td_mpi_byte(), "allgather")
        var out: [[UInt8]] = []
        var at = 0
        for c in counts { out.append(Array(all[at ..< at + c])); at += c }
        return out
    }

    /// Every rank's shard block (first shard, count) and value count, checked to tile `0 ..< shardCount` in rank order.
    private func layout(first: Int, count: Int, length: Int, shardCount: Int) throws -> [Range<Int>] {
        let (all, _) = try allgatherv([Int64(first), Int64(count), Int64(length)], td_mpi_int64(), "layout")
        var blocks: [Range<Int>] = []
        var next = 0
        for r in 0..<size {
            let f = Int(all[3 * r]), c = Int(all[3 * r + 1]), l = Int(all[3 * r + 2])
            guard f == next, c >= 1 else {
                throw DistributedError.shardLayout(rank: r, reason: "holds shards \(f) ..< \(f + c); rank order needs at least one shard from \(next)")
            }
            guard l == length else {
                throw DistributedError.shardLayout(rank: r, reason: "its shards have \(l) values, rank \(rank)'s have \(length)")
            }
            blocks.append(f ..< f + c)
            next = f + c
        }
        guard next == shardCount else {
            throw DistributedError.shardLayout(rank: size - 1, reason: "the ranks hold \(next) shards, the step has \(shardCount)")
        }
        return blocks
    }

    public func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws {
        let n = local.first?.count ?? 0
        if let bad = local.firstIndex(where: { $0.count != n }) {
            throw DistributedError.shardLayout(rank: rank, reason: "shard \(first + bad) has \(local[bad].count) values, shard \(first) has \(n)")
        }
        let blocks = try layout(first: first, count: local.count, length: n, shardCount: shardCount)
        if total.count != n { total = [Float](repeating: 0, count: n) }
        guard exact else {
            total = ShardTree.sum(local)
            try allreduceSum(&total)
            return
        }
        let nodes = blocks.map { ShardTree.nodes(covering: $0, count: shardCount) }
        // the sums of this rank's subtrees, each n values; a subtree of one shard is that shard itself (no copy)
        let mine = nodes[rank].map { node in
            node.count == 1 ? local[node.lowerBound - first] : ShardTree.sum(Array(local[(node.lowerBound - first) ..< (node.upperBound - first)]))
        }
        // rank s owns values slices[s]: it gets that slice of every subtree sum, and gives back that slice of the total
        let slices = (0..<size).map { s in (s * n / size) ..< ((s + 1) * n / size) }
        // what goes to rank s: slice s of each subtree sum, in subtree order. With one subtree here (the usual case)
        // that is the subtree sum itself, sent in place.
        var packed: [Float] = []
        var sendCounts = [Int32](), sendDispls = [Int32]()
        if mine.count == 1 {
            for s in 0..<size {
                sendDispls.append(try Self.count(slices[s].lowerBound, "alltoall"))
                sendCounts.append(try Self.count(slices[s].count, "alltoall"))
            }
        } else {
            packed.reserveCapacity(mine.count * n)
            for s in 0..<size {
                sendDispls.append(try Self.count(packed.count, "alltoall"))
                for part in mine { packed += part[slices[s]] }
                sendCounts.append(try Self.count(mine.count * slices[s].count, "alltoall"))
            }
        }
        let width = slices[rank].count
        var recvCounts = [Int32](), recvDispls = [Int32]()
        var at = 0
        for r in 0..<size {
            recvDispls.append(try Self.count(at, "alltoall"))
            recvCounts.append(try Self.count(nodes[r].count * width, "alltoall"))
            at += nodes[r].count * width
        }
        if received.count < at { received = [Float](repeating: 0, count: at) }
        let send = mine.count == 1 ? mine[0] : packed
        try send.withUnsafeBufferPointer { s in
            try received.withUnsafeMutableBufferPointer { r in
                try Self.check("MPI_Alltoallv", MPI_Alltoallv(s.baseAddress, sendCounts, sendDispls, td_mpi_float(),
                                                              r.baseAddress, recvCounts, recvDispls, td_mpi_float(), comm))
            }
        }
        // this rank's slice of the total, combined in the tree's order, straight into its place in `total`; then every
        // rank's slice to every rank (in place)
        var counts = [Int32](), displs = [Int32]()
        for s in 0..<size {
            counts.append(try Self.count(slices[s].count, "allgather"))
            displs.append(try Self.count(slices[s].lowerBound, "allgather"))
        }
        try received.withUnsafeBufferPointer { r in
            var parts: [Range<Int>: UnsafeBufferPointer<Float>] = [:]
            var offset = 0
            for list in nodes {
                for node in list {
                    parts[node] = UnsafeBufferPointer(rebasing: r[offset ..< offset + width])
                    offset += width
                }
            }
            try total.withUnsafeMutableBufferPointer { t in
                ShardTree.combine(parts, count: shardCount, into: UnsafeMutableBufferPointer(rebasing: t[slices[rank]]))
                try Self.check("MPI_Allgatherv", MPI_Allgatherv(td_mpi_in_place(), 0, td_mpi_float(), t.baseAddress, counts, displs,
                                                                td_mpi_float(), comm))
            }
        }
    }

    public func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] {
        let lengths = try allgatherv([Int64(first), Int64(local.count)] + local.map { Int64($0.count) }, td_mpi_int64(), "gather")
        let (values, _) = try allgatherv(local.flatMap { $0 }, td_mpi_double(), "gather")
        var out: [[Double]] = []
        var at = 0, header = 0, next = 0
        for r in 0..<size {
            let f = Int(lengths.all[header]), c = Int(lengths.all[header + 1])
            guard f == next else {
                throw DistributedError.shardLayout(rank: r, reason: "holds shards from \(f); rank order needs them from \(next)")
            }
            for i in 0..<c {
                let len = Int(lengths.all[header + 2 + i])
                out.append(Array(values[at ..< at + len]))
                at += len
            }
            header += 2 + c
            next = f + c
        }
        guard next == shardCount else {
            throw DistributedError.shardLayout(rank: size - 1, reason: "the ranks hold \(next) shards, the step has \(shardCount)")
        }
        return out
    }
}
