// Vectorised transcendental kernels. The hot elementwise loops (softmax, SiLU, GELU, CE) must not call
// libm per element: these SIMD16 versions are 5-10x faster on AVX-512 and accurate to a few ulp.

/// Lanes processed per SIMD step in the elementwise kernels.
public let simdWidth = 16
public typealias Vec = SIMD16<Float>

/// e^x for each lane (Cephes-style: x = n ln2 + r, degree-6 polynomial for e^r, scale by 2^n).
/// Relative error about 2e-7 for x in [-87.3, 88]; below -87.3 gives 0 (no denormals), above 88
/// gives +inf; NaN propagates.
/// `@_transparent`, not `@inline(__always)`: these kernels are used from other modules (the fused output layer,
/// the losses, the sampler), which can only inline what is `@inlinable`, and even then the optimizer left vexp a
/// call per 16 lanes inside the output layer's large row closures (9.5% of a top-k distillation step at
/// SmolLM2's shape, by perf). Mandatory inlining changes no operation, so no bit.
@_transparent public func vexp(_ x: Vec) -> Vec {
    let lo = Vec(repeating: -87.33654), hi = Vec(repeating: 88.0)
    let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    // n = round(x / ln2) with the 1.5 * 2^23 trick: the low mantissa bits of t hold n as an integer,
    // so no float-to-int conversion (which traps and blocks vectorisation) is needed.
    let magic = Vec(repeating: 12_582_912.0)
    let t = xc * 1.442_695_04 + magic
    let n = t - magic
    // r = x - n*ln2 in two parts for accuracy
    var r = xc - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    let r2 = r * r
    var p = Vec(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_1e-1
    let er = p * r2 + r + 1
    let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((ni &+ 127) &<< 23, to: Vec.self)
    return (er * scale)
        .replacing(with: 0, where: x .< lo)
        .replacing(with: .infinity, where: x .> hi)
        .replacing(with: x, where: x .!= x)
}

/// e^x for one value through the vector kernel (for tails and scalar code paths that must agree).
@inlinable @inline(__always) public func fexp(_ x: Float) -> Float { vexp(Vec(repeating: x))[0] }

// The kernels below take the per-vector function `f` as a closure. Pass a local `@_transparent` function (or a global
// one such as `vexp`), never a closure literal: Swift 6.3's optimizer (-O -wmo) left a closure literal, even
// `{ $0 * s }`, as a call per 16 lanes with its arguments split into 128-bit quarters (a token's log-sum-exp over
// 49,152 logits ran about 4x slower so, by perf, 2026-12-07). A local `@inline(__always)` function was inlined where
// its body held one exp and still left as a call in the fused output layer's rows where it held two;
// `@_transparent` (mandatory inlining) was inlined everywhere (objdump).

/// Applies `f` over `n` elements from `x` into `y`, 16 lanes at a time with a masked tail.
@inlinable @inline(__always)
public func mapVec(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ f: (Vec) -> Vec) {
    var i = 0
    while i + simdWidth <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: f(v), as: Vec.self)
        i += simdWidth
    }
    if i < n {
        var v = Vec()
        for j in 0..<(n - i) { v[j] = x[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { y[i + j] = r[j] }
    }
}

/// Applies `f` from `x` into `y` like `mapVec` and returns the sum of the outputs (one pass).
@inlinable @inline(__always)
public func mapVecSum(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ f: (Vec) -> Vec) -> Float {
    var acc = Vec()
    var i = 0
    while i + simdWidth <= n {
        let r = f(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self))
        UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: Vec.self)
        acc += r
        i += simdWidth
    }
    var s = laneSum(acc)
    if i < n {
        var v = Vec()
        for j in 0..<(n - i) { v[j] = x[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { y[i + j] = r[j]; s += r[j] }
    }
    return s
}

/// `y[i] = e^(x[i] - shift)` for `i < n`, returning their sum: a softmax row's numerators and denominator.
@inlinable @inline(__always)
public func expShiftedSum(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, shift: Float) -> Float {
    @_transparent func shiftedExp(_ v: Vec) -> Vec { vexp(v - shift) }
    return mapVecSum(n, x, y, shiftedExp)
}

/// The sum of `e^(x[i] - shift)` over `i < n`: a log-sum-exp's sum.
@inlinable @inline(__always)
public func sumExpShifted(_ n: Int, _ x: UnsafePointer<Float>, shift: Float) -> Float {
    @_transparent func shiftedExp(_ v: Vec, _: Vec) -> Vec { vexp(v - shift) }
    return sumVec2(n, x, x, shiftedExp)
}

/// Sum over `i < n` of `f(x[i], y[i])`, 16 lanes at a time; the tail runs on zero-padded vectors and only
/// its first lanes count, so `f` need not vanish at zero.
@inlinable @inline(__always)
public func sumVec2(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ f: (Vec, Vec) -> Vec) -> Float {
    var acc = Vec()
    var i = 0
    while i + simdWidth <= n {
        acc += f(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self), UnsafeRawPointer(y + i).loadUnaligned(as: Vec.self))
        i += simdWidth
    }
    var s = laneSum(acc)
    if i < n {
        var u = Vec(), v = Vec()
        for j in 0..<(n - i) { u[j] = x[i + j]; v[j] = y[i + j] }
        let r = f(u, v)
        for j in 0..<(n - i) { s += r[j] }
    }
    return s
}

