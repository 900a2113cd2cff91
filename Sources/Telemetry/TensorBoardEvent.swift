/// One TensorBoard `Event` protobuf (tensorflow/core/util/event.proto) with the fields scalar curves need,
/// and the TFRecord framing that event files use.
///
///     message Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     message Summary { repeated Value value = 1; }
///     message Value   { string tag = 1; float simple_value = 2; }
public struct TensorBoardEvent: Equatable, Sendable {
    /// One scalar of the event's summary.
    public struct Scalar: Equatable, Sendable {
        /// The curve's name as TensorBoard shows it (`loss`, `reward/answer`; `/` groups curves).
        public var tag: String
        /// The value (TensorBoard's `simple_value` is a 32-bit float).
        public var value: Float

        /// A scalar named `tag`.
        public init(tag: String, value: Float) {
            self.tag = tag
            self.value = value
        }
    }

    /// Seconds since the Unix epoch.
    public var wallTime: Double
    /// The global step (the x axis of every curve).
    public var step: Int64
    /// Set on the first event of a file only: "brain.Event:2".
    public var fileVersion: String?
    /// The scalars logged at this step.
    public var scalars: [Scalar]

    /// The `file_version` every event file starts with.
    public static let currentFileVersion = "brain.Event:2"

    /// An event.
    public init(wallTime: Double, step: Int64, fileVersion: String? = nil, scalars: [Scalar] = []) {
        self.wallTime = wallTime
        self.step = step
        self.fileVersion = fileVersion
        self.scalars = scalars
    }

    /// The serialised protobuf. Fields in number order; proto3 defaults (zero step, zero time, no version,
    /// no summary) omitted, as the reference serialisers do; `simple_value` always written because it is a
    /// member of a `oneof`.
    public func serialized() -> [UInt8] {
        var w = ProtobufWriter()
        if wallTime != 0 { w.double(field: 1, wallTime) }
        if step != 0 { w.int64(field: 2, step) }
        if let fileVersion, !fileVersion.isEmpty { w.string(field: 3, fileVersion) }
        if !scalars.isEmpty {
            w.message(field: 5) { summary in
                for s in scalars {
                    summary.message(field: 1) { value in
                        value.string(field: 1, s.tag)
                        value.float(field: 2, s.value)
                    }
                }
            }
        }
        return w.bytes
    }

    /// One TFRecord: uint64 length (little endian), masked CRC-32C of those 8 bytes, the data, masked
    /// CRC-32C of the data.
    /// - Parameter data: the record's payload (a serialised event).
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        out += length
        withUnsafeBytes(of: CRC32C.maskedChecksum(length).littleEndian) { out += $0 }
        out += data
        withUnsafeBytes(of: CRC32C.maskedChecksum(data).littleEndian) { out += $0 }
        return out
    }
}
