/// Sums gradients computed in fixed micro-shards of the global batch, across the processes of a data-parallel run,
/// so that the result does not depend on how many processes share the shards.
public protocol ShardReduction: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// `local` holds the flattened gradients (every store of the step, concatenated in order) of global shards
    /// `first ..< first + local.count`, computed here; on return `total` holds the sum over all `shardCount`
    /// shards of every rank, added in `ShardSum`'s fixed order (balanced binary tree over shard index; 2
    /// shards: a+b): the same bits on every rank and for any `size` that divides `shardCount`.
    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws
    /// Every shard's scalar values (losses, metrics), in global shard order, on every rank.
    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]]
}

/// The fixed order in which shard gradients are added.
public enum ShardSum {
    /// `out[i]` = the sum of `shards[s][i]` over s, as a balanced binary tree over the shard index: the first
    /// `count / 2` shards (rounded down) are summed as one subtree, the rest as the other, then the two are added
    /// (2 shards: a + b; 3: a + (b + c); 4: (a + b) + (c + d)). Every subtree is the same tree over its own range,
    /// so a process holding a contiguous run of shards that is a subtree can sum it alone.
    public static func tree(_ shards: [UnsafeBufferPointer<Float>], into out: UnsafeMutableBufferPointer<Float>) {
        precondition(!shards.isEmpty, "ShardSum.tree needs at least one shard")
        for s in shards { precondition(s.count == out.count, "ShardSum.tree: shard of \(s.count) values, output of \(out.count)") }
        if shards.count == 1 {
            guard let src = shards[0].baseAddress, let dst = out.baseAddress else { return }
            if src != UnsafePointer(dst) { dst.update(from: src, count: out.count) }
            return
        }
        let n = out.count
        let half = shards.count / 2
        // the right subtree goes to a scratch buffer, the left one straight into `out`
        let right = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { right.deallocate() }
        tree(Array(shards[half...]), into: right)
        tree(Array(shards[..<half]), into: out)
        for i in 0..<n { out[i] += right[i] }
    }
}
