/// Where one tensor of a GGUF file lies and how it is stored, checked against the file when it was opened.
public struct GGUFTensorInfo: Equatable, Sendable {
    /// The tensor's name (`blk.0.attn_q.weight`).
    public let name: String
    /// Dimensions in ggml order: `dimensions[0]` (ne[0]) is the innermost, contiguous one.
    public let dimensions: [Int]
    /// Dimensions in row-major order (`dimensions` reversed): a Linear weight of `out x in` is `[out, in]`.
    public let shape: [Int]
    /// How the elements are stored.
    public let type: GGMLType
    /// Absolute byte offset of the data in the file (the data section's start plus the tensor's own offset).
    public let offset: Int
    /// Bytes of data: elements / block size * bytes per block.
    public let byteCount: Int
    /// Number of elements (the product of the dimensions; 1 for a tensor with no dimensions).
    public let elementCount: Int
}
