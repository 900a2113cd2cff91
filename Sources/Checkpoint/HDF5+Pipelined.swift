import CHDF5
import Dispatch
import Foundation

/// Bulk float I/O for many datasets with the checksum work moved to a second core: while one chunk is
/// written or read, the next one's Fletcher-32 is computed (save) or the previous one's verified (load).
/// This keeps checkpoint save and load close to raw disk and page-cache speed.
extension HDF5Object {
    /// One dataset of a bulk write.
    struct BulkItem: @unchecked Sendable {
        let name: String
        let shape: [Int]
        let data: UnsafeRawPointer
    }

    /// Writes each item as a dataset of one fletcher32-checksummed chunk (empty or scalar ones plainly).
    /// Two reused buffers alternate: the worker copies and checksums item i+1 into one while this thread
    /// hands item i's to HDF5 from the other.
    func writeChecksummed(_ items: [BulkItem], _ type: HDF5Scalar) throws {
        let bytes = items.map { $0.shape.isEmpty ? 0 : $0.shape.reduce(1, *) * type.size }
        let capacity = (bytes.max() ?? 0) + 4
        let buffers = [UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64),
                       UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)]
        let queue = DispatchQueue(label: "tracedistill.checkpoint.checksum")
        defer {
            queue.sync {}  // queued work reads the caller's data and our buffers: never return before it ends
            buffers.forEach { $0.deallocate() }
        }
        let ready = items.map { _ in DispatchSemaphore(value: 0) }
        let shared = SendableBuffers(buffers)
        func prepare(_ i: Int) {
            guard i < items.count, bytes[i] > 0 else { return }
            let item = items[i], n = bytes[i], signal = ready[i]
            queue.async {
                let buffer = shared.pointers[i % 2]
                buffer.copyMemory(from: item.data, byteCount: n)
                buffer.storeBytes(of: fletcher32(item.data, count: n).littleEndian, toByteOffset: n, as: UInt32.self)
                signal.signal()
            }
        }
        prepare(0)
        for (i, item) in items.enumerated() {
            guard bytes[i] > 0 else {
                prepare(i + 1)
                try writeDataset(item.name, type, shape: item.shape, data: item.data, checksum: false)
                continue
            }
            ready[i].wait()
            prepare(i + 1)  // its buffer last held item i-1, which is already written
            let ds = try createChunkedChecksummed(item.name, type, shape: item.shape)
            defer { H5Dclose(ds) }
            let origin = [hsize_t](repeating: 0, count: item.shape.count)
            guard H5Dwrite_chunk(ds, td_H5P_DEFAULT(), 0, origin, bytes[i] + 4, buffers[i % 2]) >= 0 else {
                throw error(item.name, "cannot write dataset chunk")
            }
        }
    }

    private func createChunkedChecksummed(_ name: String, _ type: HDF5Scalar, shape: [Int]) throws -> hid_t {
        let dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(td_H5P_DATASET_CREATE())
        defer { H5Pclose(dcpl) }
        H5Pset_chunk(dcpl, Int32(dims.count), dims)
        H5Pset_fletcher32(dcpl)
        let lcpl = H5Pcreate(td_H5P_LINK_CREATE())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let ds = H5Dcreate2(id, name, type.fileType, space, lcpl, dcpl, td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(name, "cannot create dataset") }
        return ds
    }

    /// One dataset of a bulk read: where its values go, and whether 4 bytes after them may be clobbered.
    struct BulkTarget: @unchecked Sendable {
        let name: String
        let shape: [Int]
        let data: UnsafeMutableRawPointer
        let slack: Bool
    }

    /// Reads each target (in the given order; with `slack`, a later target may overwrite an earlier one's
    /// spare bytes). Checksummed single chunks are verified on a second core while the next one is read;
    /// other layouts go through HDF5's normal read. Throws the first failure in target order.
    func readChecksummed(_ targets: [BulkTarget], _ type: HDF5Scalar) throws {
        let queue = DispatchQueue(label: "tracedistill.checkpoint.verify")
        defer { queue.sync {} }  // queued work writes the caller's buffers: never return before it ends
        let failures = Locked<[Int: HDF5Error]>([:])
        for (i, t) in targets.enumerated() {
            guard let raw = try readRawChunk(t, type) else { continue }
            let damaged = error(t.name, "data error detected by Fletcher32 checksum (the file is damaged)")
            queue.async {
                let ok = fletcher32(raw.buffer, count: raw.bytes) == raw.expected
                if raw.buffer != t.data {
                    if ok { t.data.copyMemory(from: raw.buffer, byteCount: raw.bytes) }
                    raw.buffer.deallocate()
                }
                if !ok { failures.update { $0[i] = damaged } }
            }
        }
        queue.sync {}
        let found = failures.update { $0 }
        if let first = found.keys.min() { throw found[first]! }
    }

    /// Reads one target: a checksummed chunk raw (returned for verification, its stored checksum taken
    /// out before a later read can overwrite the slack), anything else completely (returns nil).
    private func readRawChunk(_ t: BulkTarget, _ type: HDF5Scalar) throws -> RawChunk? {
        let info = try datasetInfo(t.name)
        guard info.shape == t.shape else { throw error(t.name, "shape \(info.shape) does not match the expected \(t.shape)") }
        guard info.type == type.name else { throw error(t.name, "element type \(info.type), expected \(type.name)") }
        let ds = H5Dopen2(id, t.name, td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(t.name, "cannot open dataset (damaged file?)") }
        defer { H5Dclose(ds) }
        let bytes = t.shape.reduce(1, *) * type.size
        guard bytes > 0 else { return nil }
        guard isSingleChecksummedChunk(ds, shape: t.shape) else {
            guard H5Dread(ds, type.memoryType, td_H5S_ALL(), td_H5S_ALL(), td_H5P_DEFAULT(), t.data) >= 0 else {
                throw error(t.name, "cannot read data: checksum mismatch or truncated file")
            }
            return nil
        }
        let origin = [hsize_t](repeating: 0, count: t.shape.count)
        var stored: hsize_t = 0
        guard H5Dget_chunk_storage_size(ds, origin, &stored) >= 0, Int(stored) == bytes + 4 else {
            throw error(t.name, "chunk holds \(stored) bytes, expected \(bytes + 4) (truncated or damaged file)")
        }
        let buffer = t.slack ? t.data : UnsafeMutableRawPointer.allocate(byteCount: bytes + 4, alignment: 64)
        var filters: UInt32 = 0
        guard H5Dread_chunk(ds, td_H5P_DEFAULT(), origin, &filters, buffer) >= 0, filters == 0 else {
            if !t.slack { buffer.deallocate() }
            throw error(t.name, "cannot read data (truncated file?)")
        }
        return RawChunk(buffer: buffer, bytes: bytes,
                        expected: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: bytes, as: UInt32.self)))
    }

    /// A chunk read raw, waiting for its checksum to be verified.
    private struct RawChunk: @unchecked Sendable {
        let buffer: UnsafeMutableRawPointer
        let bytes: Int
        let expected: UInt32
    }
}

/// The two write buffers, handed to the checksum worker.
private struct SendableBuffers: @unchecked Sendable {
    let pointers: [UnsafeMutableRawPointer]
    init(_ pointers: [UnsafeMutableRawPointer]) { self.pointers = pointers }
}

/// A value shared between the I/O thread and the checksum worker, guarded by a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }

    /// Runs `body` on the value under the lock and returns its result.
    @discardableResult
    func update<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
