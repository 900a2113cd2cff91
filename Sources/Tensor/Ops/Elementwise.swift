import Foundation

// Elementwise ops. Binary ops broadcast over leading dims: the smaller operand's shape must equal a
// suffix of the larger one's (a bias (C) against (B, T, C), a per-row scale (B, T, 1) is not supported).
// Shapes: n = elements of the output, inner = elements of the smaller operand, outer = n / inner.

private func broadcastPlan(_ a: Tensor, _ b: Tensor, _ op: String) -> (shape: [Int], inner: Int) {
    if a.shape == b.shape { return (a.shape, a.count) }
    let (big, small) = a.count >= b.count ? (a, b) : (b, a)
    precondition(small.rank <= big.rank && Array(big.shape.suffix(small.rank)) == small.shape,
                 "\(op): shape \(small.shape) does not broadcast against \(big.shape) (must be a suffix)")
    return (big.shape, small.count)
}

/// Accumulates `scale * g * factor` (g: the output gradient, n elements) into operand `t`'s gradient.
/// `t` and `factor` may each be full size (n) or broadcast (a suffix, repeated over the leading dims);
/// a broadcast operand's gradient is summed over the leading dims.
@inline(__always)
private func accumulateBroadcast(_ t: Tensor, _ g: UnsafePointer<Float>, _ n: Int, scale: Float = 1,
                                 factor: Tensor? = nil) {
    guard let factor else {
        if t.count == n {
            let (gt, fresh) = t.gradForWrite()
            if fresh { vscale(n, scale, g, gt) } else { vaxpy(n, scale, g, gt) }
            return
        }
        let gt = t.gradPointer()
        var o = 0
        while o < n { vaxpy(t.count, scale, g + o, gt); o += t.count }
        return
    }
    let gt = t.gradPointer()
    let tc = t.count, fc = factor.count, f = factor.ptr
    if tc == n && fc == n {
        for i in 0..<n { gt[i] += scale * g[i] * f[i] }
        return
    }
    var o = 0  // one operand repeats every `inner` elements
    let inner = min(tc, fc)
    while o < n {
        for i in 0..<inner {
            gt[tc == n ? o + i : i] += scale * g[o + i] * f[fc == n ? o + i : i]
        }
        o += inner
    }
}

/// a + b (broadcast over leading dims).
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (shape, _) = broadcastPlan(a, b, "add")
    let out = Tensor.uninitialized(shape)
    binaryForward(a, b, out) { $0 + $1 }
    Tensor.record(out, inputs: [a, b]) { g in
        // a residual stream's first gradient is the output's own (nothing reads g after this op)
        if a.requiresGrad && !a.adoptGradient(g) { accumulateBroadcast(a, g.ptr, g.count) }
        if b.requiresGrad { accumulateBroadcast(b, g.ptr, g.count) }
    }
    return out
}

/// a - b (broadcast over leading dims).
public func sub(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (shape, _) = broadcastPlan(a, b, "sub")
    let out = Tensor.uninitialized(shape)
    binaryForward(a, b, out) { $0 - $1 }
    Tensor.record(out, inputs: [a, b]) { g in
        if a.requiresGrad { accumulateBroadcast(a, g.ptr, g.count) }
        if b.requiresGrad { accumulateBroadcast(b, g.ptr, g.count, scale: -1) }
    }
    return out
}

/// a * b elementwise (broadcast over leading dims).
public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (shape, _) = broadcastPlan(a, b, "mul")
    let out = Tensor.uninitialized(shape)
    binaryForward(a, b, out) { $0 * $1 }
    Tensor.record(out, inputs: [a, b]) { g in
        // d(a*b)/da = b, taken at b's own (possibly broadcast) index
        if a.requiresGrad { accumulateBroadcast(a, g.ptr, g.count, factor: b) }
        if b.requiresGrad { accumulateBroadcast(b, g.ptr, g.count, factor: a) }
    }
    return out
}

/// a / b elementwise (broadcast over leading dims).
public func div(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (shape, _) = broadcastPlan(a, b, "div")
    let out = Tensor.uninitialized(shape)
    binaryForward(a, b, out) { $0 / $1 }
    Tensor.record(out, inputs: [a, b]) { g in
        let n = g.count
        if a.requiresGrad {
            let ga = a.gradPointer()
            for i in 0..<n { ga[i % a.count] += g.ptr[i] / b.ptr[i % b.count] }
        }
        if b.requiresGrad {  // d(a/b)/db = -a / b^2
            let gb = b.gradPointer()
            for i in 0..<n {
                let bv = b.ptr[i % b.count]
                gb[i % b.count] -= g.ptr[i] * a.ptr[i % a.count] / (bv * bv)
            }
        }
    }
    return out
}

