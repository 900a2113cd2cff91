/// A ggml tensor type as a GGUF tensor info stores it (`enum ggml_type`): its number, its name, and, for the
/// types ModelIO dequantizes, the kernel. The table `GGMLType.table` is the one place a type is added
/// (gguf-py keeps the same table in `GGML_QUANT_SIZES` and `quants.py`).
public struct GGMLType: Hashable, Sendable, CustomStringConvertible {
    /// The number in the file (0 = F32, 1 = F16, ...).
    public let rawValue: UInt32

    /// The type with number `rawValue`, known to ggml or not.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// ggml's name for the type (`Q4_K`), or `type N` for a number ggml does not define.
    public var name: String { GGMLType.table[rawValue]?.name ?? "type \(rawValue)" }

    /// The name and number, as error messages show it: `Q4_K (12)`.
    public var description: String { "\(name) (\(rawValue))" }

    /// Elements per block and bytes per block, for every type ggml defines; nil for a number ggml does not.
    public var layout: (blockSize: Int, bytesPerBlock: Int)? {
        GGMLType.table[rawValue].map { ($0.blockSize, $0.bytesPerBlock) }
    }

    /// Block size, bytes per block and dequantize kernel, or nil when ModelIO does not read this type.
    public var traits: GGMLTypeTraits? {
        guard let row = GGMLType.table[rawValue], let dequantize = row.dequantize else { return nil }
        return GGMLTypeTraits(blockSize: row.blockSize, bytesPerBlock: row.bytesPerBlock, dequantize: dequantize)
    }

    /// 32-bit IEEE float.
    public static let f32 = GGMLType(rawValue: 0)
    /// 16-bit IEEE half.
    public static let f16 = GGMLType(rawValue: 1)
    /// 4-bit, 32-element blocks with a half scale (x = d * (q - 8)).
    public static let q4_0 = GGMLType(rawValue: 2)
    /// 4-bit, 32-element blocks with a half scale and offset (x = d * q + m).
    public static let q4_1 = GGMLType(rawValue: 3)
    /// 8-bit, 32-element blocks with a half scale (x = d * q).
    public static let q8_0 = GGMLType(rawValue: 8)
    /// 4-bit K-quant, 256-element super-blocks of 8 sub-blocks with 6-bit scales and mins.
    public static let q4_K = GGMLType(rawValue: 12)
    /// 5-bit K-quant, 256-element super-blocks of 8 sub-blocks with 6-bit scales and mins.
    public static let q5_K = GGMLType(rawValue: 13)
    /// 6-bit K-quant, 256-element super-blocks of 16 sub-blocks with 8-bit scales.
    public static let q6_K = GGMLType(rawValue: 14)
    /// bfloat16 (the top 16 bits of a float32).
    public static let bf16 = GGMLType(rawValue: 30)

    /// The kernel that writes float32 values as this type, or nil when ModelIO does not write it (F32, F16, Q8_0
    /// and Q4_0 are written; see `GGMLQuantize`).
    var quantizer: GGMLQuantizeKernel? { GGMLType.table[rawValue]?.quantize }

    /// The types ModelIO dequantizes, by number.
    public static var supported: [GGMLType] {
        table.filter { $0.value.dequantize != nil }.keys.sorted().map(GGMLType.init(rawValue:))
    }

    /// The supported types' names, for error messages: `F32, F16, Q4_0, ...`.
    public static var supportedNames: String { supported.map(\.name).joined(separator: ", ") }

    /// One row of the table: a type's name, block layout and, when ModelIO reads it, its kernel.
    struct Row {
        let name: String
        let blockSize: Int
        let bytesPerBlock: Int
        let dequantize: GGMLTypeTraits.Kernel?
        let quantize: GGMLQuantizeKernel?

        init(_ name: String, _ blockSize: Int, _ bytesPerBlock: Int, _ dequantize: GGMLTypeTraits.Kernel? = nil,
             _ quantize: GGMLQuantizeKernel? = nil) {
            self.name = name
            self.blockSize = blockSize
            self.bytesPerBlock = bytesPerBlock
            self.dequantize = dequantize
            self.quantize = quantize
        }
    }

