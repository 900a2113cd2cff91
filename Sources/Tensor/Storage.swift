import Foundation

/// One 64-byte aligned allocation of `Float`s, shared by every tensor that views it.
///
/// Buffers return to a size-keyed pool when their storage dies, so a training step that allocates the
/// same activations every iteration reuses warm pages instead of paying for fresh (page-faulting) memory.
/// A fresh buffer of `BufferPool.mappedBytes` or more comes from the kernel already zero and is not written
/// when zeroed: its pages cost memory only once used (a model's gradients, 540 MB at SmolLM2-135M, are
/// never touched when it only generates or scores).
public final class Storage: @unchecked Sendable {
    /// First element of the allocation.
    public let base: UnsafeMutablePointer<Float>
    /// Number of `Float`s in the allocation.
    public let count: Int

    /// Allocates `count` floats; zero-filled when `zeroed` is true, otherwise contents are unspecified.
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "Storage count must be non-negative, got \(count)")
        self.count = count
        let (base, alreadyZero) = BufferPool.shared.take(count: count)
        self.base = base
        if zeroed && !alreadyZero { base.update(repeating: 0, count: count) }
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

    /// Buffers of at least this many bytes are anonymous mappings of their own (32 MiB: glibc's largest
    /// threshold for serving malloc from mmap, so such buffers were mappings before too): fresh ones are zero.
    static let mappedBytes = 32 << 20

    /// The bytes allocated for `count` floats.
    private static func bytes(_ count: Int) -> Int { max(64, (count * MemoryLayout<Float>.stride + 63) & ~63) }

    /// A buffer of `count` floats, and whether it is known to hold zeros (a fresh mapping).
    func take(count: Int) -> (UnsafeMutablePointer<Float>, zeroed: Bool) {
        lock.lock()
        // popped in place: a copy of the list taken out of the dictionary would share its storage, and popping from
        // it would copy the whole list first (an allocation on every take)
        if let p = free[count]?.popLast() {
            pooledBytes -= count * 4
            lock.unlock()
            return (p, false)
        }
        lock.unlock()
        let bytes = Self.bytes(count)
        if bytes >= Self.mappedBytes {
            guard let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != UnsafeMutableRawPointer(bitPattern: -1) else {  // MAP_FAILED
                fatalError("out of memory mapping \(bytes) bytes")
            }
            return (raw.bindMemory(to: Float.self, capacity: count), true)
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        return (raw.bindMemory(to: Float.self, capacity: max(count, 1)), false)
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
        let bytes = Self.bytes(count)
        if bytes >= Self.mappedBytes { munmap(p, bytes) } else { Foundation.free(p) }
    }
}
