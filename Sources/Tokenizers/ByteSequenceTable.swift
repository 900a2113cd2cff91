/// An open-addressing hash table from byte strings to short runs of token ids. Keys and values live in two
/// flat arrays, so a lookup hashes the caller's bytes in place (no String or Array made per word), which
/// is what keeps the vocabulary lookups and the per-word BPE cache cheap.
struct ByteSequenceTable {
    private var slots: [Int32]            // entry index + 1; 0 marks an empty slot
    private var hashes: [UInt32] = []     // per entry
    private var keyStarts: [Int32] = []   // per entry, into `keys`
    private var keyLengths: [Int32] = []
    private var valueStarts: [Int32] = [] // per entry, into `values`
    private var valueCounts: [Int32] = []
    private var keys: [UInt8] = [0]        // a never-read first byte, so the storage always has an address
    private var values: [Int32] = []

    /// Number of entries.
    private(set) var count = 0
    /// Bytes held by keys and values, for bounding a cache.
    var storedBytes: Int { keys.count + 4 * values.count }

    init(expectedCount: Int) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = [Int32](repeating: 0, count: capacity)
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 29
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n { tail |= UInt64(p[i]) << shift; shift += 8; i += 1 }
            h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
            h ^= h >> 32
        }
        return h
    }

    /// The values stored for `p[0..<n]`, passed to `body`, or nil when absent.
    @inline(__always)
    func withValues<R>(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (UnsafeBufferPointer<Int32>) -> R) -> R? {
        guard let entry = find(p, n, hash: ByteSequenceTable.hash(p, n)) else { return nil }
        let start = Int(valueStarts[entry]), count = Int(valueCounts[entry])
        return values.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<start + count])) }
    }

    /// The first value stored for `p[0..<n]`.
    @inline(__always)
    func first(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        guard let entry = find(p, n, hash: ByteSequenceTable.hash(p, n)) else { return nil }
        return values[Int(valueStarts[entry])]
    }

    private func find(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64) -> Int? {
        let mask = slots.count - 1
        let h32 = UInt32(truncatingIfNeeded: hash >> 32)
        var slot = Int(truncatingIfNeeded: hash) & mask
        return slots.withUnsafeBufferPointer { slots in
            keys.withUnsafeBufferPointer { keys in
                while true {
                    let s = Int(slots[slot])
                    if s == 0 { return nil }
                    let e = s - 1
                    if hashes[e] == h32, Int(keyLengths[e]) == n {
                        let k = Int(keyStarts[e])
                        if memcmp(keys.baseAddress! + k, p, n) == 0 { return e }
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
    }

    /// Stores `values` for `p[0..<n]` unless the key is already present; returns whether it was added.
    @discardableResult
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, values newValues: UnsafeBufferPointer<Int32>) -> Bool {
        let hash = ByteSequenceTable.hash(p, n)
        if find(p, n, hash: hash) != nil { return false }
        if (count + 1) * 2 > slots.count { grow() }
        let entry = count
        hashes.append(UInt32(truncatingIfNeeded: hash >> 32))
        keyStarts.append(Int32(keys.count))
        keyLengths.append(Int32(n))
        valueStarts.append(Int32(values.count))
        valueCounts.append(Int32(newValues.count))
        keys.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        values.append(contentsOf: newValues)
        count += 1
        place(entry, hash: hash)
        return true
    }

    private mutating func place(_ entry: Int, hash: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(entry + 1)
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        for e in 0..<count {
            let h = keys.withUnsafeBufferPointer { k in
                ByteSequenceTable.hash(k.baseAddress! + Int(keyStarts[e]), Int(keyLengths[e]))
            }
            place(e, hash: h)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ByteSequenceTable {
    /// Stands in for the address of an empty key (never read).
    private static let emptyKey = UnsafePointer<UInt8>(bitPattern: 1)!

    /// `insert` with a text's UTF-8 as the key and one id as the value.
    @discardableResult
    mutating func insert(_ text: String, id: Int32) -> Bool {
        var text = text
        return text.withUTF8 { key in insert(key, id: id) }
    }

    /// `insert` with `key` and one id as the value.
    @discardableResult
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, id: Int32) -> Bool {
        withUnsafePointer(to: id) { value in
            insert(key.baseAddress ?? ByteSequenceTable.emptyKey, key.count, values: UnsafeBufferPointer(start: value, count: 1))
        }
    }

    /// The first value stored for a text's UTF-8.
    func first(_ text: String) -> Int32? {
        var text = text
        return text.withUTF8 { first($0) }
    }

    /// The first value stored for `key`.
    func first(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        first(key.baseAddress ?? ByteSequenceTable.emptyKey, key.count)
    }
}
