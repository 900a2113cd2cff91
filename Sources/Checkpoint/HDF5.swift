import CHDF5
import Foundation

/// A failed HDF5 operation: the file, the object path inside it, and what went wrong.
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
    /// The file being read or written.
    public let file: String
    /// The object (group, dataset or attribute) path inside the file.
    public let path: String
    /// What failed.
    public let message: String
    public var description: String { "\(file): \(path): \(message)" }
}

/// The element types this project stores.
enum HDF5Scalar {
    case float32, float64, int64, uint8, int8

    var memoryType: hid_t {
        switch self {
        case .float32: return td_H5T_NATIVE_FLOAT()
        case .float64: return td_H5T_NATIVE_DOUBLE()
        case .int64: return td_H5T_NATIVE_INT64()
        case .uint8: return td_H5T_NATIVE_UINT8()
        case .int8: return td_H5T_NATIVE_INT8()
        }
    }

    /// Little-endian file types, so files are the same on every machine.
    var fileType: hid_t {
        switch self {
        case .float32: return td_H5T_IEEE_F32LE()
        case .float64: return td_H5T_IEEE_F64LE()
        case .int64: return td_H5T_STD_I64LE()
        case .uint8: return td_H5T_STD_U8LE()
        case .int8: return td_H5T_STD_I8LE()
        }
    }

    var name: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .int8: return "int8"
        }
    }
}

/// An open HDF5 file (or group) handle; closes itself. Every call checks its status and throws
/// `HDF5Error` naming the file and object.
final class HDF5Object {
    let id: hid_t
    let file: String
    let path: String
    private let close: (hid_t) -> herr_t

    init(id: hid_t, file: String, path: String, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.file = file
        self.path = path
        self.close = close
    }

    deinit { _ = close(id) }

    /// Turns off HDF5's automatic error-stack printing for the calling thread (a thread-safe HDF5
    /// keeps that setting per thread); errors are reported as `HDF5Error` instead.
    static func silenceErrors() { td_silence_errors() }

    /// File access without HDF5's flock-based file locking. Checkpoints never need it (a reader only ever
    /// sees complete files, written under a temporary name and renamed), and the locks leak: a child
    /// process started while a file is open inherits the descriptor and keeps the lock, so a later open
    /// of the same file in this process fails as "cannot open".
    private static func fileAccess() -> hid_t {
        let fapl = H5Pcreate(td_H5P_FILE_ACCESS())
        H5Pset_file_locking(fapl, false, true)
        return fapl
    }

