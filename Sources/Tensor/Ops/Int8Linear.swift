// Int8 matrix products for post-training quantization: a Linear weight W (N, K) stored as int8 with one
// symmetric scale per output row, and its input activations rounded to int8 with one calibrated scale per
// tensor. Shapes: x (..., K) -> y (..., N); M = rows of x.
//
//   W[n, k] ~ wq[n, k] * ws[n]        wq in [-127, 127], ws[n] = max_k |W[n, k]| / 127
//   x[m, k] ~ xq[m, k] * xs           xq = clamp(round(x / xs), -127, 127), xs calibrated (or per row: dynamic)
//   y[m, n] = (sum_k xq[m, k] * wq[n, k]) * xs * ws[n] + b[n]
//
// The sum is exact (int32); the weights are never expanded to floats: the kernel reads one byte per weight,
// a quarter of the float path's memory traffic, which is what bounds decoding. The product itself is
// CInt8Kernels' register-blocked kernel over a packed copy of the weight (blocks of 16 outputs x input pairs): a
// dot product per (row, output) pair spent more on its horizontal sum than on the products at K = 64.
import CInt8Kernels

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
    /// `values` in the kernel's layout (`td_int8_pack`: blocks of 16 rows, columns in pairs, zero-padded), made once
    /// here so that no product rearranges or widens the weight.
    let packed: [Int8]

    /// - Precondition: `values.count == rows * columns`, `scales.count == rows`.
    public init(rows: Int, columns: Int, values: [Int8], scales: [Float]) {
        precondition(values.count == rows * columns, "Int8Matrix: \(values.count) values for \(rows) x \(columns)")
        precondition(scales.count == rows, "Int8Matrix: \(scales.count) scales for \(rows) rows")
        self.rows = rows
        self.columns = columns
        self.values = values
        self.scales = scales
        packed = values.withUnsafeBufferPointer { v in
            [Int8](unsafeUninitializedCapacity: td_int8_packed_count(rows, columns)) { out, count in
                td_int8_pack(v.baseAddress, rows, columns, out.baseAddress)
                count = out.count
            }
        }
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

/// `count` floats from `x` rounded to int8 at `scale`: q = round(clamp(x * (1 / scale), -127, 127)), ties to even,
/// NaN to 0. The inputs' rounding (`td_int8_round`, which `int8Linear` calls per row), narrowed: weights and inputs
/// share one formula.
public func quantizeToInt8(_ x: UnsafePointer<Float>, count: Int, scale: Float, into q: UnsafeMutablePointer<Int8>) {
    guard count > 0 else { return }  // an empty allocation may have no address
    withUnsafeTemporaryAllocation(of: Int16.self, capacity: count) { wide in
        td_int8_round(x, count, 1 / scale, wide.baseAddress!)
        for i in 0..<count { q[i] = Int8(truncatingIfNeeded: wide[i]) }  // within -127...127
    }
}

/// y = x W^T + b with W in int8 (`weight`) and x rounded to int8 first (see the top of this file): at the calibrated
/// `inputScale`, or, when it is 0, each row at its own scale max |x_row| / 127 found at run time (dynamic: a token
/// whose activations are far larger than the others' does not take the others' resolution). Inference only: the
/// result records no gradient. Each output is `Float(sum) * (weight.scales[j] * rowScale[i]) + b[j]`, the int32 sum
/// exact, on every CPU path alike.
/// - Precondition: x's last dimension equals `weight.columns`; `inputScale` >= 0; bias has `weight.rows` values.
public func int8Linear(_ x: Tensor, weight: Int8Matrix, inputScale: Float, bias: Tensor? = nil) -> Tensor {
    let k = weight.columns, n = weight.rows
    precondition(x.lastDim == k, "int8Linear: input width \(x.lastDim) differs from the weight's \(k) columns")
    precondition(inputScale >= 0 && inputScale.isFinite, "int8Linear: input scale \(inputScale) must be 0 (per row) or positive")
    precondition(bias == nil || bias!.count == n, "int8Linear: bias of \(bias!.count) for \(n) outputs")
    let m = x.count / max(k, 1)
    let y = Tensor.uninitialized(Array(x.shape.dropLast()) + [n])
    guard m > 0, n > 0 else { return y }
    // The rounded inputs, int8 values held as int16 (the kernel broadcasts them in pairs), rows padded to an even
    // width with a zero: (M, kp). Scratch on the stack when small (a decoding step's few rows), so no call allocates.
    let kp = (k + 1) & ~1
    let xp = UnsafePointer(x.ptr), yp = y.ptr, biasPointer = bias.map { UnsafePointer($0.ptr) }
    withUnsafeTemporaryAllocation(of: Int16.self, capacity: m * max(kp, 1)) { xqBuffer in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: m) { scaleBuffer in
            let xq = xqBuffer.baseAddress!, rowScales = scaleBuffer.baseAddress!
            Parallel.forRanges(m, work: m * k * 4) { rows in
                for r in rows {
                    var scale = inputScale
                    if scale == 0 {
                        var peak: Float = 0
                        for c in 0..<k { peak = max(peak, abs(xp[r * k + c])) }
                        scale = peak > 0 && peak.isFinite ? peak / 127 : 1
                    }
                    rowScales[r] = scale
                    td_int8_round(xp + r * k, k, 1 / scale, xq + r * kp)
                    if kp > k { xq[r * kp + k] = 0 }
                }
            }
            weight.packed.withUnsafeBufferPointer { wp in
                weight.scales.withUnsafeBufferPointer { ws in
                    // Split the blocks of 16 outputs between the cores (not inside a `Parallel.split` share, which
                    // already has its core); each block's weights stay in L1 while every input row passes over them.
                    let blocks = (n + Int(TD_INT8_BLOCK) - 1) / Int(TD_INT8_BLOCK)
                    Parallel.forRanges(blocks, work: m * n * k / 4) { part in
                        td_int8_linear(xq, m, kp, wp.baseAddress, n, part.lowerBound, part.upperBound, rowScales,
                                       ws.baseAddress, biasPointer, yp)
                    }
                }
            }
        }
    }
    return y
}
