import Foundation
import Tensor
import TestSupport
import Testing

// The fixed order a training step adds its shards' gradients in (`ShardSum.tree`) and the global-norm clip over
// several stores (`GradientClip`), each against values written out by hand.

@Suite("shard sum and gradient clip")
struct ShardSumTests {
    /// The tree sum of `shards` (one array per shard) into a fresh array.
    private func tree(_ shards: [[Float]]) -> [Float] {
        var out = [Float](repeating: .nan, count: shards[0].count)
        withPointers(shards) { pointers in out.withUnsafeMutableBufferPointer { ShardSum.tree(pointers, into: $0) } }
        return out
    }

    /// `body` with a buffer pointer over each array (valid inside `body` only).
    private func withPointers(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) -> Void) {
        func nest(_ i: Int, _ done: [UnsafeBufferPointer<Float>]) {
            if i == arrays.count { return body(done) }
            arrays[i].withUnsafeBufferPointer { nest(i + 1, done + [$0]) }
        }
        nest(0, [])
    }

    @Test("the tree adds (a + b) + (c + d), not left to right: 1e8, 1, -1e8, 1 sum to 0 (left to right: 1)")
    func fourShardOrder() {
        let a: Float = 1e8, b: Float = 1, c: Float = -1e8, d: Float = 1
        // by hand: 1e8 + 1 rounds to 1e8 (the float spacing there is 8), -1e8 + 1 to -1e8, so the tree gives 0;
        // left to right gives (1e8 + 1 - 1e8) + 1 = 0 + 1 = 1, pairs (a + c) + (b + d) give 2
        #expect(tree([[a], [b], [c], [d]]) == [0])
        #expect(((a + b) + c) + d == 1, "the hand values must tell the orders apart")
        #expect(tree([[a], [b]]) == [a + b])
        #expect(tree([[a], [b], [c]]) == [0])  // (a + b) + c = 1e8 - 1e8
        // 5 shards: the left subtree takes 3, ((a + b) + c) + (d + e)
        #expect(tree([[1], [a], [c], [1], [1]]) == [2])  // ((1 + 1e8) + -1e8) + (1 + 1) = 0 + 2
        #expect(tree([[7]]) == [7])
        #expect(ShardSum.split(4) == 2 && ShardSum.split(5) == 3 && ShardSum.split(2) == 1)
    }

    @Test("over many elements (several blocks) each element is its own tree, and the sum may overwrite the first shard")
    func blocksAndInPlace() {
        var rng = RandomGenerator(seed: 5)
        let n = 2_500
        let shards = (0..<4).map { _ in (0..<n).map { _ in rng.nextNormal() * 1e4 } }
        let expected = (0..<n).map { j in (shards[0][j] + shards[1][j]) + (shards[2][j] + shards[3][j]) }
        #expect(tree(shards).map(\.bitPattern) == expected.map(\.bitPattern))
        let three = (0..<n).map { j in (shards[0][j] + shards[1][j]) + shards[2][j] }
        #expect(tree(Array(shards.prefix(3))).map(\.bitPattern) == three.map(\.bitPattern))

        // in place: the result written over the first shard's memory
        var first = shards[0]
        first.withUnsafeMutableBufferPointer { out in
            withPointers(Array(shards.dropFirst())) { others in ShardSum.tree([UnsafeBufferPointer(out)] + others, into: out) }
        }
        #expect(first.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test("LocalReduction sums every shard by the tree and gathers the values as they are")
    func localReduction() throws {
        let r = LocalReduction()
        #expect(r.rank == 0 && r.size == 1)
        var total = [Float](repeating: 0, count: 2)
        try r.sum(local: [[1e8, 2], [1, 3], [-1e8, 4], [1, 5]], first: 0, shardCount: 4, into: &total)
        #expect(total == [0, 14])
        #expect(try r.gather(local: [[1, 2], [3, 4]], first: 0, shardCount: 2) == [[1, 2], [3, 4]])
    }

    @Test("the clip over two stores scales both by maxNorm / (norm + 1e-6) of their joint norm; frozen gradients stay")
    func clipOverStores() {
        let a = ParameterStore([("w", [2], true), ("frozen", [1], true)]), b = ParameterStore([("v", [1], true)])
        a.setFrozen("frozen", true)
        a.gradients.base[0] = 3; a.gradients.base[1] = 4; a.gradients.base[2] = 100
        b.gradients.base[0] = 12
        // by hand: sqrt(3^2 + 4^2 + 12^2) = 13 (the frozen 100 does not count)
        let norm = GradientClip.apply(to: [a, b], maxNorm: 6.5)
        #expect(norm == 13)
        let k = Float(6.5) / (13 + 1e-6)
        #expect(a.gradients.base[0] == 3 * k && a.gradients.base[1] == 4 * k && b.gradients.base[0] == 12 * k)
        #expect(a.gradients.base[2] == 100)
        let after = (pow(a.gradientNorm(), 2) + pow(b.gradientNorm(), 2)).squareRoot()
        #expect(abs(after - 6.5) < 1e-5)
        // under the cap, or measuring only: nothing changes
        #expect(GradientClip.apply(to: [a, b], maxNorm: 100) == after)
        #expect(GradientClip.apply(to: [a, b], maxNorm: nil) == after)
        #expect(b.gradients.base[0] == 12 * k)
        // a norm that is not a number is reported and nothing is scaled
        b.gradients.base[0] = .nan
        #expect(GradientClip.apply(to: [a, b], maxNorm: 1).isNaN && a.gradients.base[0] == 3 * k)
    }

    @Test("shardRanges: contiguous, the earlier ones longer by one; 2 shards are Parallel.halves")
    func ranges() {
        #expect(shardRanges(11, shards: 4) == [0..<3, 3..<6, 6..<9, 9..<11])
        #expect(shardRanges(11, shards: 2) == [0..<6, 6..<11])
        #expect(shardRanges(3, shards: 8) == [0..<1, 1..<2, 2..<3])
        #expect(shardRanges(0, shards: 2).isEmpty)
        for n in 1..<9 { #expect(shardRanges(n, shards: 2).map { Array($0) } == Parallel.halves(Array(0..<n))) }
    }
}
