/// How the shards of a training step, computed in one process or spread over several (MPI ranks), become one
/// gradient: the seam between `TrainingStep` and a distributed runtime. Each process computes a contiguous block
/// of the step's shards (`rank * shardCount / size ..< (rank + 1) * shardCount / size`); the reduction adds every
/// shard's gradient in `ShardSum`'s fixed order, so every process ends with the same bits, whatever `size`.
public protocol ShardReduction: AnyObject {
    /// This process (0-based).
    var rank: Int { get }
    /// Processes.
    var size: Int { get }
    /// `local` holds the flattened gradients (every store of the step, concatenated in order) of global shards
    /// `first ..< first + local.count`, computed here; on return `total` (count = the flattened length) holds
    /// the sum over all `shardCount` shards of every rank, added in `ShardSum`'s fixed order: the same bits on
    /// every rank and for any `size` that divides `shardCount`.
    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws
    /// Every shard's scalar values (losses, metrics), in global shard order, on every rank.
    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]]
}

/// The fixed order in which a step adds its shards' gradients: a balanced binary tree over the shard index,
/// the left subtree taking the first `split(count)` shards (2 shards: a + b; 4: (a + b) + (c + d); 3: (a + b) + c).
/// Float addition is not associative, so this order is part of a run's result: a block of shards a process
/// holds is a subtree whenever the shard and process counts are powers of two.
public enum ShardSum {
    /// Elements added per block when more than two shards are summed (the partial sums of one block stay in cache).
    static let block = 1024

    /// How many of `count` shards the left subtree takes: half, the left one longer by one when odd.
    @inline(__always) public static func split(_ count: Int) -> Int { (count + 1) / 2 }

    /// the fixed pairwise order: a balanced binary tree over shard index (2 shards: a+b)
    ///
    /// Writes into `out` the elementwise tree sum of `shards` (all of `out.count` elements). `out` may be the
    /// first shard's own memory (each block of it is written after every shard's block was read), not another's.
    public static func tree(_ shards: [UnsafeBufferPointer<Float>], into out: UnsafeMutableBufferPointer<Float>) {
        precondition(!shards.isEmpty, "ShardSum.tree: no shards")
        let n = out.count
        for (i, s) in shards.enumerated() {
            precondition(s.count == n, "ShardSum.tree: shard \(i) has \(s.count) elements, the sum \(n)")
        }
        guard n > 0, let o = out.baseAddress else { return }
        let p = shards.map { $0.baseAddress! }
        switch p.count {
        case 1:
            if p[0] != UnsafePointer(o) { o.update(from: p[0], count: n) }
        case 2:
            Self.add(p[0], p[1], into: o, n)
        default:
            // one block at a time: the left subtree into the destination, the right into scratch, then added
            let depth = Int.bitWidth - p.count.leadingZeroBitCount + 1
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: block * depth)
            defer { scratch.deallocate() }
            func sum(_ lo: Int, _ hi: Int, _ start: Int, _ m: Int, _ dst: UnsafeMutablePointer<Float>, _ free: UnsafeMutablePointer<Float>) {
                if hi - lo == 1 {
                    if p[lo] + start != UnsafePointer(dst) { dst.update(from: p[lo] + start, count: m) }
                    return
                }
                let mid = lo + split(hi - lo)
                sum(lo, mid, start, m, dst, free)
                sum(mid, hi, start, m, free, free + block)
                ShardSum.add(dst, free, into: dst, m)
            }
            var start = 0
            while start < n {
                let m = min(block, n - start)
                sum(0, p.count, start, m, o + start, scratch)
                start += m
            }
        }
    }
}

extension ShardSum {
    /// out[j] = a[j] + b[j] for j < n, 16 lanes at a time (each lane one IEEE addition: the bits of the scalar
    /// loop); `out` may be `a` or `b`.
    @inline(__always)
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, _ n: Int) {
        var j = 0
        while j + simdWidth <= n {
            let r = UnsafeRawPointer(a + j).loadUnaligned(as: Vec.self) + UnsafeRawPointer(b + j).loadUnaligned(as: Vec.self)
            UnsafeMutableRawPointer(out + j).storeBytes(of: r, as: Vec.self)
            j += simdWidth
        }
        while j < n { out[j] = a[j] + b[j]; j += 1 }
    }
}

/// The reduction of a single process (`size` 1): the tree over the shards it computed itself.
public final class LocalReduction: ShardReduction {
    public let rank = 0
    public let size = 1

    public init() {}

    public func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws {
        precondition(first == 0 && local.count == shardCount, "LocalReduction holds every shard: got \(local.count) of \(shardCount) from \(first)")
        let n = total.count
        withBuffers(local) { shards in
            total.withUnsafeMutableBufferPointer { out in
                precondition(shards.allSatisfy { $0.count == n }, "LocalReduction: shard gradients of other lengths than \(n)")
                ShardSum.tree(shards, into: out)
            }
        }
    }

    public func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] {
        precondition(first == 0 && local.count == shardCount, "LocalReduction holds every shard: got \(local.count) of \(shardCount) from \(first)")
        return local
    }
}

/// Calls `body` with buffer pointers over every array of `arrays` (valid only inside `body`).
func withBuffers<R>(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R {
    func nest(_ i: Int, _ done: [UnsafeBufferPointer<Float>]) throws -> R {
        if i == arrays.count { return try body(done) }
        return try arrays[i].withUnsafeBufferPointer { try nest(i + 1, done + [$0]) }
    }
    return try nest(0, [])
}
