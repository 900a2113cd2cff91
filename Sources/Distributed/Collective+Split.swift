import Foundation
import Tensor

// Work that is not a gradient (validation batches, ...) split across the ranks and gathered back in a fixed order, so
// that what a run computes from it does not depend on the number of ranks.
extension Collective {
    /// The block of `0 ..< count` this rank computes: `rank * count / size ..< (rank + 1) * count / size` (the blocks
    /// tile the range in rank order; a rank may have none when `count < size`).
    public func block(of count: Int) -> Range<Int> {
        rank * count / size ..< (rank + 1) * count / size
    }

    /// `body(i)` for every `i` in `0 ..< count`, each computed once, by the rank whose `block(of:)` holds it, and
    /// returned on every rank in index order: the same array for any number of ranks, as long as `body(i)` does not
    /// depend on which rank runs it. Every rank must call it with the same `count`.
    /// - Throws: what `body` throws (on its rank; under mpirun the other ranks then wait in the gather until the job
    ///   is ended), or a `DistributedError` from the gather.
    public func mapInOrder(_ count: Int, _ body: (Int) throws -> [UInt8]) throws -> [[UInt8]] {
        if size == 1 { return try (0..<count).map(body) }
        var packed: [UInt8] = []
        for i in block(of: count) {
            let item = try body(i)
            withUnsafeBytes(of: UInt64(item.count).littleEndian) { packed += $0 }
            packed += item
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        for (r, bytes) in try allgather(packed).enumerated() {
            var at = 0
            while at < bytes.count {
                guard at + 8 <= bytes.count else {
                    throw DistributedError.rankFailed(rank: r, size: size, reason: "sent \(bytes.count) bytes for its block of \(count) items: a length is cut at byte \(at)")
                }
                var length: UInt64 = 0
                withUnsafeMutableBytes(of: &length) { $0.copyBytes(from: bytes[at ..< at + 8]) }
                let n = Int(UInt64(littleEndian: length)), start = at + 8
                guard n <= bytes.count - start else {
                    throw DistributedError.rankFailed(rank: r, size: size, reason: "sent an item of \(n) bytes with \(bytes.count - start) left")
                }
                out.append(Array(bytes[start ..< start + n]))
                at = start + n
            }
        }
        guard out.count == count else {
            throw DistributedError.rankFailed(rank: size - 1, size: size, reason: "the ranks returned \(out.count) items of \(count)")
        }
        return out
    }
}

/// A `[String: Double]` as bytes and back, exactly (each value's bit pattern): what a rank sends for one item of
/// `mapInOrder` when the item is a set of metrics.
public enum MetricBytes {
    /// The keys in sorted order, each as its UTF-8 length (8 bytes), its UTF-8 and the value's 8 bytes.
    public static func encode(_ metrics: [String: Double]) -> [UInt8] {
        var out = WordWriter()
        for key in metrics.keys.sorted() {
            out.string(key)
            out.word(metrics[key]!.bitPattern)
        }
        return out.bytes
    }

    /// The metrics `encode` wrote; nil when the bytes are not such a record.
    public static func decode(_ bytes: [UInt8]) -> [String: Double]? {
        var out: [String: Double] = [:]
        var reader = WordReader(bytes)
        while !reader.atEnd {
            guard let key = reader.string(), let bits = reader.word() else { return nil }
            out[key] = Double(bitPattern: bits)
        }
        return out
    }
}
