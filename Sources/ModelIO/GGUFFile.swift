import Tensor

/// A GGUF file (versions 2 and 3, little-endian), read through mapped memory: its metadata, its tensor infos,
/// and each tensor's values dequantized to float32 on request.
///
/// Layout (ggml's docs/gguf.md): magic `GGUF`, u32 version, u64 tensor count, u64 metadata count; the metadata
/// as (string key, u32 value type, value); the tensor infos as (string name, u32 dimension count, u64 dimensions
/// innermost first, u32 ggml type, u64 offset); then, at the next multiple of `general.alignment` (default 32),
/// the data section, which each tensor's offset is relative to. Everything is validated when the file is opened:
/// every length and count against the bytes left, every tensor's data range against the file, so reading a
/// tensor later can only fail for a type ModelIO does not dequantize or a caller's wrong element count.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The GGUF version: 2 or 3 (they differ only in allowing big-endian files, which ModelIO does not read).
    public let version: Int
    /// Every metadata value by key.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data alignment in bytes (`general.alignment`, 32 when absent).
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int

    let file: MappedFile
    private let tensorIndex: [String: Int]

    /// The alignment GGUF uses when the file has no `general.alignment`.
    public static let defaultAlignment = 32
    /// The most dimensions a ggml tensor has (GGML_MAX_DIMS).
    public static let maximumDimensions = 4

    /// Opens and validates the GGUF file at `path`.
    /// - Throws: `ModelFileError.unreadable` (missing, a directory), `.malformed` (not GGUF, truncated, a length or
    ///   count past the end, a tensor outside the file), `.unsupported` (version 1, big-endian, a tensor type
    ///   number ggml does not define), `.badKey` (`general.alignment` not a uint32 power of two).
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        self.path = path
        var cursor = ByteCursor(file)

        version = try GGUFFile.readPreamble(&cursor)
        let tensorCount = try cursor.count("the tensor count", minimumBytes: 8 + 4 + 4 + 8)
        let keyCount = try cursor.count("the metadata key count", minimumBytes: 8 + 4 + 1)

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(keyCount)
        for i in 0..<keyCount {
            let keyOffset = cursor.offset
            let key = try cursor.string("metadata key \(i + 1) of \(keyCount)")
            guard metadata[key] == nil else {
                throw ModelFileError.malformed(file: path, offset: keyOffset,
                                               reason: "metadata key \(key) appears twice; GGUF keys are unique")
            }
            let code = try GGUFValue.readCode(from: &cursor, what: "the value type of metadata \(key)")
            metadata[key] = try GGUFValue.read(code, from: &cursor, what: "metadata \(key)")
            keys.append(key)
        }
        self.metadata = metadata
        metadataKeys = keys
        alignment = try GGUFFile.alignment(metadata, path: path)

        var infos: [(name: String, dimensions: [Int], elements: Int, type: GGMLType, layout: (blockSize: Int, bytesPerBlock: Int),
                     offset: UInt64, at: Int)] = []
        infos.reserveCapacity(tensorCount)
        var index: [String: Int] = [:]
        for i in 0..<tensorCount {
            let at = cursor.offset
            let name = try cursor.string("the name of tensor \(i + 1) of \(tensorCount)")
            guard index[name] == nil else {
                throw ModelFileError.malformed(file: path, offset: at,
                                               reason: "tensor \(name) appears twice; GGUF tensor names are unique")
            }
            let (dimensions, elements) = try GGUFFile.readDimensions(&cursor, tensor: name)
            let typeOffset = cursor.offset
            let type = GGMLType(rawValue: try cursor.u32("the type of tensor \(name)"))
            guard let layout = type.layout else {
                throw ModelFileError.unsupported(
                    file: path, what: "tensor \(name)'s type number \(type.rawValue) (at byte \(typeOffset); not a ggml type this build knows, so the file may come from a newer ggml)",
                    supported: GGMLType.supportedNames)
            }
            guard dimensions.isEmpty || dimensions[0] % layout.blockSize == 0 else {
                throw ModelFileError.malformed(
                    file: path, offset: typeOffset,
                    reason: "tensor \(name) is \(type.name) with rows of \(dimensions[0]) elements, not a multiple of its block size \(layout.blockSize)")
            }
            let offset = try cursor.u64("the data offset of tensor \(name)")
            index[name] = infos.count
            infos.append((name, dimensions, elements, type, layout, offset, at))
        }

        // The data section starts at the first multiple of the alignment after the tensor infos.
        let (padded, overflow) = cursor.offset.addingReportingOverflow(alignment - 1)
        guard !overflow else {
            throw ModelFileError.malformed(file: path, offset: cursor.offset, reason: "the data section's offset overflows")
        }
        dataOffset = padded / alignment * alignment
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            let blocks = info.elements / info.layout.blockSize
            let (bytes, bytesOverflow) = blocks.multipliedReportingOverflow(by: info.layout.bytesPerBlock)
            let (start, startOverflow) = dataOffset.addingReportingOverflow(Int(truncatingIfNeeded: info.offset))
            guard !bytesOverflow, info.offset <= UInt64(Int.max), !startOverflow else {
                throw ModelFileError.malformed(
                    file: path, offset: info.at,
                    reason: "tensor \(info.name)'s data (offset \(info.offset) in the data section) lies beyond any file size")
            }
            try file.checkRange(offset: start, length: bytes,
                                "tensor \(info.name)'s data (\(info.type.name), shape \(Array(info.dimensions.reversed())), at byte \(start))")
            tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dimensions,
                                          shape: info.dimensions.reversed(), type: info.type, offset: start,
                                          byteCount: bytes, elementCount: info.elements))
        }
        self.tensors = tensors
        tensorIndex = index
    }

    /// The tensor named `name`.
    /// - Throws: `ModelFileError.missingTensor` when the file has no such tensor.
    public func tensor(_ name: String) throws -> GGUFTensorInfo {
        guard let i = tensorIndex[name] else { throw ModelFileError.missingTensor(file: path, tensor: name) }
        return tensors[i]
    }

    /// The tensor's values dequantized to float32, in row-major order (`shape`).
    /// - Throws: `missingTensor`, or `unsupported` when ModelIO does not dequantize the tensor's type.
    public func floats(_ name: String) throws -> [Float] {
        let info = try tensor(name)
        guard info.elementCount > 0 else { return [] }
        return try [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, initialized in
            try read(name, into: buffer.baseAddress!, count: info.elementCount)
            initialized = info.elementCount
        }
    }

    /// Dequantizes the tensor into caller memory: `count` floats, row-major. Large tensors are split over the
    /// cores (`Parallel.threads`).
    /// - Throws: `missingTensor`; `tensorShape` when `count` differs from the tensor's element count;
    ///   `unsupported` when ModelIO does not dequantize the tensor's type.
    public func read(_ name: String, into destination: UnsafeMutablePointer<Float>, count: Int) throws {
        let info = try tensor(name)
        guard count == info.elementCount else {
            throw ModelFileError.tensorShape(file: path, tensor: name, expected: [count], actual: info.shape)
        }
        guard let traits = info.type.traits else {
            throw ModelFileError.unsupported(
                file: path,
                what: "tensor \(name)'s type \(info.type)",
                supported: GGMLType.supportedNames + "; convert the model again with one of these, e.g. llama.cpp's convert_hf_to_gguf.py --outtype q8_0, or llama-quantize to Q4_K_M")
        }
        let source = try file.pointer(at: info.offset, length: info.byteCount, "tensor \(name)'s data")
        let blocks = count / traits.blockSize
        let blockBytes = traits.bytesPerBlock, blockSize = traits.blockSize
        Parallel.forRanges(blocks, work: count) { range in
            traits.dequantize(source + range.lowerBound * blockBytes, range.count,
                              destination + range.lowerBound * blockSize)
        }
    }

    // MARK: - Parsing steps

    /// Reads the magic and version, refusing what this build does not read.
    private static func readPreamble(_ cursor: inout ByteCursor) throws -> Int {
        let file = cursor.file
        guard file.count >= 4 else {
            throw ModelFileError.malformed(
                file: file.path, offset: 0,
                reason: "the file has \(file.count) bytes; a GGUF file starts with the 4-byte magic \"GGUF\"")
        }
        let magic = Array(file.bytes[0..<4])
        if magic != Array("GGUF".utf8) {
            // Pre-GGUF llama.cpp files (ggml, ggmf, ggjt) store their magic as a little-endian u32.
            if ["lmgg", "fmgg", "tjgg"].map({ Array($0.utf8) }).contains(magic) {
                throw ModelFileError.unsupported(
                    file: file.path, what: "the pre-GGUF ggml/GGJT format",
                    supported: "GGUF versions 2 and 3; convert the file with llama.cpp's convert_llama_ggml_to_gguf.py")
            }
            let hex = magic.map { String($0, radix: 16, uppercase: true).leftPadded(2) }.joined(separator: " ")
            throw ModelFileError.malformed(
                file: file.path, offset: 0,
                reason: "not a GGUF file: it starts with bytes \(hex), not \"GGUF\" (47 47 55 46)")
        }
        cursor.offset = 4
        let raw = try cursor.u32("the GGUF version")
        switch raw {
        case 2, 3:
            return Int(raw)
        case 1:
            throw ModelFileError.unsupported(
                file: file.path, what: "GGUF version 1 (32-bit counts, the 2023 draft)",
                supported: "GGUF versions 2 and 3; convert the file again with a current llama.cpp")
        case _ where raw.byteSwapped == 2 || raw.byteSwapped == 3:
            throw ModelFileError.unsupported(
                file: file.path, what: "a big-endian GGUF file",
                supported: "little-endian GGUF versions 2 and 3; convert the model again without --bigendian")
        default:
            throw ModelFileError.unsupported(
                file: file.path, what: "GGUF version \(raw)",
                supported: "GGUF versions 2 and 3; this file is damaged or from a newer GGUF")
        }
    }

    /// Reads a tensor's dimension count and dimensions (innermost first), refusing more than four dimensions
    /// and element counts that overflow.
    private static func readDimensions(_ cursor: inout ByteCursor, tensor name: String) throws -> ([Int], Int) {
        let path = cursor.file.path
        let at = cursor.offset
        let count = try cursor.u32("the dimension count of tensor \(name)")
        guard count <= maximumDimensions else {
            throw ModelFileError.malformed(
                file: path, offset: at,
                reason: "tensor \(name) has \(count) dimensions; ggml tensors have at most \(maximumDimensions)")
        }
        var dimensions: [Int] = []
        var elements = 1
        for d in 0..<Int(count) {
            let dimOffset = cursor.offset
            let raw = try cursor.u64("dimension \(d) of tensor \(name)")
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(truncatingIfNeeded: raw))
            guard raw <= UInt64(Int.max), !overflow else {
                throw ModelFileError.malformed(
                    file: path, offset: dimOffset,
                    reason: "tensor \(name)'s dimension \(d) is \(raw), so its element count overflows: the file is damaged")
            }
            dimensions.append(Int(raw))
            elements = product
        }
        return (dimensions, elements)
    }

    /// `general.alignment`, which must be a uint32 power of two when present.
    private static func alignment(_ metadata: [String: GGUFValue], path: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
            throw ModelFileError.badKey(
                file: path, key: "general.alignment",
                reason: "is \(value) (\(value.typeName)); GGUF requires a uint32 power of two (32 when absent)")
        }
        return Int(a)
    }
}

extension String {
    /// The string with `pad` characters in front up to `width` characters.
    fileprivate func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