/// The two sums over `i < n` of `f(x[i])`'s parts in one pass, 16 lanes at a time; the tail runs on a zero-padded
/// vector and only its first lanes count.
@inlinable @inline(__always)
public func sumVecPair(_ n: Int, _ x: UnsafePointer<Float>, _ f: (Vec) -> (Vec, Vec)) -> (Float, Float) {
    var acc0 = Vec(), acc1 = Vec()
    var i = 0
    while i + simdWidth <= n {
        let (a, b) = f(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self))
        acc0 += a
        acc1 += b
        i += simdWidth
    }
    var s0 = laneSum(acc0), s1 = laneSum(acc1)
    if i < n {
        var u = Vec()
        for j in 0..<(n - i) { u[j] = x[i + j] }
        let (a, b) = f(u)
        for j in 0..<(n - i) { s0 += a[j]; s1 += b[j] }
    }
    return (s0, s1)
}

/// `out[i] = f(x[i], y[i]).0` for `i < n` and the sum of the `.1` parts, in one pass, 16 lanes at a time (`out` may
/// be `x` or `y`: each step reads its lanes before it writes them).
@inlinable @inline(__always)
public func mapVec2Sum(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                       _ f: (Vec, Vec) -> (Vec, Vec)) -> Float {
    var acc = Vec()
    var i = 0
    while i + simdWidth <= n {
        let (r, a) = f(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self), UnsafeRawPointer(y + i).loadUnaligned(as: Vec.self))
        UnsafeMutableRawPointer(out + i).storeBytes(of: r, as: Vec.self)
        acc += a
        i += simdWidth
    }
    var s = laneSum(acc)
    if i < n {
        var u = Vec(), v = Vec()
        for j in 0..<(n - i) { u[j] = x[i + j]; v[j] = y[i + j] }
        let (r, a) = f(u, v)
        for j in 0..<(n - i) { out[i + j] = r[j]; s += a[j] }
    }
    return s
}

/// `out[i] += f(x[i], y[i])` for `i < n`, 16 lanes at a time with a masked tail.
@inlinable @inline(__always)
public func accumulateVec2(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                           _ f: (Vec, Vec) -> Vec) {
    var i = 0
    while i + simdWidth <= n {
        let r = f(UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self), UnsafeRawPointer(y + i).loadUnaligned(as: Vec.self))
        UnsafeMutableRawPointer(out + i).storeBytes(of: UnsafeRawPointer(out + i).loadUnaligned(as: Vec.self) + r, as: Vec.self)
        i += simdWidth
    }
    if i < n {
        var u = Vec(), v = Vec()
        for j in 0..<(n - i) { u[j] = x[i + j]; v[j] = y[i + j] }
        let r = f(u, v)
        for j in 0..<(n - i) { out[i + j] += r[j] }
    }
}

