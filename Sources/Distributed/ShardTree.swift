import Tensor

/// The node structure of `ShardSum.tree` over `0 ..< count` shards, for a reduction spread over ranks: each rank sums
/// the largest subtrees inside its own block of shards, and the subtree sums are combined in the tree's order, so the
/// result has the bits one process gets from `ShardSum.tree` over all shards, for any number of ranks.
public enum ShardTree {
    /// The largest subtrees of the tree over `0 ..< count` that lie inside `block`, in shard order; together they
    /// cover `block` exactly. A block that is itself a subtree (power-of-two counts split evenly) gives one node.
    public static func nodes(covering block: Range<Int>, count: Int) -> [Range<Int>] {
        var found: [Range<Int>] = []
        func visit(_ node: Range<Int>) {
            if node.isEmpty || node.upperBound <= block.lowerBound || node.lowerBound >= block.upperBound { return }
            if node.lowerBound >= block.lowerBound && node.upperBound <= block.upperBound {
                found.append(node)
                return
            }
            let half = node.lowerBound + ShardSum.split(node.count)
            visit(node.lowerBound ..< half)
            visit(half ..< node.upperBound)
        }
        visit(0 ..< count)
        return found
    }

    /// The sum over `0 ..< count` in `ShardSum.tree`'s order, given the sums of a set of subtrees that cover it
    /// (`parts[node]`, each `out.count` values): subtrees above the given ones are added left + right.
    public static func combine(_ parts: [Range<Int>: UnsafeBufferPointer<Float>], count: Int,
                               into out: UnsafeMutableBufferPointer<Float>) {
        func eval(_ node: Range<Int>, _ dst: UnsafeMutableBufferPointer<Float>) {
            if let part = parts[node] {
                precondition(part.count == dst.count, "ShardTree.combine: part of \(part.count) values, output of \(dst.count)")
                if let src = part.baseAddress, let d = dst.baseAddress { d.update(from: src, count: dst.count) }
                return
            }
            precondition(node.count > 1, "ShardTree.combine: shard \(node.lowerBound) is in no given subtree")
            let half = node.lowerBound + ShardSum.split(node.count)
            if let l = parts[node.lowerBound ..< half], let r = parts[half ..< node.upperBound] {
                // both halves given (each rank's block one subtree): one pass, no scratch
                for i in 0..<dst.count { dst[i] = l[i] + r[i] }
                return
            }
            let right = UnsafeMutableBufferPointer<Float>.allocate(capacity: dst.count)
            defer { right.deallocate() }
            eval(half ..< node.upperBound, right)
            eval(node.lowerBound ..< half, dst)
            for i in 0..<dst.count { dst[i] += right[i] }
        }
        eval(0 ..< count, out)
    }

    /// `ShardSum.tree` over `shards` (each the same length) into a new array.
    public static func sum(_ shards: [[Float]]) -> [Float] {
        guard let n = shards.first?.count else { return [] }
        var out = [Float](repeating: 0, count: n)
        withBuffers(shards) { ptrs in out.withUnsafeMutableBufferPointer { ShardSum.tree(ptrs, into: $0) } }
        return out
    }

    /// Calls `body` with a read-only buffer over each array (valid only inside `body`).
    static func withBuffers<R>(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R {
        var ptrs: [UnsafeBufferPointer<Float>] = []
        ptrs.reserveCapacity(arrays.count)
        func go(_ i: Int) throws -> R {
            if i == arrays.count { return try body(ptrs) }
            return try arrays[i].withUnsafeBufferPointer { p in
                ptrs.append(p)
                return try go(i + 1)
            }
        }
        return try go(0)
    }
}
