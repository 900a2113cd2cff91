import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// What `make fuzz` (fuzz-checkpoint) found in the checkpoint reader, each as the damage that triggered it.

/// The global heap collections of an HDF5 file with 8-byte lengths (the writer's), read from the format
/// specification (https://docs.hdfgroup.org/hdf5/v1_10/_f_m_t3.html#GlobalHeap), independently of the reader:
/// each collection's offset and its objects as (offset, index, size).
private func globalHeapObjects(_ data: Data) -> [(collection: Int, objects: [(offset: Int, index: Int, size: Int)])] {
    let bytes = [UInt8](data)
    func u(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    var found: [(Int, [(Int, Int, Int)])] = []
    for start in offsets(of: Data("GCOL".utf8), in: data) where bytes[start + 4] == 1 {
        let end = start + u(start + 8, 8)
        var objects: [(Int, Int, Int)] = []
        var p = start + 16
        while p + 16 <= end {
            let index = u(p, 2), size = u(p + 8, 8)
            objects.append((p, index, size))
            if index == 0 { break }                 // the free space: the rest of the collection
            p += 16 + (size + 7) / 8 * 8
        }
        found.append((start, objects))
    }
    return found
}

@Suite("Fuzzing findings: checkpoint reader")
struct CheckpointFuzzFindingsTests {
    // Found by fuzz-checkpoint (a run of zeroed bytes over the attribute strings' heap): HDF5 1.10 steps through
    // a global heap collection by each object's size, and a free-space object of size 0 never advances, so
    // `distill inspect` hung for good inside H5Aread. The reader now refuses it before HDF5 reads the heap.
    @Test("a global heap free-space object of size 0 is a .corrupt error naming its byte, not a hang",
          .timeLimit(.minutes(1)))
    func zeroSizedFreeSpace() throws {
        try withTemporaryFolder("fuzz-global-heap") { dir in
            let good = dir + "/good.h5"
            try writeModelCheckpoint(good)
            var data = try Data(contentsOf: URL(fileURLWithPath: good))
            let heaps = globalHeapObjects(data)
            let free = try #require(heaps.first?.objects.last, "the writer's attribute strings live in a global heap")
            #expect(free.index == 0 && free.size > 0, "a heap as HDF5 writes it ends in free space of nonzero size")
            // The fuzzer's damage, reduced: the free-space object's size field zeroed.
            data.replaceSubrange((free.offset + 8)..<(free.offset + 16), with: [UInt8](repeating: 0, count: 8))
            let damaged = dir + "/damaged.h5"
            try data.write(to: URL(fileURLWithPath: damaged))

            #expect(throws: Never.self) { _ = try CheckpointReader(path: good) }
            do {
                _ = try CheckpointReader(path: damaged)
                Issue.record("a checkpoint whose global heap loops opened")
            } catch let CheckpointError.corrupt(file, object, reason) {
                #expect(file == damaged)
                #expect(object == "/")
                #expect(reason.contains("global heap collection at byte \(heaps[0].collection)"), "\(reason)")
                #expect(reason.contains("object at byte \(free.offset)"), "\(reason)")
                #expect(reason.contains("another checkpoint"), "\(reason)")
            }
        }
    }

    // Found by fuzz-checkpoint (changed bytes in an object's size field): HDF5 1.10's H5HG_read copies an attribute
    // string with the size its heap object claims, so a size past the collection read (and wrote) far outside
    // the heap: a crash under address sanitizer, memory damage or a crash without. Refused before HDF5 reads it.
    @Test("a global heap object whose size runs past its collection is a .corrupt error naming its byte",
          arguments: [UInt64(4096), 974_957_576_215, UInt64.max - 8])
    func objectPastCollection(size: UInt64) throws {
        try withTemporaryFolder("fuzz-global-heap-size") { dir in
            let good = dir + "/good.h5"
            try writeModelCheckpoint(good)
            var data = try Data(contentsOf: URL(fileURLWithPath: good))
            let heap = try #require(globalHeapObjects(data).first)
            let first = try #require(heap.objects.first)
            #expect(first.index > 0, "the first object is an attribute string")
            withUnsafeBytes(of: size.littleEndian) { data.replaceSubrange((first.offset + 8)..<(first.offset + 16), with: $0) }
            let damaged = dir + "/damaged.h5"
            try data.write(to: URL(fileURLWithPath: damaged))
            do {
                _ = try CheckpointReader(path: damaged)
                Issue.record("a checkpoint whose heap object runs past its collection opened")
            } catch let CheckpointError.corrupt(file, object, reason) {
                #expect(file == damaged && object == "/")
                #expect(reason.contains("global heap collection at byte \(heap.collection)"), "\(reason)")
                #expect(reason.contains("object at byte \(first.offset) claims \(size) bytes"), "\(reason)")
            }
        }
    }

    // The check looks for the letters GCOL; weights that spell them (float bits 0x4C4F4347, little-endian "GCOL")
    // are not a heap and must not be mistaken for one.
    @Test("weights that spell GCOL in the file do not make a valid checkpoint look damaged")
    func weightsSpellingTheSignature() throws {
        try withTemporaryFolder("fuzz-gcol-weights") { dir in
            let path = dir + "/gcol.h5"
            let spelled = Float(bitPattern: 0x4C4F_4347)
            let model = try writeModelCheckpoint(path) { fill($0.parameters, with: spelled) }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(offsets(of: Data("GCOL".utf8), in: data).count > 1000, "the weights put the letters in the file")
            let reader = try CheckpointReader(path: path)
            try reader.verify()
            let loaded = ParameterStore(Transformer.parameterSpecs(studentConfig()))
            try reader.load(role: "student", into: loaded)
            #expect(storeBits(loaded) == storeBits(model.parameters))
        }
    }
}