/// Sum of `n` floats with 16 independent accumulators (relaxed order, vectorises).
@inlinable @inline(__always) public func vsum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec()
    var i = 0
    while i + simdWidth <= n {
        acc += UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
        i += simdWidth
    }
    var s = laneSum(acc)
    while i < n { s += x[i]; i += 1 }
    return s
}

/// The sum of `v`'s lanes, added in lane order from -0: the standard library's `sum()` (Swift 6.3's body, read from its
/// interface), whose generic specialization this toolchain calls out of line (1.2% of the small-shape distillation
/// step by perf, once per row); spelled out here it is inlined, and the bits stay the same.
@_transparent public func laneSum(_ v: Vec) -> Float {
    var s = -Float.zero
    for i in 0..<simdWidth { s += v[i] }
    return s
}

/// The largest lane of `v`, halving in registers: Swift's `max()` walks the lanes one by one through the stack (a
/// scalar loop with a branch per lane, once per softmax row). The same value as `max()` for lanes without NaN.
@inlinable @inline(__always) public func laneMax(_ v: Vec) -> Float {
    let h8 = v.highHalf, l8 = v.lowHalf
    let m8 = l8.replacing(with: h8, where: h8 .> l8)
    let h4 = m8.highHalf, l4 = m8.lowHalf
    let m4 = l4.replacing(with: h4, where: h4 .> l4)
    let h2 = m4.highHalf, l2 = m4.lowHalf
    let m2 = l2.replacing(with: h2, where: h2 .> l2)
    return m2[1] > m2[0] ? m2[1] : m2[0]
}

/// Maximum of `n` floats (n >= 1).
@inlinable @inline(__always) public func vmax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = Vec(repeating: -.infinity)
    var i = 0
    while i + simdWidth <= n {
        // compare-and-blend: SIMD pointwiseMax does not lower to vmaxps and runs ~10x slower
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
        m = m.replacing(with: v, where: v .> m)
        i += simdWidth
    }
    var s = laneMax(m)  // m holds no NaN: `v .> m` never takes one
    while i < n { s = Swift.max(s, x[i]); i += 1 }
    return s
}

/// Dot product of `n` floats with vector accumulators.
@inlinable @inline(__always) public func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec()
    var i = 0
    while i + simdWidth <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: Vec.self) * UnsafeRawPointer(b + i).loadUnaligned(as: Vec.self)
        i += simdWidth
    }
    var s = laneSum(acc)
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// Sum of a[i] * b[i] * c[i] over `n` floats, 16 lanes at a time.
@inlinable @inline(__always) public func vdot3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec()
    var i = 0
    while i + simdWidth <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: Vec.self) * UnsafeRawPointer(b + i).loadUnaligned(as: Vec.self)
            * UnsafeRawPointer(c + i).loadUnaligned(as: Vec.self)
        i += simdWidth
    }
    var s = laneSum(acc)
    while i < n { s += a[i] * b[i] * c[i]; i += 1 }
    return s
}

/// y[i] = alpha * x[i] over `n` floats (y may be x).
@inlinable @inline(__always) public func vscale(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var i = 0
    let a = Vec(repeating: alpha)
    while i + simdWidth <= n {
        UnsafeMutableRawPointer(y + i).storeBytes(of: a * UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self), as: Vec.self)
        i += simdWidth
    }
    while i < n { y[i] = alpha * x[i]; i += 1 }
}

/// y[i] += alpha * x[i] over `n` floats.
@inlinable @inline(__always) public func vaxpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var i = 0
    let a = Vec(repeating: alpha)
    while i + simdWidth <= n {
        let r = UnsafeRawPointer(y + i).loadUnaligned(as: Vec.self) + a * UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: Vec.self)
        i += simdWidth
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}
