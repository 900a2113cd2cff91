import Checkpoint
import Tensor

/// Walks a dataset in a seeded random order, epoch after epoch. Its whole state is a `DataPosition`
/// (epoch, index in that epoch's order): the order itself is a function of the seed and the epoch, so a
/// resumed run draws exactly the batches the uninterrupted run would have.
public struct DataCursor {
    /// Rows in the dataset.
    public let count: Int
    /// Seed of every epoch's order.
    public let seed: UInt64
    /// Where the next batch starts.
    public private(set) var position: DataPosition
    private var order: [Int] = []
    private var orderEpoch = -1

    public init(count: Int, seed: UInt64, position: DataPosition = DataPosition()) {
        precondition(count > 0, "a data cursor needs at least one row")
        self.count = count
        self.seed = seed
        self.position = position
    }

    /// The order of epoch `epoch`: a Fisher-Yates shuffle from a generator seeded by (seed, epoch).
    public static func order(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = RandomGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
        return order
    }

    /// The next `n` row indices; a batch that reaches the end of an epoch continues into the next one.
    public mutating func next(_ n: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(n)
        while out.count < n {
            if orderEpoch != position.epoch {
                order = Self.order(count: count, seed: seed, epoch: position.epoch)
                orderEpoch = position.epoch
            }
            out.append(order[position.index])
            position.index += 1
            if position.index == count { position = DataPosition(epoch: position.epoch + 1, index: 0) }
        }
        return out
    }
}
