/// A minimal protocol-buffers encoder (wire format only): enough for TensorBoard's `Event` and `Summary`
/// messages without a code generator or a runtime dependency.
///
/// Fields are appended in the order written; callers write them in field-number order, as the reference
/// serialisers do, so the bytes match theirs.
public struct ProtobufWriter {
    /// The wire types this encoder writes.
    public enum WireType: UInt64 {
        /// int32, int64, uint64, bool, enum.
        case varint = 0
        /// fixed64, double.
        case fixed64 = 1
        /// string, bytes, embedded messages.
        case lengthDelimited = 2
        /// fixed32, float.
        case fixed32 = 5
    }

    /// The encoded bytes so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty message.
    public init() {}

    /// Appends a base-128 varint (7 bits per byte, least significant group first).
    /// - Parameter value: the value.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a field key: (field number << 3) | wire type.
    /// - Parameters:
    ///   - field: the field number.
    ///   - wireType: how the value is encoded.
    public mutating func key(field: Int, _ wireType: WireType) {
        precondition(field > 0, "protobuf field numbers start at 1, got \(field)")
        varint(UInt64(field) << 3 | wireType.rawValue)
    }

    /// Appends a `double` field (fixed64, little endian).
    public mutating func double(field: Int, _ value: Double) {
        key(field: field, .fixed64)
        littleEndian(value.bitPattern)
    }

    /// Appends a `float` field (fixed32, little endian).
    public mutating func float(field: Int, _ value: Float) {
        key(field: field, .fixed32)
        littleEndian(value.bitPattern)
    }

    /// Appends an `int64` field (a negative value takes ten bytes, two's complement, as the spec says).
    public mutating func int64(field: Int, _ value: Int64) {
        key(field: field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// Appends a `bytes` field.
    public mutating func bytes(field: Int, _ value: [UInt8]) {
        key(field: field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Appends a `string` field (UTF-8).
    public mutating func string(field: Int, _ value: String) {
        bytes(field: field, Array(value.utf8))
    }

    /// Appends an embedded message field built by `body`.
    public mutating func message(field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        bytes(field: field, inner.bytes)
    }

    private mutating func littleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
    }
}
