// Int8 matrix products for post-training quantization: a Linear weight W (N, K) stored as int8 with one
// symmetric scale per output row, and its input activations rounded to int8 with one calibrated scale per
// tensor. Shapes: x (..., K) -> y (..., N); M = rows of x.
//
//   W[n, k] ~ wq[n, k] * ws[n]        wq in [-127, 127], ws[n] = max_k |W[n, k]| / 127
//   x[m, k] ~ xq[m, k] * xs           xq = clamp(round(x / xs), -127, 127), xs calibrated (or per row: dynamic)
//   y[m, n] = (sum_k xq[m, k] * wq[n, k]) * xs * ws[n] + b[n]
//
// The sum is exact (int32); the weights are never expanded to floats: the kernel reads one byte per weight,
// a quarter of the float path's memory traffic, which is what bounds decoding.

/// A Linear weight (rows = outputs, columns = inputs) as int8 values with a scale per row.
public struct Int8Matrix: Sendable, Equatable {
    /// Output features N.
    public let rows: Int
    /// Input features K.
    public let columns: Int
    /// N * K values, row-major, each in -127...127.
    public let values: [Int8]
    /// One scale per row: the row's float values are `values * scale`.
    public let scales: [Float]

    /// - Precondition: `values.count == rows * columns`, `scales.count == rows`.
    public init(rows: Int, columns: Int, values: [Int8], scales: [Float]) {
        precondition(values.count == rows * columns, "Int8Matrix: \(values.count) values for \(rows) x \(columns)")
        precondition(scales.count == rows, "Int8Matrix: \(scales.count) scales for \(rows) rows")
        self.rows = rows
        self.columns = columns
        self.values = values
        self.scales = scales
    }

    /// Symmetric per-row quantization of a float weight (rows x columns, row-major): each row's scale is its
    /// largest magnitude / 127 (1 for a row of zeros), values round to nearest (ties to even).
    public static func quantizing(_ w: UnsafePointer<Float>, rows: Int, columns: Int) -> Int8Matrix {
        var values = [Int8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 1, count: rows)
        values.withUnsafeMutableBufferPointer { q in
            for r in 0..<rows {
                let row = w + r * columns
                var peak: Float = 0
                for c in 0..<columns { peak = max(peak, abs(row[c])) }
                let scale = peak > 0 ? peak / 127 : 1
                scales[r] = scale
                quantizeToInt8(row, count: columns, scale: scale, into: q.baseAddress! + r * columns)
            }
        }
        return Int8Matrix(rows: rows, columns: columns, values: values, scales: scales)
    }

    /// The float weight these values stand for (rows x columns), for checks and export.
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows {
            for c in 0..<columns { out[r * columns + c] = Float(values[r * columns + c]) * scales[r] }
        }
        return out
    }

    /// Bytes of storage: one per value and four per scale.
    public var byteCount: Int { values.count + 4 * scales.count }
}

/// `count` floats from `x` rounded to int8 at `scale`: q = round(clamp(x / scale, -127, 127)), ties to even, NaN
/// to 0 (a branch-free loop the compiler vectorizes).
@inline(__always)
public func quantizeToInt8(_ x: UnsafePointer<Float>, count: Int, scale: Float, into q: UnsafeMutablePointer<Int8>) {
    let inverse = 1 / scale
    for i in 0..<count {
        let v = x[i] * inverse
        let clamped = v.isNaN ? 0 : (v < -127 ? -127 : (v > 127 ? 127 : v))
        q[i] = Int8(clamped.rounded(.toNearestOrEven))
    }
}

/// Exact dot product of two int8 vectors of length `k` (int32 sum). Written as the plain loop on purpose: LLVM
/// turns this widening multiply-add reduction into vpmaddwd (AVX2 and AVX-512), about 100x faster than the same
/// sum spelled with Swift's SIMD conversion types, which it does not vectorize.
@inline(__always)
func int8Dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ k: Int) -> Int32 {
    var sum: Int32 = 0
    for i in 0..<k { sum &+= Int32(a[i]) &* Int32(b[i]) }
    return sum
}

/// y = x W^T + b with W in int8 (`weight`) and x rounded to int8 first (see the top of this file): at the calibrated
/// `inputScale`, or, when it is 0, each row at its own scale max |x_row| / 127 found at run time (dynamic: a token
/// whose activations are far larger than the others' does not take the others' resolution). Inference only: the
/// result records no gradient.
/// - Precondition: x's last dimension equals `weight.columns`; `inputScale` >= 0; bias has `weight.rows` values.
public func int8Linear(_ x: Tensor, weight: Int8Matrix, inputScale: Float, bias: Tensor? = nil) -> Tensor {
    let k = weight.columns, n = weight.rows
    precondition(x.lastDim == k, "int8Linear: input width \(x.lastDim) differs from the weight's \(k) columns")
    precondition(inputScale >= 0 && inputScale.isFinite, "int8Linear: input scale \(inputScale) must be 0 (per row) or positive")
    precondition(bias == nil || bias!.count == n, "int8Linear: bias of \(bias!.count) for \(n) outputs")
    let m = x.count / max(k, 1)
    let y = Tensor.uninitialized(Array(x.shape.dropLast()) + [n])
    let xq = UnsafeMutablePointer<Int8>.allocate(capacity: max(m * k, 1))
    defer { xq.deallocate() }
    let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: max(m, 1))
    defer { rowScales.deallocate() }
    let xp = UnsafePointer(x.ptr), yp = y.ptr, biasPointer = bias.map { UnsafePointer($0.ptr) }
    Parallel.forRanges(m, work: m * k * 4) { rows in
        for r in rows {
            var scale = inputScale
            if scale == 0 {
                var peak: Float = 0
                for c in 0..<k { peak = max(peak, abs(xp[r * k + c])) }
                scale = peak > 0 && peak.isFinite ? peak / 127 : 1
            }
            rowScales[r] = scale
            quantizeToInt8(xp + r * k, count: k, scale: scale, into: xq + r * k)
        }
    }
    weight.values.withUnsafeBufferPointer { wv in
        weight.scales.withUnsafeBufferPointer { ws in
            let w = wv.baseAddress!, s = ws.baseAddress!
            // Split the outputs between the cores; within a share, blocks of input rows keep their int8 copy in
            // cache while every weight row of the share passes over them.
            Parallel.forRanges(n, work: m * n * k / 4) { outputs in
                let block = 32
                var lo = 0
                while lo < m {
                    let hi = min(m, lo + block)
                    for j in outputs {
                        let row = w + j * k, b = biasPointer?[j] ?? 0
                        for i in lo..<hi { yp[i * n + j] = Float(int8Dot(xq + i * k, row, k)) * (s[j] * rowScales[i]) + b }
                    }
                    lo = hi
                }
            }
        }
    }
    return y
}
