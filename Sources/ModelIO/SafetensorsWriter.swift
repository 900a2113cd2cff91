import FileErrors
import Foundation

/// Writes float32 tensors as a safetensors file (the format's 8-byte header length, the JSON header padded with
/// spaces to a multiple of 8, then the tensors' bytes back to back), converted to F32, BF16 or F16.
public enum SafetensorsWriter {
    /// The element types a file can be written in.
    public enum DType: String, CaseIterable, Sendable {
        case f32, bf16, f16
        /// The safetensors spelling.
        var name: String { rawValue.uppercased() }
        var size: Int { self == .f32 ? 4 : 2 }
    }

    /// One tensor to write: its name, shape and float32 values (row-major).
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public let values: UnsafeBufferPointer<Float>
        public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) for \(values.count) values")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Writes `tensors` (in this order) to `path` as `dtype`, with `metadata` as `__metadata__`.
    /// - Throws: `ModelFileError.unreadable` naming the path when the file cannot be written.
    public static func write(_ tensors: [Tensor], dtype: DType, metadata: [String: String] = ["format": "pt"], to path: String) throws {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * dtype.size
            header[t.name] = ["dtype": dtype.name, "shape": t.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in tensors {
            switch dtype {
            case .f32:
                for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            case .bf16:
                for v in t.values { withUnsafeBytes(of: bfloat16Bits(v).littleEndian) { out.append(contentsOf: $0) } }
            case .f16:
                for v in t.values { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        do { try out.write(to: URL(fileURLWithPath: path)) } catch {
            throw ModelFileError.unreadable(file: path, reason: "cannot write: " + WriteFailure.diagnose(path: path, target: .file, error: error).reason)
        }
    }

    /// The bfloat16 nearest to `v` (round half to even, as torch's conversion), NaN kept NaN.
    static func bfloat16Bits(_ v: Float) -> UInt16 {
        let bits = v.bitPattern
        if v.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
