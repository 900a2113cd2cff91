import Foundation
import Tensor
import Testing

// Storage's zeroed buffers: a large one (a model's gradients) costs no resident memory until written, reads as
// zeros, and is zero again when a later storage of the same size reuses it from the pool after it was written.
// Resident memory is the kernel's own count (/proc/self/statm); other tests running at the same time allocate
// too, so the bound is a quarter of the buffer, which writing it would exceed four times over.

@Suite("Storage")
struct StorageTests {
    /// This process's resident memory in bytes (second field of /proc/self/statm, in pages).
    static func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let pages = Int(statm.split(separator: " ")[1])!
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test("a 512 MB zeroed storage adds under 128 MB of resident memory and reads as zeros")
    func lazyZeroPages() throws {
        let count = 128 << 20  // floats: 512 MB
        let before = try Self.residentBytes()
        let s = Storage(count: count)
        let after = try Self.residentBytes()
        #expect(after - before < 128 << 20, "resident memory grew by \(after - before) bytes")
        // every 1024th float (one per page) reads zero
        var nonzero = 0
        for i in stride(from: 0, to: count, by: 1024) where s.base[i] != 0 { nonzero += 1 }
        #expect(nonzero == 0)
        #expect(s.base[count - 1] == 0)
    }

    @Test("a written large storage, released and taken again zeroed, reads as zeros; unzeroed keeps its size")
    func reusedIsZeroed() {
        let count = 10_000_003  // 40 MB: a mapping of its own, then pooled
        do {
            let s = Storage(count: count)
            s.base.update(repeating: 1, count: count)
        }
        let again = Storage(count: count)
        #expect(vsum(again.base, count) == 0)
        #expect(again.base[count - 1] == 0)
        again.base[count - 1] = 2  // the whole buffer is writable
        #expect(again.count == count)
    }
}
