import Distributed
import Tensor
import Testing

/// The fixed order of the gradient sum (`ShardSum.tree`), checked by hand on values where the order changes the
/// result: in Float, 1e8 + 1 rounds back to 1e8 (the spacing there is 8), so (1e8 + -1e8) + 1 = 1 but
/// 1e8 + (-1e8 + 1) = 0.
@Suite struct ShardTreeTests {
    @Test func twoShardsAreAPlusB() {
        #expect(ShardTree.sum([[1, 2.5], [3, -0.5]]) == [4, 2])
    }

    @Test func threeShardsAddTheFirstTwoFirst() {
        // (a + b) + c: the left subtree takes ShardSum.split(3) = 2 shards
        #expect(ShardTree.sum([[1e8], [-1e8], [1]]) == [1])
        #expect(ShardTree.sum([[1], [1e8], [-1e8]]) == [0])
        // four: (a + b) + (c + d)
        #expect(ShardTree.sum([[1e8], [1], [-1e8], [0]]) == [0])
    }

    @Test func nodesCoverABlockWithTheLargestSubtrees() {
        // 8 shards: halves and quarters are subtrees
        #expect(ShardTree.nodes(covering: 0..<4, count: 8) == [0..<4])
        #expect(ShardTree.nodes(covering: 2..<4, count: 8) == [2..<4])
        // 6 shards split 3 + 3, each 3 as 2 + 1: of 3 ranks' blocks, 0..<2 is a subtree, 2..<4 is {2} of the left half
        // and {3} of the right, 4..<6 is {4} of the right half's pair {3, 4} and the single {5}
        #expect(ShardTree.nodes(covering: 0..<2, count: 6) == [0..<2])
        #expect(ShardTree.nodes(covering: 2..<4, count: 6) == [2..<3, 3..<4])
        #expect(ShardTree.nodes(covering: 4..<6, count: 6) == [4..<5, 5..<6])
    }

    @Test func combiningSubtreeSumsGivesTheTreeSum() {
        // 6 shards in the blocks of 3 ranks: the combined parts equal one process's tree bit for bit
        let shards: [[Float]] = [[1e8, 3], [-1e8, 1e-3], [1, 7e7], [0.5, -7e7], [1e7, 2], [-1e7, 1e-7]]
        var parts: [Range<Int>: [Float]] = [:]
        for block in [0..<2, 2..<4, 4..<6] {
            for node in ShardTree.nodes(covering: block, count: 6) { parts[node] = ShardTree.sum(Array(shards[node])) }
        }
        var out = [Float](repeating: 0, count: 2)
        let keys = Array(parts.keys)
        func with(_ i: Int, _ acc: [Range<Int>: UnsafeBufferPointer<Float>]) {
            if i == keys.count { out.withUnsafeMutableBufferPointer { ShardTree.combine(acc, count: 6, into: $0) }; return }
            parts[keys[i]]!.withUnsafeBufferPointer { p in var a = acc; a[keys[i]] = p; with(i + 1, a) }
        }
        with(0, [:])
        let expected = ShardTree.sum(shards)
        #expect(out.map(\.bitPattern) == expected.map(\.bitPattern))
        // by hand, value 0: ((1e8 + -1e8) + 1) + ((0.5 + 1e7) + -1e7) = 1 + 0 (0.5 + 1e7 rounds to 1e7: spacing 1)
        #expect(expected[0] == 1)
    }

    @Test func oneProcessHoldsEveryShard() throws {
        let local = LocalProcess()
        var total: [Float] = []
        try local.sum(local: [[1e8], [-1e8], [1]], first: 0, shardCount: 3, into: &total)
        #expect(total == [1])
        #expect(throws: DistributedError.self) { try local.sum(local: [[1]], first: 0, shardCount: 2, into: &total) }
        #expect(try local.gather(local: [[1, 2], [3]], first: 0, shardCount: 2) == [[1, 2], [3]])
    }

    @Test func aLauncherIsRecognisedByItsEnvironment() {
        #expect(Launch.isMPIJob(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        #expect(Launch.isMPIJob(environment: ["PMIX_RANK": "0"]))
        #expect(!Launch.isMPIJob(environment: ["HOME": "/root"]))
    }
}
