import CHDF5
import Foundation

/// Element types of the chunked, compressed datasets (the top-k targets cache).
enum ChunkedElement {
    case float32, int32

    var memoryType: hid_t { self == .float32 ? td_H5T_NATIVE_FLOAT() : td_H5T_NATIVE_INT32() }
    /// Little-endian file types, so files are the same on every machine.
    var fileType: hid_t { self == .float32 ? td_H5T_IEEE_F32LE() : td_H5T_STD_I32LE() }
    var size: Int { 4 }
}

/// A dataset of `rows` x `width` elements (or `rows` when `width` is nil) stored in chunks of whole rows, each
/// chunk shuffled, deflated and fletcher32-checksummed (HDF5 verifies the checksum on every read). It is written
/// and read by row ranges, so neither side ever holds it whole.
final class ChunkedDataset {
    let id: hid_t
    let file: String
    let path: String
    let type: ChunkedElement
    let rows: Int
    let width: Int?

    init(id: hid_t, file: String, path: String, type: ChunkedElement, rows: Int, width: Int?) {
        self.id = id
        self.file = file
        self.path = path
        self.type = type
        self.rows = rows
        self.width = width
    }

    deinit { H5Dclose(id) }

    private var rowElements: Int { width ?? 1 }

    /// Selects rows `start..<start + count` of the file space; returns (file space, memory space), both to close.
    private func select(_ start: Int, _ count: Int) throws -> (hid_t, hid_t) {
        precondition(start >= 0 && count >= 0 && start + count <= rows, "rows \(start)..<\(start + count) of \(rows)")
        let space = H5Dget_space(id)
        var offset = [hsize_t(start)], size = [hsize_t(count)]
        if let width { offset.append(0); size.append(hsize_t(width)) }
        guard H5Sselect_hyperslab(space, H5S_SELECT_SET, offset, nil, size, nil) >= 0 else {
            H5Sclose(space)
            throw HDF5Error(file: file, path: path, message: "cannot select rows \(start)..<\(start + count)")
        }
        let memory = H5Screate_simple(Int32(size.count), size, nil)
        return (space, memory)
    }

    /// Writes rows `start..<start + count` from `data` (count x width elements). Whole chunks are written without
    /// reading anything back.
    func write(start: Int, count: Int, from data: UnsafeRawPointer) throws {
        guard count > 0 else { return }
        let (space, memory) = try select(start, count)
        defer { H5Sclose(space); H5Sclose(memory) }
        guard H5Dwrite(id, type.memoryType, memory, space, td_H5P_DEFAULT(), data) >= 0 else {
            throw HDF5Error(file: file, path: path, message: "cannot write rows \(start)..<\(start + count) (disk full?)")
        }
    }

    /// Reads rows `start..<start + count` into `data` (count x width elements); a chunk whose checksum fails throws.
    func read(start: Int, count: Int, into data: UnsafeMutableRawPointer) throws {
        guard count > 0 else { return }
        let (space, memory) = try select(start, count)
        defer { H5Sclose(space); H5Sclose(memory) }
        guard H5Dread(id, type.memoryType, memory, space, td_H5P_DEFAULT(), data) >= 0 else {
            throw HDF5Error(file: file, path: path, message: "cannot read rows \(start)..<\(start + count): checksum (fletcher32) mismatch, damaged compressed chunk or truncated file")
        }
    }

    func write<T>(start: Int, _ values: ArraySlice<T>) throws {
        precondition(values.count % rowElements == 0, "\(values.count) elements are not whole rows of \(rowElements)")
        guard !values.isEmpty else { return }
        try values.withUnsafeBytes { try write(start: start, count: values.count / rowElements, from: $0.baseAddress!) }
    }
}

extension HDF5Object {
    /// Opens an existing file for reading and writing (without HDF5's file locking, as `open`).
    static func openForUpdate(_ file: String) throws -> HDF5Object {
        silenceErrors()
        guard FileManager.default.fileExists(atPath: file) else { throw HDF5Error(file: file, path: "/", message: "no such file") }
        guard H5Fis_hdf5(file) > 0 else {
            throw HDF5Error(file: file, path: "/", message: "not an HDF5 file, or truncated before its superblock")
        }
        let fapl = H5Pcreate(td_H5P_FILE_ACCESS())
        H5Pset_file_locking(fapl, false, true)
        defer { H5Pclose(fapl) }
        let id = H5Fopen(file, td_H5F_ACC_RDWR(), fapl)
        guard id >= 0 else { throw HDF5Error(file: file, path: "/", message: "cannot open the HDF5 file for writing (truncated or damaged)") }
        return HDF5Object(id: id, file: file, path: "/", close: H5Fclose)
    }

    /// Creates a dataset of `rows` x `width` (or `rows`) elements in chunks of `chunkRows` rows with the
    /// shuffle, deflate (`level`) and fletcher32 filters, in that order (the checksum covers the stored bytes).
    func createChunkedDataset(_ name: String, _ type: ChunkedElement, rows: Int, width: Int?, chunkRows: Int,
                              level: UInt32 = 4) throws -> ChunkedDataset {
        precondition(rows > 0 && chunkRows > 0, "a chunked dataset needs rows (\(rows)) and a chunk (\(chunkRows))")
        var dims = [hsize_t(rows)], chunk = [hsize_t(min(chunkRows, rows))]
        if let width { dims.append(hsize_t(width)); chunk.append(hsize_t(width)) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(td_H5P_DATASET_CREATE())
        defer { H5Pclose(dcpl) }
        guard H5Pset_chunk(dcpl, Int32(chunk.count), chunk) >= 0, H5Pset_shuffle(dcpl) >= 0, H5Pset_deflate(dcpl, level) >= 0,
              H5Pset_fletcher32(dcpl) >= 0 else {
            throw error(name, "cannot set up chunking, deflate and fletcher32 (HDF5 built without zlib?)")
        }
        let ds = H5Dcreate2(id, name, type.fileType, space, td_H5P_DEFAULT(), dcpl, td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(name, "cannot create dataset") }
        return ChunkedDataset(id: ds, file: file, path: childPath(name), type: type, rows: rows, width: width)
    }

    /// Opens a chunked dataset of the expected type and shape, with a chunk cache of `cacheBytes`.
    func openChunkedDataset(_ name: String, _ type: ChunkedElement, rows: Int, width: Int?, cacheBytes: Int = 4 << 20) throws -> ChunkedDataset {
        let info = try datasetInfo(name)
        let want = width.map { [rows, $0] } ?? [rows]
        guard info.shape == want else { throw error(name, "shape \(info.shape) does not match the expected \(want)") }
        let typeName = type == .float32 ? "float32" : "int32"
        guard info.type == typeName else { throw error(name, "element type \(info.type), expected \(typeName)") }
        let dapl = H5Pcreate(td_H5P_DATASET_ACCESS())
        defer { H5Pclose(dapl) }
        H5Pset_chunk_cache(dapl, 1021, cacheBytes, 0.75)
        let ds = H5Dopen2(id, name, dapl)
        guard ds >= 0 else { throw error(name, "cannot open dataset (damaged file?)") }
        return ChunkedDataset(id: ds, file: file, path: childPath(name), type: type, rows: rows, width: width)
    }

    /// Sets an integer attribute, replacing one of that name.
    func replaceAttribute(_ name: String, _ value: Int) throws {
        if hasAttribute(name) { guard H5Adelete(id, name) >= 0 else { throw error("@" + name, "cannot replace attribute") } }
        try setAttribute(name, value)
    }
}