    /// Refuses a file whose global heap HDF5 1.10 would read forever or past its end (see `GlobalHeapCheck`), before
    /// HDF5 sees it.
    private static func refuseDamagedGlobalHeap(_ file: String, skipping: [Range<Int>]) throws {
        let mapped: Data
        do {
            mapped = try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped)
        } catch {
            throw HDF5Error(file: file, path: "/", message: "cannot read the file: \(error.localizedDescription)")
        }
        if let (collection, object, problem) = mapped.withUnsafeBytes({ GlobalHeapCheck.damagedObject(in: $0, skipping: skipping) }) {
            throw HDF5Error(file: file, path: "/", message: "the global heap collection at byte \(collection) is damaged: "
                + "its object at byte \(object) \(problem); the file's attributes cannot be read: use another checkpoint of the run")
        }
    }

    /// Creates (truncates) a file for writing, with the earliest format bounds so h5py 2.x and
    /// HDF5 1.10 tools read it, and a 512-byte user block for the seal (`CheckpointSeal`).
    static func create(_ file: String) throws -> HDF5Object {
        silenceErrors()
        let fapl = fileAccess()
        defer { H5Pclose(fapl) }
        let fcpl = H5Pcreate(td_H5P_FILE_CREATE())
        defer { H5Pclose(fcpl) }
        guard td_set_userblock(fcpl, hsize_t(CheckpointSeal.userBlockSize)) >= 0 else {
            throw HDF5Error(file: file, path: "/", message: "cannot set the user block size")
        }
        let id = H5Fcreate(file, td_H5F_ACC_TRUNC(), fcpl, fapl)
        guard id >= 0 else { throw HDF5Error(file: file, path: "/", message: "cannot create the file (check the folder exists and is writable)") }
        return HDF5Object(id: id, file: file, path: "/", close: H5Fclose)
    }

    /// Opens a file read-only after checking it can be given to HDF5: the seal's fields (`CheckpointSeal`), the global
    /// heap walk (`GlobalHeapCheck`, outside a sealed file's weights), then the seal's digest. A file without a seal
    /// (written before seals, or by h5py) is read completely once in a child process first (`probeUnsealed`), so
    /// that damage HDF5 1.10 mishandles ends the child, not this one.
    static func open(_ file: String) throws -> HDF5Object {
        silenceErrors()
        guard FileManager.default.fileExists(atPath: file) else {
            throw HDF5Error(file: file, path: "/", message: "no such file")
        }
        let seal = try CheckpointSeal.read(file)
        try refuseDamagedGlobalHeap(file, skipping: seal?.chunks ?? [])  // a sealed file's weights hold no heap
        if let seal {
            try CheckpointSeal.verify(file, seal)
        } else {
            guard H5Fis_hdf5(file) > 0 else {
                throw HDF5Error(file: file, path: "/", message: "not an HDF5 file, or truncated before its superblock")
            }
            try probeUnsealed(file)
        }
        return try openWritten(file)
    }

    /// Opens a file read-only with no checks before HDF5: only for a file this process has just written (sealing it)
    /// or checked.
    static func openWritten(_ file: String) throws -> HDF5Object {
        silenceErrors()
        let fapl = fileAccess()
        defer { H5Pclose(fapl) }
        let id = H5Fopen(file, td_H5F_ACC_RDONLY(), fapl)
        guard id >= 0 else { throw HDF5Error(file: file, path: "/", message: "cannot open the HDF5 file (truncated or damaged)") }
        return HDF5Object(id: id, file: file, path: "/", close: H5Fclose)
    }

    /// Reads an unsealed file completely in a child process (`td_probe_file` in CHDF5's probe.h: every group,
    /// attribute and dataset, as the reader would), limited to 5 s plus 1 s per 20 MB (a cold read from a slow disk)
    /// and to 1 GB plus the file's size of memory; throws naming the object it was reading when it crashed, hung or
    /// needed more.
    static func probeUnsealed(_ file: String) throws {
        var info = stat()
        let size = stat(file, &info) == 0 ? UInt64(info.st_size) : 0
        let seconds = 5 + UInt32(min(size / 20_000_000, 36_000))
        let memory = size + (1 << 30)
        var r = td_probe_file(file, seconds, memory)
        let object = withUnsafeBytes(of: &r.object) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let at = object.isEmpty ? "/" : object
        let advice = "; the file's HDF5 structure is damaged: use another checkpoint of the run (`distill status` lists the newest valid one)"
        guard r.started != 0 else {
            throw HDF5Error(file: file, path: "/", message: "cannot start the process that reads an unsealed checkpoint first: "
                + String(cString: strerror(r.errno_value)))
        }
        if r.exited != 0 {
            switch r.code {
            case 0: return
            case 1: throw HDF5Error(file: file, path: at, message: "HDF5 made a memory error reading it (reported by the address sanitizer)" + advice)
            case 4: throw HDF5Error(file: file, path: at, message: "reading it needs more than \(memory >> 20) MB of memory (1 GB plus the file's size), so its sizes are damaged" + advice)
            default: throw HDF5Error(file: file, path: at, message: "the process that reads it first ended with status \(r.code)" + advice)
            }
        }
        if r.signal == SIGALRM {
            throw HDF5Error(file: file, path: at, message: "HDF5 did not finish reading it in \(seconds) s (a loop in damaged metadata)" + advice)
        }
        let name = r.signal == SIGSEGV ? "SIGSEGV" : r.signal == SIGBUS ? "SIGBUS" : r.signal == SIGABRT ? "SIGABRT" : "signal \(r.signal)"
        throw HDF5Error(file: file, path: at, message: "HDF5 crashed (\(name)) reading it" + advice)
    }

    func error(_ name: String, _ message: String) -> HDF5Error {
        HDF5Error(file: file, path: childPath(name), message: message)
    }

    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// Flushes the file's buffers to the operating system.
    func flush() throws {
        guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw error("", "flush failed") }
    }

    // MARK: groups

    /// Creates a group (and any missing intermediate groups).
    func createGroup(_ name: String) throws -> HDF5Object {
        let lcpl = H5Pcreate(td_H5P_LINK_CREATE())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let g = H5Gcreate2(id, name, lcpl, td_H5P_DEFAULT(), td_H5P_DEFAULT())
        guard g >= 0 else { throw error(name, "cannot create group") }
        return HDF5Object(id: g, file: file, path: childPath(name), close: H5Gclose)
    }

    /// Opens an existing group.
    func group(_ name: String) throws -> HDF5Object {
        guard exists(name) else { throw error(name, "missing group") }
        let g = H5Gopen2(id, name, td_H5P_DEFAULT())
        guard g >= 0 else { throw error(name, "cannot open group") }
        return HDF5Object(id: g, file: file, path: childPath(name), close: H5Gclose)
    }

    /// Whether a link of this (possibly nested) name exists.
    func exists(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            if H5Lexists(id, prefix, td_H5P_DEFAULT()) <= 0 { return false }
        }
        return true
    }

    /// Names of the links in this group, in name order.
    func children() throws -> [String] {
        var info = H5G_info_t()
        guard H5Gget_info(id, &info) >= 0 else { throw error("", "cannot list group") }
        var names: [String] = []
        for i in 0..<info.nlinks {
            let n = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, td_H5P_DEFAULT())
            guard n >= 0 else { throw error("", "cannot read link \(i)") }
            var buf = [CChar](repeating: 0, count: Int(n) + 1)
            H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(n) + 1, td_H5P_DEFAULT())
            names.append(String(cString: buf))
        }
        return names
    }

    // MARK: datasets

    /// Writes a dataset of `shape` from the elements at `data`. With `checksum` (the default) the dataset
    /// is one chunk with HDF5's fletcher32 filter; the chunk is written directly with a checksum computed
    /// by `fletcher32` (bit-identical to HDF5's filter, much faster), so any HDF5 reader verifies it.
    func writeDataset(_ name: String, _ type: HDF5Scalar, shape: [Int], data: UnsafeRawPointer, checksum: Bool = true) throws {
        if checksum && !shape.isEmpty && shape.reduce(1, *) > 0 {
            try writeChecksummed([BulkItem(name: name, shape: shape, data: data)], type)
            return
        }
        let dims = shape.map { hsize_t($0) }
        let space = dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(td_H5P_DATASET_CREATE())
        defer { H5Pclose(dcpl) }
        let count = shape.reduce(1, *)
        let lcpl = H5Pcreate(td_H5P_LINK_CREATE())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let ds = H5Dcreate2(id, name, type.fileType, space, lcpl, dcpl, td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(name, "cannot create dataset") }
        defer { H5Dclose(ds) }
        guard count > 0 else { return }
        guard H5Dwrite(ds, type.memoryType, td_H5S_ALL(), td_H5S_ALL(), td_H5P_DEFAULT(), data) >= 0 else {
            throw error(name, "cannot write dataset")
        }
    }

    func writeDataset<T>(_ name: String, _ type: HDF5Scalar, shape: [Int], values: [T]) throws {
        try values.withUnsafeBytes { try writeDataset(name, type, shape: shape, data: $0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!) }
    }

    /// Shape and element type of a dataset.
    func datasetInfo(_ name: String) throws -> (shape: [Int], type: String) {
        guard exists(name) else { throw error(name, "missing dataset") }
        let ds = H5Dopen2(id, name, td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(name, "cannot open dataset") }
        defer { H5Dclose(ds) }
        return (try shape(of: ds, name), typeName(of: ds))
    }

    private func shape(of ds: hid_t, _ name: String) throws -> [Int] {
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw error(name, "cannot read dataspace") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    private func typeName(of ds: hid_t) -> String {
        let t = H5Dget_type(ds)
        defer { H5Tclose(t) }
        let size = H5Tget_size(t)
        switch H5Tget_class(t) {
        case H5T_FLOAT: return "float\(size * 8)"
        case H5T_INTEGER: return (H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") + "\(size * 8)"
        case H5T_STRING: return "string"
        default: return "other"
        }
    }

    /// Reads a whole dataset of the expected type and shape into `data`; a checksum failure, a short
    /// file or a type/shape difference throws naming the dataset.
    /// - Parameter slack: the caller guarantees 4 writable bytes after the data (they may be clobbered),
    ///   which lets a checksummed chunk be read in place with no extra copy.
    func readDataset(_ name: String, _ type: HDF5Scalar, expectedShape: [Int]?, into data: UnsafeMutableRawPointer,
                     slack: Bool = false) throws {
        guard exists(name) else { throw error(name, "missing dataset") }
        let ds = H5Dopen2(id, name, td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(name, "cannot open dataset (damaged file?)") }
        defer { H5Dclose(ds) }
        let actual = try shape(of: ds, name)
        if let expectedShape, actual != expectedShape {
            throw error(name, "shape \(actual) does not match the expected \(expectedShape)")
        }
        let tn = typeName(of: ds)
        guard tn == type.name else { throw error(name, "element type \(tn), expected \(type.name)") }
        let bytes = actual.reduce(1, *) * type.size
        guard bytes > 0 else { return }
        if isSingleChecksummedChunk(ds, shape: actual) {
            try readChecksummed([BulkTarget(name: name, shape: actual, data: data, slack: slack)], type)
            return
        }
        guard H5Dread(ds, type.memoryType, td_H5S_ALL(), td_H5S_ALL(), td_H5P_DEFAULT(), data) >= 0 else {
            throw error(name, "cannot read data: checksum (fletcher32) mismatch or truncated file")
        }
    }

    /// True when the dataset is stored as one chunk whose only filter is fletcher32 (how this project
    /// writes); other layouts (h5py defaults, compression) go through HDF5's normal read.
    func isSingleChecksummedChunk(_ ds: hid_t, shape: [Int]) -> Bool {
        let dcpl = H5Dget_create_plist(ds)
        defer { H5Pclose(dcpl) }
        guard H5Pget_layout(dcpl) == H5D_CHUNKED, H5Pget_nfilters(dcpl) == 1 else { return false }
        var flags: UInt32 = 0, nelmts = 0, config: UInt32 = 0
        var nameBuf = [CChar](repeating: 0, count: 64)
        guard H5Pget_filter2(dcpl, 0, &flags, &nelmts, nil, 64, &nameBuf, &config) == H5Z_FILTER_FLETCHER32 else { return false }
        var chunk = [hsize_t](repeating: 0, count: shape.count)
        guard H5Pget_chunk(dcpl, Int32(shape.count), &chunk) == Int32(shape.count) else { return false }
        return chunk.map { Int($0) } == shape
    }

    func readArray<T: Numeric>(_ name: String, _ type: HDF5Scalar, as: T.Type) throws -> [T] {
        let info = try datasetInfo(name)
        var out = [T](repeating: 0, count: info.shape.reduce(1, *))
        try out.withUnsafeMutableBytes { try readDataset(name, type, expectedShape: info.shape, into: $0.baseAddress!) }
        return out
    }

    /// Writes a 1-D dataset of variable-length UTF-8 strings.
    func writeStrings(_ name: String, _ strings: [String]) throws {
        let t = Self.utf8StringType()
        defer { H5Tclose(t) }
        var dims = [hsize_t(strings.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let ds = H5Dcreate2(id, name, t, space, td_H5P_DEFAULT(), td_H5P_DEFAULT(), td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(name, "cannot create string dataset") }
        defer { H5Dclose(ds) }
        var cstrings = strings.map { strdup($0) }
        defer { cstrings.forEach { free($0) } }
        let ok = cstrings.withUnsafeMutableBufferPointer { H5Dwrite(ds, t, td_H5S_ALL(), td_H5S_ALL(), td_H5P_DEFAULT(), $0.baseAddress) }
        guard ok >= 0 else { throw error(name, "cannot write strings") }
    }

    /// Reads a 1-D dataset of variable-length strings.
    func readStrings(_ name: String) throws -> [String] {
        guard exists(name) else { throw error(name, "missing dataset") }
        let ds = H5Dopen2(id, name, td_H5P_DEFAULT())
        guard ds >= 0 else { throw error(name, "cannot open dataset") }
        defer { H5Dclose(ds) }
        guard typeName(of: ds) == "string" else { throw error(name, "expected a string dataset, found \(typeName(of: ds))") }
        let n = try shape(of: ds, name).reduce(1, *)
        let t = Self.utf8StringType()
        defer { H5Tclose(t) }
        var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
        let ok = ptrs.withUnsafeMutableBufferPointer { H5Dread(ds, t, td_H5S_ALL(), td_H5S_ALL(), td_H5P_DEFAULT(), $0.baseAddress) }
        guard ok >= 0 else { throw error(name, "cannot read strings") }
        defer { ptrs.forEach { if let p = $0 { H5free_memory(p) } } }
        return ptrs.map { $0.map { String(cString: $0) } ?? "" }
    }

    // MARK: attributes

    static func utf8StringType() -> hid_t {
        let t = H5Tcopy(td_H5T_C_S1())
        H5Tset_size(t, td_H5T_VARIABLE())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }

    /// Writes a variable-length UTF-8 string attribute (h5py reads it as `str`).
    func setAttribute(_ name: String, _ value: String) throws {
        let t = Self.utf8StringType()
        defer { H5Tclose(t) }
        try withScalarAttribute(name, fileType: t) { a in
            var p: UnsafeMutablePointer<CChar>? = strdup(value)
            defer { free(p) }
            return H5Awrite(a, t, &p)
        }
    }

    /// Writes a 64-bit integer attribute.
    func setAttribute(_ name: String, _ value: Int) throws {
        try withScalarAttribute(name, fileType: td_H5T_STD_I64LE()) { a in
            var v = Int64(value)
            return H5Awrite(a, td_H5T_NATIVE_INT64(), &v)
        }
    }

    /// Writes a 64-bit float attribute.
    func setAttribute(_ name: String, _ value: Double) throws {
        try withScalarAttribute(name, fileType: td_H5T_IEEE_F64LE()) { a in
            var v = value
            return H5Awrite(a, td_H5T_NATIVE_DOUBLE(), &v)
        }
    }

    private func withScalarAttribute(_ name: String, fileType: hid_t, _ write: (hid_t) -> herr_t) throws {
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let a = H5Acreate2(id, name, fileType, space, td_H5P_DEFAULT(), td_H5P_DEFAULT())
        guard a >= 0 else { throw error("@" + name, "cannot create attribute") }
        defer { H5Aclose(a) }
        guard write(a) >= 0 else { throw error("@" + name, "cannot write attribute") }
    }

    /// Names of this object's attributes.
    func attributeNames() throws -> [String] {
        var names: [String] = []
        var info = H5O_info_t()
        guard H5Oget_info2(id, &info, UInt32(H5O_INFO_NUM_ATTRS)) >= 0 else { throw error("", "cannot list attributes") }
        for i in 0..<info.num_attrs {
            let n = H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, td_H5P_DEFAULT())
            guard n >= 0 else { continue }
            var buf = [CChar](repeating: 0, count: n + 1)
            H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, n + 1, td_H5P_DEFAULT())
            names.append(String(cString: buf))
        }
        return names
    }

    private func openAttribute(_ name: String) throws -> hid_t {
        guard H5Aexists(id, name) > 0 else { throw error("@" + name, "missing attribute") }
        let a = H5Aopen(id, name, td_H5P_DEFAULT())
        guard a >= 0 else { throw error("@" + name, "cannot open attribute") }
        return a
    }

    func hasAttribute(_ name: String) -> Bool { H5Aexists(id, name) > 0 }

    /// Reads a string attribute (variable- or fixed-length).
    func stringAttribute(_ name: String) throws -> String {
        let a = try openAttribute(name)
        defer { H5Aclose(a) }
        let ft = H5Aget_type(a)
        defer { H5Tclose(ft) }
        guard H5Tget_class(ft) == H5T_STRING else { throw error("@" + name, "expected a string attribute") }
        if H5Tis_variable_str(ft) > 0 {
            let t = Self.utf8StringType()
            defer { H5Tclose(t) }
            var p: UnsafeMutablePointer<CChar>?
            guard H5Aread(a, t, &p) >= 0, let p else { throw error("@" + name, "cannot read attribute") }
            defer { H5free_memory(p) }
            return String(cString: p)
        }
        let size = H5Tget_size(ft)
        var buf = [CChar](repeating: 0, count: size + 1)
        guard H5Aread(a, ft, &buf) >= 0 else { throw error("@" + name, "cannot read attribute") }
        return String(cString: buf)
    }

    /// Reads an integer attribute.
    func intAttribute(_ name: String) throws -> Int {
        let a = try openAttribute(name)
        defer { H5Aclose(a) }
        var v: Int64 = 0
        guard H5Aread(a, td_H5T_NATIVE_INT64(), &v) >= 0 else { throw error("@" + name, "expected an integer attribute") }
        return Int(v)
    }

    /// Reads a floating-point attribute.
    func doubleAttribute(_ name: String) throws -> Double {
        let a = try openAttribute(name)
        defer { H5Aclose(a) }
        var v: Double = 0
        guard H5Aread(a, td_H5T_NATIVE_DOUBLE(), &v) >= 0 else { throw error("@" + name, "expected a number attribute") }
        return v
    }
}

extension HDF5Object {
    /// Shape and type when `name` is a dataset, nil when it is a group.
    func datasetInfoIfDataset(_ name: String) throws -> (shape: [Int], type: String)? {
        var info = H5O_info_t()
        guard H5Oget_info_by_name2(id, name, &info, UInt32(H5O_INFO_BASIC), td_H5P_DEFAULT()) >= 0 else {
            throw error(name, "cannot read object header (damaged file?)")
        }
        return info.type == H5O_TYPE_DATASET ? try datasetInfo(name) : nil
    }
}
