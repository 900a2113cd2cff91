import Foundation
import Tensor

/// A safetensors file, read through mapped memory: its header (tensor names, dtypes, shapes, data ranges,
/// `__metadata__`) and each float tensor's values as float32.
///
/// Layout (huggingface/safetensors): u64 little-endian header length N, N bytes of JSON (padded with spaces),
/// then the data. The header maps each name to `{"dtype", "shape", "data_offsets": [begin, end]}` relative to
/// the data's start. Validated as the reference crate does when the file is opened: every range inside the file,
/// its length equal to elements x dtype size, and the ranges tiling the data without overlaps or holes.
public final class SafetensorsFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The header's `__metadata__` (string to string; empty when absent).
    public let metadata: [String: String]

    let file: MappedFile
    private let infos: [String: SafetensorsTensorInfo]

    /// Bytes per element of every dtype the format defines with a whole number of bytes.
    public static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
        "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
        "U32": 4, "I32": 4, "F32": 4,
        "U64": 8, "I64": 8, "F64": 8, "C64": 8,
    ]
    /// The dtypes `floats` and `read` convert to float32.
    public static let floatDtypes = ["F32", "F16", "BF16"]
    /// The reference implementation's limit on the header length (100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// Opens and validates the safetensors file at `path`.
    /// - Throws: `ModelFileError.unreadable` (missing, a directory), `.malformed` (header length past the end,
    ///   invalid JSON, a range outside the data, overlapping or with a hole, a length that disagrees with the
    ///   shape), `.unsupported` (a dtype the format does not define with whole bytes, e.g. F4).
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        self.path = path
        guard file.count >= 8 else {
            throw ModelFileError.malformed(
                file: path, offset: 0,
                reason: "the file has \(file.count) bytes; a safetensors file starts with an 8-byte header length")
        }
        let declared = try file.read(UInt64.self, at: 0, "the header length")
        guard declared <= UInt64(file.count - 8) else {
            throw ModelFileError.malformed(
                file: path, offset: 0,
                reason: "the header length \(declared) runs past the end of the file (\(file.count) bytes): the file is truncated or not safetensors")
        }
        guard declared <= UInt64(SafetensorsFile.maximumHeaderLength) else {
            throw ModelFileError.malformed(
                file: path, offset: 0,
                reason: "the header length \(declared) is over the format's limit of \(SafetensorsFile.maximumHeaderLength) bytes")
        }
        let headerLength = Int(declared)
        let header = try SafetensorsHeader(
            Data(file.bytes[8..<(8 + headerLength)]), file: path)
        metadata = header.metadata
        infos = try SafetensorsFile.validate(header.entries, dataStart: 8 + headerLength, file: file)
    }

    /// The tensor names, sorted.
    public var tensorNames: [String] { infos.keys.sorted() }

    /// Whether the file holds a tensor named `name`.
    public func contains(_ name: String) -> Bool { infos[name] != nil }

    /// Where tensor `name` lies and how it is stored.
    /// - Throws: `ModelFileError.missingTensor` when the file has no such tensor.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let info = infos[name] else { throw ModelFileError.missingTensor(file: path, tensor: name) }
        return info
    }

    /// The tensor's values as float32 (F32 copied, F16 and BF16 widened exactly), row-major.
    /// - Throws: `missingTensor`; `unsupported` naming the tensor and dtype for other dtypes.
    public func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        let count = info.elementCount
        guard count > 0 else {
            try floatKernel(info)
            return []
        }
        return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try read(name, into: buffer.baseAddress!, count: count)
            initialized = count
        }
    }

    /// Reads the tensor as float32 into caller memory; `count` must be its element count.
    /// - Throws: `missingTensor`; `tensorShape` when `count` differs from the element count; `unsupported` for
    ///   a dtype other than F32, F16, BF16.
    public func read(_ name: String, into destination: UnsafeMutablePointer<Float>, count: Int) throws {
        let info = try info(name)
        let kernel = try floatKernel(info)
        guard count == info.elementCount else {
            throw ModelFileError.tensorShape(file: path, tensor: name, expected: [count], actual: info.shape)
        }
        let source = try file.pointer(at: info.byteRange.lowerBound, length: info.byteRange.count,
                                      "tensor \(name)'s data")
        let size = SafetensorsFile.dtypeSizes[info.dtype] ?? 4
        Parallel.forRanges(count, work: count) { range in
            kernel(source + range.lowerBound * size, range.count, destination + range.lowerBound)
        }
    }

    /// The float32 conversion for the tensor's dtype (GGML's F32/F16/BF16 kernels: the bits are the same).
    @discardableResult
    private func floatKernel(_ info: SafetensorsTensorInfo) throws -> GGMLTypeTraits.Kernel {
        switch info.dtype {
        case "F32": return GGMLDequantize.f32
        case "F16": return GGMLDequantize.f16
        case "BF16": return GGMLDequantize.bf16
        default:
            throw ModelFileError.unsupported(
                file: path, what: "tensor \(info.name)'s dtype \(info.dtype) as float weights",
                supported: SafetensorsFile.floatDtypes.joined(separator: ", "))
        }
    }

    /// Checks every entry against the data section and returns the infos with absolute byte ranges.
    private static func validate(_ entries: [String: SafetensorsHeader.Entry], dataStart: Int,
                                 file: MappedFile) throws -> [String: SafetensorsTensorInfo] {
        let path = file.path
        let dataLength = file.count - dataStart
        var infos: [String: SafetensorsTensorInfo] = [:]
        for (name, entry) in entries {
            guard let size = dtypeSizes[entry.dtype] else {
                throw ModelFileError.unsupported(
                    file: path, what: "tensor \(name)'s dtype \(entry.dtype)",
                    supported: dtypeSizes.keys.sorted().joined(separator: ", "))
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw malformed(path, "tensor \(name) has a negative dimension in its shape \(entry.shape)")
            }
            var elements = 1
            for d in entry.shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw malformed(path, "tensor \(name)'s shape \(entry.shape) overflows") }
                elements = product
            }
            guard entry.offsets.count == 2 else {
                throw malformed(path, "tensor \(name)'s data_offsets is \(entry.offsets); it must be [begin, end]")
            }
            let (begin, end) = (entry.offsets[0], entry.offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw ModelFileError.malformed(
                    file: path, offset: dataStart + max(0, begin),
                    reason: "tensor \(name)'s data_offsets [\(begin), \(end)] are not a range within the \(dataLength) data bytes: the file is truncated or its header is damaged")
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow, bytes == end - begin else {
                throw ModelFileError.malformed(
                    file: path, offset: dataStart + begin,
                    reason: "tensor \(name) is \(entry.dtype) \(entry.shape), which takes \(overflow ? "too many" : String(bytes)) bytes, but its data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            infos[name] = SafetensorsTensorInfo(name: name, dtype: entry.dtype, shape: entry.shape,
                                                byteRange: (dataStart + begin)..<(dataStart + end), file: path)
        }
        // The ranges must tile the data: sorted by start, each begins where the previous ended.
        var expected = dataStart
        var previous = "the header"
        for info in infos.values.sorted(by: { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }) {
            let range = info.byteRange
            if range.lowerBound < expected {
                throw ModelFileError.malformed(
                    file: path, offset: range.lowerBound,
                    reason: "tensor \(info.name)'s data overlaps \(previous)'s (bytes \(range.lowerBound) to \(expected)): the header is damaged")
            }
            if range.lowerBound > expected {
                throw ModelFileError.malformed(
                    file: path, offset: expected,
                    reason: "bytes \(expected)..<\(range.lowerBound) after \(previous) belong to no tensor; safetensors data must be fully indexed (the header is damaged)")
            }
            expected = range.upperBound
            previous = "tensor \(info.name)"
        }
        guard expected == file.count else {
            throw ModelFileError.malformed(
                file: path, offset: expected,
                reason: "bytes \(expected)..<\(file.count) after \(previous) belong to no tensor; safetensors data must be fully indexed")
        }
        return infos
    }

    private static func malformed(_ path: String, _ reason: String) -> ModelFileError {
        .malformed(file: path, offset: 8, reason: "header: " + reason)
    }
}
