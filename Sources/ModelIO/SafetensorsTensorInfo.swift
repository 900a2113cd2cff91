/// Where one tensor of a safetensors file lies and how it is stored, checked against the file when it was opened.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    /// The tensor's name (`model.layers.0.self_attn.q_proj.weight`).
    public let name: String
    /// The dtype exactly as the file spells it (`F32`, `BF16`, `I64`, ...).
    public let dtype: String
    /// Row-major shape; empty for a scalar.
    public let shape: [Int]
    /// Absolute byte range of the data in the file (the header's data_offsets plus the header's end).
    public let byteRange: Range<Int>
    /// The file that holds the tensor (a shard, for a sharded model).
    public let file: String

    /// Number of elements (the product of the shape; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}
