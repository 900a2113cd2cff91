// Shape ops. Reshape is a free view; permute, concat and split copy (every tensor stays contiguous).

/// The same elements under a new shape (one dimension may be -1 and is inferred).
public func reshape(_ x: Tensor, _ shape: [Int]) -> Tensor {
    var s = shape
    if let k = s.firstIndex(of: -1) {
        let known = s.enumerated().filter { $0.offset != k }.map(\.element).reduce(1, *)
        precondition(known > 0 && x.count % known == 0, "cannot reshape \(x.shape) to \(shape)")
        s[k] = x.count / known
    }
    precondition(shapeCount(s) == x.count, "cannot reshape \(x.shape) (\(x.count) elements) to \(shape)")
    let out = Tensor(shape: s, storage: x.storage, offset: x.offset)
    Tensor.record(out, inputs: [x]) { g in vaxpy(g.count, 1, g.ptr, x.gradPointer()) }
    return out
}

/// Reorders dimensions: output dim i is input dim `order[i]`.
public func permute(_ x: Tensor, _ order: [Int]) -> Tensor {
    precondition(order.sorted() == Array(0..<x.rank), "permute order \(order) is not a permutation of 0..<\(x.rank)")
    let outShape = order.map { x.shape[$0] }
    let out = Tensor.uninitialized(outShape)
    let inStrides = strides(x.shape)
    let src = order.map { inStrides[$0] }  // input stride of each output dim
    permuteCopy(from: x.ptr, to: out.ptr, shape: outShape, sourceStrides: src, reverse: false)
    Tensor.record(out, inputs: [x]) { g in
        // scatter back: walk the output layout, add into the input positions
        permuteCopy(from: g.ptr, to: x.gradPointer(), shape: outShape, sourceStrides: src, reverse: true)
    }
    return out
}

/// Swaps two dimensions.
public func transpose(_ x: Tensor, _ a: Int, _ b: Int) -> Tensor {
    var order = Array(0..<x.rank)
    order.swapAt(a < 0 ? x.rank + a : a, b < 0 ? x.rank + b : b)
    return permute(x, order)
}

/// Row-major strides of `shape`.
public func strides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
    return s
}

/// Copies a strided source into a contiguous destination of `shape` (or, `reverse`, adds a contiguous
/// source back into the strided positions). The last dim is the inner loop.
private func permuteCopy(from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>, shape: [Int],
                         sourceStrides: [Int], reverse: Bool) {
    let n = shapeCount(shape)
    guard n > 0 else { return }
    let r = shape.count
    var idx = [Int](repeating: 0, count: r)
    var srcOff = 0
    let inner = shape[r - 1], innerStride = sourceStrides[r - 1]
    var o = 0
    while o < n {
        for j in 0..<inner {
            let s = srcOff + j * innerStride
            if reverse { to[s] += from[o + j] } else { to[o + j] = from[s] }
        }
        o += inner
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            srcOff += sourceStrides[d]
            if idx[d] < shape[d] { break }
            srcOff -= sourceStrides[d] * shape[d]
            idx[d] = 0
            d -= 1
        }
    }
}

/// Joins tensors along `axis`; all other dims must match.
public func concat(_ xs: [Tensor], axis: Int) -> Tensor {
    precondition(!xs.isEmpty, "concat needs at least one tensor")
    let r = xs[0].rank
    let ax = axis < 0 ? r + axis : axis
    for x in xs {
        precondition(x.rank == r && x.shape.enumerated().allSatisfy { $0.offset == ax || $0.element == xs[0].shape[$0.offset] },
                     "concat along \(axis): shapes \(xs.map(\.shape)) differ off the axis")
    }
    var shape = xs[0].shape
    shape[ax] = xs.reduce(0) { $0 + $1.shape[ax] }
    let outer = shapeCount(Array(shape[..<ax])), inner = shapeCount(Array(shape[(ax + 1)...]))
    let out = Tensor.uninitialized(shape)
    let rowOut = shape[ax] * inner
    var col = 0
    var offsets: [Int] = []
    for x in xs {
        let w = x.shape[ax] * inner
        for o in 0..<outer { (out.ptr + o * rowOut + col).update(from: x.ptr + o * w, count: w) }
        offsets.append(col)
        col += w
    }
    Tensor.record(out, inputs: xs) { g in
        for (x, c0) in zip(xs, offsets) where x.requiresGrad {
            let w = x.shape[ax] * inner, gx = x.gradPointer()
            for o in 0..<outer { vaxpy(w, 1, g.ptr + o * rowOut + c0, gx + o * w) }
        }
    }
    return out
}

/// Cuts `x` along `axis` into pieces of the given sizes (which must add up to that dim).
public func split(_ x: Tensor, sizes: [Int], axis: Int) -> [Tensor] {
    let ax = axis < 0 ? x.rank + axis : axis
    precondition(sizes.reduce(0, +) == x.shape[ax], "split sizes \(sizes) do not add up to dim \(x.shape[ax]) of \(x.shape)")
    let outer = shapeCount(Array(x.shape[..<ax])), inner = shapeCount(Array(x.shape[(ax + 1)...]))
    let rowIn = x.shape[ax] * inner
    var pieces: [Tensor] = []
    var col = 0
    for size in sizes {
        var shape = x.shape
        shape[ax] = size
        let w = size * inner, c0 = col
        let out = Tensor.uninitialized(shape)
        for o in 0..<outer { (out.ptr + o * w).update(from: x.ptr + o * rowIn + c0, count: w) }
        Tensor.record(out, inputs: [x]) { g in
            let gx = x.gradPointer()
            for o in 0..<outer { vaxpy(w, 1, g.ptr + o * w, gx + o * rowIn + c0) }
        }
        pieces.append(out)
        col += w
    }
    return pieces
}
