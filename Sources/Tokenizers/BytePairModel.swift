import Foundation

/// The BPE model of a byte-level tokenizer, working on raw bytes: a pre-token's bytes start as one symbol
/// each and the adjacent pair with the lowest merge rank (leftmost among equals) is merged until no pair has
/// a merge (Sennrich et al. 2016; HF `Word::merge_all`). Results are cached per pre-token.
final class BytePairModel: @unchecked Sendable {
    /// The id of the one-byte token for each byte; -1 when the vocab lacks it (the byte is then dropped, as
    /// HF does without an unknown token).
    let byteIDs: [Int32]
    /// Raw bytes -> id for the vocab tokens written in the byte-level alphabet (the only ones BPE can form).
    let idsByBytes: ByteSequenceTable
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    /// Llama 3's `ignore_merges`: a pre-token that is itself in the vocab is one token.
    let ignoreMerges: Bool

    /// Pre-token bytes -> ids, shared by all calls (guarded by `cacheLock`), bounded in size.
    private var cache: ByteSequenceTable
    private let cacheLock = NSLock()
    private static let cacheByteLimit = 64 << 20
    /// Longer pre-tokens are not cached (HF's MAX_LENGTH).
    private static let cachedLengthLimit = 256

    init(byteIDs: [Int32], idsByBytes: ByteSequenceTable, merges: [UInt64: UInt64], ignoreMerges: Bool) {
        self.byteIDs = byteIDs
        self.idsByBytes = idsByBytes
        self.merges = merges
        self.ignoreMerges = ignoreMerges
        cache = ByteSequenceTable(expectedCount: 1 << 14)
    }

    /// Appends the ids of pre-token `p[0..<n]` to `ids`.
    func tokenize(_ p: UnsafePointer<UInt8>, _ n: Int, into ids: inout [Int32], scratch: inout BPEScratch) {
        if n == 1 {
            let id = byteIDs[Int(p[0])]
            if id >= 0 { ids.append(id) }
            return
        }
        if ignoreMerges, let id = idsByBytes.first(p, n) {
            ids.append(id)
            return
        }
        let cacheable = n <= BytePairModel.cachedLengthLimit
        if cacheable {
            cacheLock.lock()
            let hit: Void? = cache.withValues(p, n) { ids.append(contentsOf: $0) }
            cacheLock.unlock()
            if hit != nil { return }
        }
        let before = ids.count
        merge(p, n, into: &ids, scratch: &scratch)
        if cacheable {
            cacheLock.lock()
            if cache.storedBytes < BytePairModel.cacheByteLimit {
                ids.withUnsafeBufferPointer { _ = cache.insert(p, n, values: UnsafeBufferPointer(rebasing: $0[before...])) }
            }
            cacheLock.unlock()
        }
    }

    /// The merge loop over a linked list of symbols with a min-heap of (rank, position) candidates; a popped
    /// candidate whose pair has changed since it was pushed is stale and skipped.
    private func merge(_ p: UnsafePointer<UInt8>, _ n: Int, into ids: inout [Int32], scratch: inout BPEScratch) {
        scratch.reset()
        for i in 0..<n {
            let id = byteIDs[Int(p[i])]
            if id >= 0 { scratch.symbols.append(id) }
        }
        let count = scratch.symbols.count
        if count == 0 { return }
        for i in 0..<count {
            scratch.previous.append(Int32(i - 1))
            scratch.next.append(i + 1 < count ? Int32(i + 1) : -1)
        }
        for i in 0..<(count - 1) {
            if let m = merges[pairKey(scratch.symbols[i], scratch.symbols[i + 1])] {
                scratch.push(rank: UInt32(m >> 32), position: i)
            }
        }
        while let (rank, pos) = scratch.pop() {
            let left = scratch.symbols[pos]
            let nextPos = Int(scratch.next[pos])
            guard left >= 0, nextPos >= 0 else { continue }
            let right = scratch.symbols[nextPos]
            guard let m = merges[pairKey(left, right)], UInt32(m >> 32) == rank else { continue }
            scratch.symbols[pos] = Int32(truncatingIfNeeded: m)
            scratch.symbols[nextPos] = -1
            let after = Int(scratch.next[nextPos])
            scratch.next[pos] = Int32(after)
            if after >= 0 { scratch.previous[after] = Int32(pos) }
            let merged = scratch.symbols[pos]
            let before = Int(scratch.previous[pos])
            if before >= 0, let m2 = merges[pairKey(scratch.symbols[before], merged)] {
                scratch.push(rank: UInt32(m2 >> 32), position: before)
            }
            if after >= 0, let m2 = merges[pairKey(merged, scratch.symbols[after])] {
                scratch.push(rank: UInt32(m2 >> 32), position: pos)
            }
        }
        var i = 0
        while i >= 0 {
            ids.append(scratch.symbols[i])
            i = Int(scratch.next[i])
        }
    }

    @inline(__always)
    private func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }
}

/// Reusable buffers for one encode call's merges.
struct BPEScratch {
    var symbols: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    /// A binary min-heap of rank << 32 | position.
    private var heap: [UInt64] = []

    mutating func reset() {
        symbols.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
    }

    mutating func push(rank: UInt32, position: Int) {
        heap.append(UInt64(rank) << 32 | UInt64(position))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[parent] > heap[i] else { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> (rank: UInt32, position: Int)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < heap.count, heap[l] < heap[smallest] { smallest = l }
                if r < heap.count, heap[r] < heap[smallest] { smallest = r }
                if smallest == i { break }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
        return (UInt32(top >> 32), Int(top & 0xFFFF_FFFF))
    }
}
