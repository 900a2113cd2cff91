// Reductions over one axis. Shapes: x viewed as (outer, n, inner) around the reduced axis of size n;
// the output drops that axis (or keeps it as 1 with keepDims).

private func axisGeometry(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int, axis: Int) {
    let ax = axis < 0 ? shape.count + axis : axis
    precondition(ax >= 0 && ax < shape.count, "axis \(axis) out of range for shape \(shape)")
    return (shapeCount(Array(shape[..<ax])), shape[ax], shapeCount(Array(shape[(ax + 1)...])), ax)
}

/// Sum over `axis` (negative counts from the end).
public func sum(_ x: Tensor, axis: Int, keepDims: Bool = false) -> Tensor {
    reduceAxis(x, axis: axis, keepDims: keepDims, scale: 1)
}

/// Mean over `axis` (negative counts from the end).
public func mean(_ x: Tensor, axis: Int, keepDims: Bool = false) -> Tensor {
    let n = axisGeometry(x.shape, axis).n
    return reduceAxis(x, axis: axis, keepDims: keepDims, scale: 1 / Float(n))
}

/// Sum of every element, as a scalar (shape []).
public func sum(_ x: Tensor) -> Tensor { reduceAll(x, scale: 1) }

/// Mean of every element, as a scalar (shape []).
public func mean(_ x: Tensor) -> Tensor { reduceAll(x, scale: 1 / Float(max(x.count, 1))) }

private func reduceAll(_ x: Tensor, scale s: Float) -> Tensor {
    let out = Tensor(shape: [], values: [vsum(x.ptr, x.count) * s])
    Tensor.record(out, inputs: [x]) { g in
        let gx = x.gradPointer(), v = g.ptr[0] * s
        for i in 0..<x.count { gx[i] += v }
    }
    return out
}

private func reduceAxis(_ x: Tensor, axis: Int, keepDims: Bool, scale s: Float) -> Tensor {
    let (outer, n, inner, ax) = axisGeometry(x.shape, axis)
    var shape = x.shape
    if keepDims { shape[ax] = 1 } else { shape.remove(at: ax) }
    let out = Tensor(zeros: shape)
    let px = x.ptr, po = out.ptr
    for o in 0..<outer {
        for j in 0..<n {
            vaxpy(inner, s, px + (o * n + j) * inner, po + o * inner)
        }
    }
    Tensor.record(out, inputs: [x]) { g in
        let gx = x.gradPointer()
        for o in 0..<outer {
            for j in 0..<n { vaxpy(inner, s, g.ptr + o * inner, gx + (o * n + j) * inner) }
        }
    }
    return out
}