@inline(__always)
private func binaryForward(_ a: Tensor, _ b: Tensor, _ out: Tensor, _ f: (Vec, Vec) -> Vec) {
    let n = out.count
    let pa = a.ptr, pb = b.ptr, po = out.ptr
    if a.count == b.count {
        var i = 0
        while i + simdWidth <= n {
            let r = f(UnsafeRawPointer(pa + i).loadUnaligned(as: Vec.self), UnsafeRawPointer(pb + i).loadUnaligned(as: Vec.self))
            UnsafeMutableRawPointer(po + i).storeBytes(of: r, as: Vec.self)
            i += simdWidth
        }
        while i < n { po[i] = f(Vec(repeating: pa[i]), Vec(repeating: pb[i]))[0]; i += 1 }
        return
    }
    let aSmall = a.count < b.count
    let inner = aSmall ? a.count : b.count
    var o = 0
    while o < n {
        for i in 0..<inner {
            let x = aSmall ? pa[i] : pa[o + i], y = aSmall ? pb[o + i] : pb[i]
            po[o + i] = f(Vec(repeating: x), Vec(repeating: y))[0]
        }
        o += inner
    }
}

/// s * x.
public func scale(_ x: Tensor, _ s: Float) -> Tensor {
    let out = Tensor.uninitialized(x.shape)
    vscale(x.count, s, x.ptr, out.ptr)
    Tensor.record(out, inputs: [x]) { g in vaxpy(g.count, s, g.ptr, x.gradPointer()) }
    return out
}

/// x + s for a scalar s.
public func addScalar(_ x: Tensor, _ s: Float) -> Tensor {
    let out = Tensor.uninitialized(x.shape)
    @_transparent func shifted(_ v: Vec) -> Vec { v + s }  // not a closure literal: see FastMath
    mapVec(x.count, x.ptr, out.ptr, shifted)
    Tensor.record(out, inputs: [x]) { g in vaxpy(g.count, 1, g.ptr, x.gradPointer()) }
    return out
}

/// -x.
public func neg(_ x: Tensor) -> Tensor { scale(x, -1) }

/// Applies a vector function forward and, in backward, multiplies the output gradient by a derivative
/// computed from the saved input x and output y. Callers pass `f` as a global or local `@_transparent` function: a
/// closure literal stays a call per 16 lanes (see FastMath).
@inline(__always)
private func unary(_ x: Tensor, _ f: (Vec) -> Vec, derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
    let out = Tensor.uninitialized(x.shape)
    Parallel.forRanges(x.count, work: x.count * 8) { r in
        mapVec(r.count, x.ptr + r.lowerBound, out.ptr + r.lowerBound, f)
    }
    let saved = out.detached()
    Tensor.record(out, inputs: [x]) { g in
        let gx = x.gradPointer()
        for i in 0..<g.count { gx[i] += g.ptr[i] * derivative(x.ptr[i], saved.ptr[i]) }
    }
    return out
}

/// e^x.
public func exp(_ x: Tensor) -> Tensor { unary(x, vexp) { _, y in y } }

/// Natural logarithm.
public func log(_ x: Tensor) -> Tensor {
    @_transparent func lanes(_ v: Vec) -> Vec {
        var r = v
        for i in 0..<simdWidth { r[i] = Foundation.log(v[i]) }
        return r
    }
    return unary(x, lanes, derivative: { x, _ in 1 / x })
}

/// tanh(x) = 1 - 2 / (e^{2x} + 1).
@inline(__always) public func vtanh(_ v: Vec) -> Vec { 1 - 2 / (vexp(2 * v) + 1) }

/// Logistic sigmoid 1 / (1 + e^{-x}).
@inline(__always) public func vsigmoid(_ v: Vec) -> Vec { 1 / (1 + vexp(-v)) }

/// Hyperbolic tangent.
public func tanh(_ x: Tensor) -> Tensor { unary(x, vtanh) { _, y in 1 - y * y } }

/// Logistic sigmoid.
public func sigmoid(_ x: Tensor) -> Tensor { unary(x, vsigmoid) { _, y in y * (1 - y) } }

/// SiLU (swish): x * sigmoid(x).
public func silu(_ x: Tensor) -> Tensor {
    @_transparent func lanes(_ v: Vec) -> Vec { v * vsigmoid(v) }
    return unary(x, lanes) { x, _ in
        let s = 1 / (1 + fexp(-x))
        return s * (1 + x * (1 - s))
    }
}

private let geluC: Float = 0.797_884_56  // sqrt(2 / pi)

/// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (PyTorch approximate="tanh").
public func gelu(_ x: Tensor) -> Tensor {
    @_transparent func lanes(_ v: Vec) -> Vec { 0.5 * v * (1 + vtanh(geluC * (v + 0.044715 * v * v * v))) }
    return unary(x, lanes) { x, _ in
        let u = geluC * (x + 0.044715 * x * x * x)
        let t = vtanh(Vec(repeating: u))[0]
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * geluC * (1 + 3 * 0.044715 * x * x)
    }
}

