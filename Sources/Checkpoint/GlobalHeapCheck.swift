import Foundation

/// Finds the damage in an HDF5 file's global heap that makes the HDF5 library (1.10, Debian's) read forever or
/// copy from outside the heap, so a damaged checkpoint is refused instead of hanging or crashing `inspect`,
/// `resume` or `eval`.
///
/// Variable-length strings (every checkpoint attribute) live in global heap collections: "GCOL", version 1,
/// 3 reserved bytes, the collection size, then objects (index u16, reference count u16, 4 reserved bytes, size,
/// data padded to 8 bytes); index 0 is the free space and spans the rest. HDF5 1.10's reader steps from object
/// to object by `size` for index 0, so a free-space object of size 0 (zeroed bytes) never advances
/// (H5HG__cache_heap_deserialize), and an object whose size runs past the collection's end is copied with that
/// size by H5HG_read (both found by `make fuzz`, fuzz-checkpoint). HDF5 itself writes neither: a free-space
/// header only when at least a header's worth of space is left, and the free space spans exactly the rest.
/// Spec: https://docs.hdfgroup.org/hdf5/v1_10/_f_m_t3.html#GlobalHeap
enum GlobalHeapCheck {
    /// The byte offsets of the first collection and object HDF5 would loop on or read past the collection, and
    /// what is wrong with it, or nil when there is none.
    /// - Parameter skipping: ascending, disjoint byte ranges that hold no heap (a sealed file's weight chunks), not
    ///   searched.
    static func damagedObject(in bytes: UnsafeRawBufferPointer,
                              skipping: [Range<Int>] = []) -> (collection: Int, object: Int, problem: String)? {
        let lengthSize = sizeOfLengths(bytes)
        let headerSize = 8 + lengthSize           // signature, version, reserved, collection size
        let objectHeaderSize = 8 + lengthSize     // index, reference count, reserved, object size
        guard let base = bytes.baseAddress, bytes.count >= headerSize else { return nil }
        var searchFrom = 0, next = 0
        // memchr for the first letter, then the other three: as fast as a byte scan gets (memmem is not in Glibc's
        // Swift module); each search stops at the next skipped range, and goes on after it.
        while searchFrom + headerSize <= bytes.count {
            while next < skipping.count, skipping[next].upperBound <= searchFrom { next += 1 }
            if next < skipping.count, skipping[next].lowerBound <= searchFrom {
                searchFrom = skipping[next].upperBound
                continue
            }
            let limit = next < skipping.count ? min(skipping[next].lowerBound, bytes.count) : bytes.count
            guard let hit = memchr(base + searchFrom, Int32(UInt8(ascii: "G")), limit - searchFrom) else {
                searchFrom = limit
                continue
            }
            let start = base.distance(to: UnsafeRawPointer(hit))
            searchFrom = start + 1
            guard start + headerSize <= bytes.count, bytes[start + 1] == UInt8(ascii: "C"),
                  bytes[start + 2] == UInt8(ascii: "O"), bytes[start + 3] == UInt8(ascii: "L") else { continue }
            // Only a well-formed collection header counts (the letters can occur in tensor data by chance).
            guard bytes[start + 4] == 1,
                  bytes[start + 5] == 0, bytes[start + 6] == 0, bytes[start + 7] == 0 else { continue }
            let size = readLength(bytes, at: start + 8, lengthSize)
            guard size >= UInt64(headerSize), size <= UInt64(bytes.count - start) else { continue }
            let end = start + Int(size)
            var p = start + headerSize
            while p < end, p + objectHeaderSize <= end {
                let index = UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8
                let objectSize = readLength(bytes, at: p + 8, lengthSize)
                let overrun = "claims \(objectSize) bytes, past the collection's end at byte \(end) "
                    + "(HDF5 1.10 would copy them from outside the file's heap)"
                if index > 0 && objectSize > UInt64(end - p - objectHeaderSize) { return (start, p, overrun) }
                // HDF5's own arithmetic (size_t, wrapping): H5HG_ALIGN(size) plus the header, or the size alone.
                let need = index > 0 ? ((objectSize &+ 7) & ~7) &+ UInt64(objectHeaderSize) : objectSize
                if need == 0 {
                    return (start, p, "has a size that does not advance (a free-space entry of size 0, which HDF5 never "
                        + "writes, and which HDF5 1.10 would read forever)")
                }
                if need > UInt64(end - p) { return (start, p, overrun) }
                p += Int(need)
            }
        }
        return nil
    }

    /// The superblock's "size of lengths" (8 unless the file says otherwise); the superblock is at byte 0, or at
    /// 512 after a user block (a sealed checkpoint's).
    private static func sizeOfLengths(_ bytes: UnsafeRawBufferPointer) -> Int {
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]
        for base in [0, CheckpointSeal.userBlockSize] {
            guard bytes.count >= base + 16,
                  zip(bytes[base..<(base + 8)], signature).allSatisfy({ $0 == $1 }) else { continue }
            let offset = base + (bytes[base + 8] <= 1 ? 14 : 10)   // superblock versions 0-1, then 2-3
            let size = Int(bytes[offset])
            return [2, 4, 8].contains(size) ? size : 8
        }
        return 8
    }

    private static func readLength(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ size: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<size { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        return value
    }
}
