import Distributed
import Testing

/// Work split across ranks (`Collective.block(of:)`, `mapInOrder`) and the metric records a rank sends for it.
@Suite struct SplitTests {
    /// The blocks of a group of `size` ranks, each computed as the rank of that group would.
    private func blocks(_ count: Int, size: Int) -> [Range<Int>] {
        (0..<size).map { r in OneRankOf(rank: r, size: size).block(of: count) }
    }

    @Test func blocksTileTheItemsInRankOrder() {
        // by hand: rank r holds r * n / size ..< (r + 1) * n / size
        #expect(blocks(4, size: 2) == [0..<2, 2..<4])
        #expect(blocks(5, size: 2) == [0..<2, 2..<5])
        #expect(blocks(3, size: 4) == [0..<0, 0..<1, 1..<2, 2..<3])
        #expect(blocks(1, size: 2) == [0..<0, 0..<1])
        #expect(blocks(7, size: 1) == [0..<7])
    }

    @Test func oneProcessMapsEveryItemInOrder() throws {
        var seen: [Int] = []
        let out = try LocalProcess().mapInOrder(5) { i in
            seen.append(i)
            return [UInt8(i), UInt8(2 * i)]
        }
        #expect(seen == [0, 1, 2, 3, 4])
        #expect(out == [[0, 0], [1, 2], [2, 4], [3, 6], [4, 8]])
    }

    @Test func metricsRoundTripBitForBit() throws {
        let metrics: [String: Double] = ["validation/loss": 0.1 + 0.2, "validation/kl": -0.0, "nan": .nan, "é/∞": .infinity,
                                         "": 5e-324, "\u{0}weight": 1234]
        let back = try #require(MetricBytes.decode(MetricBytes.encode(metrics)))
        #expect(Set(back.keys) == Set(metrics.keys))
        for (k, v) in metrics { #expect(back[k]?.bitPattern == v.bitPattern, "\(k)") }
        #expect(MetricBytes.decode([]) == [:])
        // a record cut inside its value, or a length past the end, is refused
        let bytes = MetricBytes.encode(["a": 1])
        #expect(MetricBytes.decode(Array(bytes.dropLast())) == nil)
        #expect(MetricBytes.decode([200, 0, 0, 0, 0, 0, 0, 0, 97]) == nil)
    }
}

/// A rank of a group, for `block(of:)` only (no collective is called).
private final class OneRankOf: Collective {
    let rank: Int
    let size: Int
    init(rank: Int, size: Int) { self.rank = rank; self.size = size }
    func barrier() throws { Issue.record("not collective here") }
    func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] { bytes }
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    func maximum(_ value: Int64) throws -> Int64 { value }
    func allreduceSum(_ values: inout [Float]) throws {}
    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws {}
    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] { local }
}