/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor {
    @_transparent func lanes(_ v: Vec) -> Vec { v.replacing(with: 0, where: v .< 0) }
    return unary(x, lanes) { x, _ in x > 0 ? 1 : 0 }
}

/// Each element limited to [low, high]; the gradient passes only where x was inside (PPO's clip).
public func clamp(_ x: Tensor, min low: Float, max high: Float) -> Tensor {
    precondition(low <= high, "clamp: min \(low) > max \(high)")
    @_transparent func lanes(_ v: Vec) -> Vec {
        v.replacing(with: Vec(repeating: low), where: v .< low).replacing(with: Vec(repeating: high), where: v .> high)
    }
    return unary(x, lanes) { x, _ in (x >= low && x <= high) ? 1 : 0 }
}

/// Elementwise minimum of two same-shape tensors; the gradient goes to the smaller (to `a` on ties).
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { select(a, b, "minimum") { $0 <= $1 } }

/// Elementwise maximum of two same-shape tensors; the gradient goes to the larger (to `a` on ties).
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { select(a, b, "maximum") { $0 >= $1 } }

private func select(_ a: Tensor, _ b: Tensor, _ op: String, _ takeA: @escaping (Float, Float) -> Bool) -> Tensor {
    precondition(a.shape == b.shape, "\(op): shapes \(a.shape) and \(b.shape) differ")
    let out = Tensor.uninitialized(a.shape)
    for i in 0..<a.count { out.ptr[i] = takeA(a.ptr[i], b.ptr[i]) ? a.ptr[i] : b.ptr[i] }
    Tensor.record(out, inputs: [a, b]) { g in
        let ga = a.requiresGrad ? a.gradPointer() : nil
        let gb = b.requiresGrad ? b.gradPointer() : nil
        for i in 0..<g.count {
            if takeA(a.ptr[i], b.ptr[i]) { ga?[i] += g.ptr[i] } else { gb?[i] += g.ptr[i] }
        }
    }
    return out
}

/// SwiGLU's gate: silu(gate) * up, fused (one pass forward, one backward, no intermediate tensors).
public func swiglu(gate: Tensor, up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
    let out = Tensor.uninitialized(gate.shape)
    let pg = gate.ptr, pu = up.ptr, po = out.ptr, n = gate.count
    Parallel.forRanges(n, work: n * 8) { r in
        var i = r.lowerBound
        while i + simdWidth <= r.upperBound {
            let g = UnsafeRawPointer(pg + i).loadUnaligned(as: Vec.self), u = UnsafeRawPointer(pu + i).loadUnaligned(as: Vec.self)
            UnsafeMutableRawPointer(po + i).storeBytes(of: g * vsigmoid(g) * u, as: Vec.self)
            i += simdWidth
        }
        while i < r.upperBound {
            let g = pg[i]
            po[i] = g / (1 + fexp(-g)) * pu[i]
            i += 1
        }
    }
    Tensor.record(out, inputs: [gate, up]) { gr in
        // d/dgate = up * s (1 + g (1 - s)), d/dup = g s, s = sigmoid(g)
        let gg = gate.requiresGrad ? gate.gradForWrite() : nil
        let gu = up.requiresGrad ? up.gradForWrite() : nil
        // a fresh gradient buffer is stored into (its old contents count as zero)
        let keepG: Float = gg?.fresh == false ? 1 : 0, keepU: Float = gu?.fresh == false ? 1 : 0
        let go = gr.ptr
        Parallel.forRanges(n, work: n * 10) { r in
            var i = r.lowerBound
            while i + simdWidth <= r.upperBound {
                let g = UnsafeRawPointer(pg + i).loadUnaligned(as: Vec.self), u = UnsafeRawPointer(pu + i).loadUnaligned(as: Vec.self)
                let d = UnsafeRawPointer(go + i).loadUnaligned(as: Vec.self)
                let s = vsigmoid(g)
                if let p = gg?.pointer {
                    let new = d * u * s * (1 + g * (1 - s))
                    let sum = keepG == 0 ? new : UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self) + new
                    UnsafeMutableRawPointer(p + i).storeBytes(of: sum, as: Vec.self)
                }
                if let p = gu?.pointer {
                    let new = d * g * s
                    let sum = keepU == 0 ? new : UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self) + new
                    UnsafeMutableRawPointer(p + i).storeBytes(of: sum, as: Vec.self)
                }
                i += simdWidth
            }
            while i < r.upperBound {
                let g = pg[i], s = 1 / (1 + fexp(-g))
                if let p = gg?.pointer { p[i] = (keepG == 0 ? 0 : p[i]) + go[i] * pu[i] * s * (1 + g * (1 - s)) }
                if let p = gu?.pointer { p[i] = (keepU == 0 ? 0 : p[i]) + go[i] * g * s }
                i += 1
            }
        }
    }
    return out
}
