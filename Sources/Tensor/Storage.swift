import Foundation

/// One 64-byte aligned allocation of `Float`s, shared by every tensor that views it.
///
/// Buffers return to a size-keyed pool when their storage dies, so a training step that allocates the
/// same activations every iteration reuses warm pages instead of paying for fresh (page-faulting) memory.
public final class Storage: @unchecked Sendable {
    /// First element of the allocation.
    public let base: UnsafeMutablePointer<Float>
    /// Number of `Float`s in the allocation.
    public let count: Int

    /// Allocates `count` floats; zero-filled when `zeroed` is true, otherwise contents are unspecified.
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "Storage count must be non-negative, got \(count)")
        self.count = count
        self.base = BufferPool.shared.take(count: count)
        if zeroed { base.update(repeating: 0, count: count) }
    }

    deinit { BufferPool.shared.give(base, count: count) }
}

/// Recycles aligned float buffers by exact element count, up to a byte budget.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var pooledBytes = 0
    private let budgetBytes = 1 << 30
    private let lock = NSLock()

    func take(count: Int) -> UnsafeMutablePointer<Float> {
        lock.lock()
        if var list = free[count], let p = list.popLast() {
            free[count] = list
            pooledBytes -= count * 4
            lock.unlock()
            return p
        }
        lock.unlock()
        var raw: UnsafeMutableRawPointer?
        let bytes = max(64, (count * MemoryLayout<Float>.stride + 63) & ~63)
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func give(_ p: UnsafeMutablePointer<Float>, count: Int) {
        lock.lock()
        if pooledBytes + count * 4 <= budgetBytes {
            free[count, default: []].append(p)
            pooledBytes += count * 4
            lock.unlock()
            return
        }
        lock.unlock()
        Foundation.free(p)
    }
}
