import FileErrors
import Foundation

/// Writes a GGUF v3 file (ggml's docs/gguf.md), the layout `GGUFFile` reads: magic `GGUF`, u32 version 3, u64 tensor
/// count, u64 metadata count; the metadata as (string key, u32 value type, value); the tensor infos as (string name,
/// u32 dimension count, u64 dimensions innermost first, u32 ggml type, u64 offset into the data section); padding to
/// `alignment`; then each tensor's bytes, each padded to `alignment` with zeros.
///
/// The file is written under a temporary name in the same folder, fsynced and renamed, so the real name never holds
/// a half-written file and an existing file there is replaced only by a complete one.
public struct GGUFWriter {
    /// One tensor to write: its name, row-major shape, type, and a function giving its bytes in that type (called
    /// once, when the tensor's turn comes, so a whole model is never held twice in memory).
    public struct Tensor {
        public let name: String
        /// Row-major: a Linear weight of `out x in` is `[out, in]` (the file stores the reverse, innermost first).
        public let shape: [Int]
        public let type: GGMLType
        public let bytes: () throws -> [UInt8]

        public init(name: String, shape: [Int], type: GGMLType, bytes: @escaping () throws -> [UInt8]) {
            self.name = name
            self.shape = shape
            self.type = type
            self.bytes = bytes
        }

        /// Bytes the tensor takes: elements / block size * bytes per block.
        var byteCount: Int {
            let layout = type.layout ?? (1, 4)
            return shape.reduce(1, *) / layout.blockSize * layout.bytesPerBlock
        }
    }

    /// Metadata in file order. An empty array is written with element type string (the only empty array the
    /// exporter writes is a vocabulary's `tokenizer.ggml.merges`).
    public var metadata: [(key: String, value: GGUFValue)]
    /// Tensors in file order.
    public var tensors: [Tensor]
    /// Data alignment in bytes; written as `general.alignment` by the caller when it is not 32.
    public var alignment: Int

    public init(metadata: [(key: String, value: GGUFValue)], tensors: [Tensor], alignment: Int = GGUFFile.defaultAlignment) {
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
    }

    /// Writes the file to `path` (atomically: a temporary name in the same folder, fsynced, renamed).
    /// - Throws: `ModelFileError.unreadable` naming `path` and the cause in words (a folder at the path, a missing
    ///   folder, permission denied, disk full) when it cannot be written; any error a tensor's `bytes` throws.
    public func write(to path: String) throws {
        func failure(errno code: Int32? = nil, error: Error? = nil) -> ModelFileError {
            .unreadable(file: path, reason: "cannot write: " + WriteFailure.diagnose(path: path, target: .file, errno: code, error: error,
                                                                                   exampleName: "model.gguf").reason)
        }
        if let inTheWay = WriteFailure.inTheWay(ofFileAt: path, exampleName: "model.gguf") {
            throw ModelFileError.unreadable(file: path, reason: "cannot write: " + inTheWay.reason)
        }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure(errno: errno) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do {
            func put(_ bytes: [UInt8]) throws {
                var done = 0
                while done < bytes.count {
                    let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, bytes.count - done) }
                    guard n > 0 else { throw failure(errno: errno) }
                    done += n
                }
            }
            var header = header()
            header += [UInt8](repeating: 0, count: padding(header.count))
            try put(header)
            for t in tensors {
                var data = try t.bytes()
                precondition(data.count == t.byteCount, "\(t.name): \(data.count) bytes for a \(t.type) tensor of shape \(t.shape)")
                data += [UInt8](repeating: 0, count: padding(data.count))
                try put(data)
            }
            guard fsync(fd) == 0 else { throw failure(errno: errno) }
            closed = true
            guard close(fd) == 0 else { throw failure(errno: errno) }
            guard rename(temporary, path) == 0 else { throw failure(errno: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
        let dir = open(folder, O_RDONLY | O_DIRECTORY)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    /// Zero bytes that bring `count` to a multiple of the alignment.
    func padding(_ count: Int) -> Int { (alignment - count % alignment) % alignment }

    /// Everything before the data section: preamble, metadata, tensor infos (not yet padded).
    func header() -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8)
        out.appendLittleEndian(UInt32(3))
        out.appendLittleEndian(UInt64(tensors.count))
        out.appendLittleEndian(UInt64(metadata.count))
        for (key, value) in metadata {
            out.appendGGUFString(key)
            out.appendLittleEndian(GGUFWriter.code(of: value).rawValue)
            out.appendGGUFValue(value)
        }
        var offset = 0
        for t in tensors {
            out.appendGGUFString(t.name)
            out.appendLittleEndian(UInt32(t.shape.count))
            for dimension in t.shape.reversed() { out.appendLittleEndian(UInt64(dimension)) }
            out.appendLittleEndian(t.type.rawValue)
            out.appendLittleEndian(UInt64(offset))
            offset += t.byteCount + padding(t.byteCount)
        }
        return out
    }

    /// The GGUF value type of `value` (an empty array's element type is string).
    static func code(of value: GGUFValue) -> GGUFValue.Code {
        switch value {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendGGUFString(_ s: String) {
        appendLittleEndian(UInt64(s.utf8.count))
        append(contentsOf: s.utf8)
    }

    /// The value's bytes without its type code (arrays: element type, count, elements).
    mutating func appendGGUFValue(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): appendLittleEndian(v)
        case .int8(let v): appendLittleEndian(v)
        case .uint16(let v): appendLittleEndian(v)
        case .int16(let v): appendLittleEndian(v)
        case .uint32(let v): appendLittleEndian(v)
        case .int32(let v): appendLittleEndian(v)
        case .uint64(let v): appendLittleEndian(v)
        case .int64(let v): appendLittleEndian(v)
        case .float32(let v): appendLittleEndian(v.bitPattern)
        case .float64(let v): appendLittleEndian(v.bitPattern)
        case .bool(let v): append(v ? 1 : 0)
        case .string(let s): appendGGUFString(s)
        case .array(let items):
            appendLittleEndian((items.first.map(GGUFWriter.code(of:)) ?? .string).rawValue)
            appendLittleEndian(UInt64(items.count))
            for item in items { appendGGUFValue(item) }
        }
    }
}
