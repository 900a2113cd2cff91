import Foundation

/// A contiguous, row-major float32 array that can take part in reverse-mode autograd.
///
/// A tensor is a view (`offset`, `shape`) into a reference-counted `Storage`; reshaping is free and
/// shares storage, every other op writes a fresh tensor. Tensors produced by recorded ops keep a
/// `Node` (their parents and backward kernel) until `backward()` has consumed it.
public final class Tensor: @unchecked Sendable {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// The allocation this tensor views.
    public let storage: Storage
    /// Element offset of this view inside `storage`.
    public let offset: Int
    /// Number of elements (product of `shape`).
    public let count: Int
    /// Whether gradients flow to (and are accumulated in) this tensor.
    public var requiresGrad: Bool
    /// Accumulated gradient, same shape; parameters get a view into their store's flat gradient buffer.
    public var grad: Tensor?
    /// Backward information when this tensor was produced by a recorded op.
    var node: Node?
    /// Set when a `backward()` consumed this tensor's node; a second pass through it would silently
    /// lose gradients, so it is refused.
    var nodeConsumed = false

    /// A view of `storage` starting at `offset`.
    public init(shape: [Int], storage: Storage, offset: Int = 0, requiresGrad: Bool = false) {
        let n = shapeCount(shape)
        precondition(offset >= 0 && offset + n <= storage.count,
                     "view \(shape) at offset \(offset) exceeds storage of \(storage.count) elements")
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.count = n
        self.requiresGrad = requiresGrad
    }

    /// A fresh tensor of zeros.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(count: shapeCount(shape)), requiresGrad: requiresGrad)
    }

    /// A fresh tensor holding `values` (row-major); the count must match the shape.
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == shapeCount(shape),
                     "\(values.count) values do not fill shape \(shape) (\(shapeCount(shape)) elements)")
        self.init(shape: shape, storage: Storage(count: values.count, zeroed: false), requiresGrad: requiresGrad)
        values.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A fresh tensor whose contents are unspecified (every element must be written before it is read).
    public static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: Storage(count: shapeCount(shape), zeroed: false))
    }

    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = uninitialized(shape)
        t.ptr.update(repeating: value, count: t.count)
        return t
    }

    /// Normal(0, std) entries drawn from `rng`.
    public static func randn(_ shape: [Int], std: Float = 1, rng: inout RandomGenerator) -> Tensor {
        let t = uninitialized(shape)
        for i in 0..<t.count { t.ptr[i] = rng.nextNormal() * std }
        return t
    }

    /// Uniform [low, high) entries drawn from `rng`.
    public static func rand(_ shape: [Int], low: Float = 0, high: Float = 1,
                            rng: inout RandomGenerator) -> Tensor {
        let t = uninitialized(shape)
        for i in 0..<t.count { t.ptr[i] = low + (high - low) * rng.nextFloat() }
        return t
    }

    /// Pointer to the first element of this view.
    @inline(__always) public var ptr: UnsafeMutablePointer<Float> { storage.base + offset }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The size of the last dimension (1 for a scalar).
    public var lastDim: Int { shape.last ?? 1 }

    /// Number of rows when viewed as (count / lastDim, lastDim).
    public var rows: Int { lastDim == 0 ? 0 : count / lastDim }

    /// The elements as an array (row-major).
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, got shape \(shape)")
        return ptr[0]
    }

    /// A copy that shares nothing and records nothing.
    public func copy() -> Tensor {
        let t = Tensor.uninitialized(shape)
        t.ptr.update(from: ptr, count: count)
        return t
    }

    /// This tensor's values with no autograd history (shares storage).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }

    /// Overwrites the contents with `other`'s (same element count); records nothing.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: shapes \(other.shape) and \(shape) differ in size")
        ptr.update(from: other.ptr, count: count)
    }

    /// Sets every element to zero.
    public func zero() { ptr.update(repeating: 0, count: count) }

    /// The gradient buffer, created (zeroed) on first use; backward kernels accumulate into it.
    @inline(__always) public func gradPointer() -> UnsafeMutablePointer<Float> {
        if let g = grad { return g.ptr }
        let g = Tensor(zeros: shape)
        grad = g
        return g.ptr
    }

    /// The gradient buffer for a backward kernel that writes every element of it exactly once.
    ///
    /// When the buffer already exists the kernel adds to it (`fresh` is false). On first use it is
    /// created without zeroing (`fresh` is true) and the kernel must store its values instead (beta 0
    /// for a product), which saves a memset and a read of zeros per intermediate gradient.
    @inline(__always) public func gradForWrite() -> (pointer: UnsafeMutablePointer<Float>, fresh: Bool) {
        if let g = grad { return (g.ptr, false) }
        let g = Tensor.uninitialized(shape)
        grad = g
        return (g.ptr, true)
    }

    /// Takes `outputGrad` (a gradient of this tensor's shape that no one reads or writes after this
    /// call) as this tensor's gradient without copying it, when this tensor has none yet. Returns false
    /// (and does nothing) otherwise; the caller then accumulates as usual.
    @inline(__always) func adoptGradient(_ outputGrad: Tensor) -> Bool {
        guard grad == nil, outputGrad.shape == shape else { return false }
        grad = outputGrad
        return true
    }
}

/// Product of the dimensions of `shape` (1 for a scalar).
@inline(__always) public func shapeCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = toArray().prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(shown)\(count > 8 ? ", ..." : "")])"
    }
}