    /// The one table of types: every type ggml.h's `enum ggml_type` defines, with its block layout (ggml-common.h;
    /// gguf-py's GGML_QUANT_SIZES), the kernel for the ones ModelIO dequantizes and, for the ones the GGUF exporter
    /// writes, the quantizer. A new type is one row. Types
    /// without a kernel are still laid out, so a file holding one opens (its metadata and other tensors read)
    /// and only reading that tensor fails.
    static let table: [UInt32: Row] = [
        0: Row("F32", 1, 4, GGMLDequantize.f32, GGMLQuantize.f32),
        1: Row("F16", 1, 2, GGMLDequantize.f16, GGMLQuantize.f16),
        2: Row("Q4_0", 32, 2 + 16, GGMLDequantize.q4_0, GGMLQuantize.q4_0),
        3: Row("Q4_1", 32, 2 + 2 + 16, GGMLDequantize.q4_1),
        6: Row("Q5_0", 32, 2 + 4 + 16),
        7: Row("Q5_1", 32, 2 + 2 + 4 + 16),
        8: Row("Q8_0", 32, 2 + 32, GGMLDequantize.q8_0, GGMLQuantize.q8_0),
        9: Row("Q8_1", 32, 4 + 4 + 32),
        10: Row("Q2_K", 256, 2 + 2 + 16 + 64),
        11: Row("Q3_K", 256, 2 + 64 + 32 + 12),
        12: Row("Q4_K", 256, 2 + 2 + 12 + 128, GGMLDequantize.q4_K),
        13: Row("Q5_K", 256, 2 + 2 + 12 + 32 + 128, GGMLDequantize.q5_K),
        14: Row("Q6_K", 256, 128 + 64 + 16 + 2, GGMLDequantize.q6_K),
        15: Row("Q8_K", 256, 4 + 256 + 32),
        16: Row("IQ2_XXS", 256, 2 + 64),
        17: Row("IQ2_XS", 256, 2 + 64 + 8),
        18: Row("IQ3_XXS", 256, 2 + 64 + 32),
        19: Row("IQ1_S", 256, 2 + 32 + 16),
        20: Row("IQ4_NL", 32, 2 + 16),
        21: Row("IQ3_S", 256, 2 + 64 + 32 + 8 + 4),
        22: Row("IQ2_S", 256, 2 + 64 + 16),
        23: Row("IQ4_XS", 256, 2 + 2 + 128 + 4),
        24: Row("I8", 1, 1),
        25: Row("I16", 1, 2),
        26: Row("I32", 1, 4),
        27: Row("I64", 1, 8),
        28: Row("F64", 1, 8),
        29: Row("IQ1_M", 256, 32 + 16 + 8),
        30: Row("BF16", 1, 2, GGMLDequantize.bf16),
        34: Row("TQ1_0", 256, 2 + 4 * 13),
        35: Row("TQ2_0", 256, 2 + 64),
        39: Row("MXFP4", 32, 1 + 16),
        40: Row("NVFP4", 64, 4 + 32),
        41: Row("Q1_0", 128, 2 + 16),
    ]
}

/// How a readable ggml type is laid out and decoded.
public struct GGMLTypeTraits: Sendable {
    /// Elements per block (1 for the float types, 32 or 256 for quantized ones).
    public let blockSize: Int
    /// Bytes one block takes in the file.
    public let bytesPerBlock: Int
    /// Decodes `blocks` consecutive blocks at `source` into `blocks * blockSize` floats at `destination`
    /// (parameters: source, block count, destination). The memory must be valid; GGUFFile checks it first.
    public let dequantize: Kernel

    /// A dequantize kernel: (source, block count, destination).
    public typealias Kernel = @Sendable (UnsafeRawPointer, Int, UnsafeMutablePointer<Float>) -> Void
}

/// A quantize kernel: (float32 source, block count, destination of block count * bytes per block bytes).
typealias GGMLQuantizeKernel = @Sendable (UnsafePointer<Float>, Int, UnsafeMutableRawPointer) -> Void

extension GGMLType {
    /// `values` in this type's blocks, as a GGUF file stores them (the bytes gguf-py's `gguf.quants.quantize`
    /// gives for the same input), or nil when ModelIO does not write this type or `values.count` is not a whole
    /// number of blocks.
    public func quantize(_ values: UnsafeBufferPointer<Float>) -> [UInt8]? {
        guard let kernel = quantizer, let (blockSize, bytesPerBlock) = layout, values.count % blockSize == 0 else { return nil }
        let blocks = values.count / blockSize
        guard blocks > 0, let base = values.baseAddress else { return [] }
        return [UInt8](unsafeUninitializedCapacity: blocks * bytesPerBlock) { buffer, count in
            kernel(base, blocks, UnsafeMutableRawPointer(buffer.baseAddress!))
            count = blocks * bytesPerBlock
        }
    }

    /// The types ModelIO writes: F32, F16, Q4_0, Q8_0.
    public static var writable: [GGMLType] {
        table.filter { $0.value.quantize != nil }.keys.sorted().map(GGMLType.init(rawValue:))
    }
}
