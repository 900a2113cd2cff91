import Foundation

/// Dequantization kernels for the ggml block types ModelIO reads, one function per type over `blocks`
/// consecutive blocks, writing `blocks * blockSize` floats. Block layouts are ggml-common.h's `block_q4_0`,
/// `block_q4_1`, `block_q8_0`, `block_q4_K`, `block_q5_K`, `block_q6_K`; the arithmetic is ggml-quants.c's
/// `dequantize_row_*` operation for operation (float32, no fused multiply-add), so results equal gguf-py's
/// `gguf.quants.dequantize` bit for bit. Inner loops are plain fixed-length loops over bytes, which the compiler
/// vectorises.
enum GGMLDequantize {
    // MARK: - Helpers

    /// The IEEE half at byte `offset` of `p`, widened exactly to float32.
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
    }

    @inline(__always)
    static func bytes(_ p: UnsafeRawPointer) -> UnsafePointer<UInt8> { p.assumingMemoryBound(to: UInt8.self) }

    // MARK: - Float types (block size 1)

    /// F32: a straight copy (the host is little-endian, as GGUF v3 files ModelIO reads are).
    @Sendable static func f32(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        memcpy(out, src, n * 4)
    }

    /// F16 -> F32, exact (every half is a float).
    @Sendable static func f16(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        let h = src.assumingMemoryBound(to: UInt16.self)
        if Int(bitPattern: src) % 2 == 0 {
            for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: h[i]))) }
        } else {
            for i in 0..<n { out[i] = half(src, 2 * i) }
        }
    }

    /// BF16 -> F32: the 16 bits are the float's top half (ggml_compute_bf16_to_fp32).
    @Sendable static func bf16(_ src: UnsafeRawPointer, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        if Int(bitPattern: src) % 2 == 0 {
            let h = src.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: h[i])) << 16) }
        } else {
            for i in 0..<n {
                let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        }
    }

    // MARK: - 32-element blocks

    /// Q4_0 (18 bytes): f16 d, 16 bytes of 4-bit q; x = d * (q - 8). Low nibbles are elements 0-15, high 16-31.
    @Sendable static func q4_0(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 18
            let d = half(p, 0)
            let qs = bytes(p + 2)
            let y = out + b * 32
            for j in 0..<16 {
                y[j] = d * Float(Int32(qs[j] & 0x0F) - 8)
                y[j + 16] = d * Float(Int32(qs[j] >> 4) - 8)
            }
        }
    }

    /// Q4_1 (20 bytes): f16 d, f16 m, 16 bytes of 4-bit q; x = d * q + m.
    @Sendable static func q4_1(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 20
            let d = half(p, 0), m = half(p, 2)
            let qs = bytes(p + 4)
            let y = out + b * 32
            for j in 0..<16 {
                y[j] = d * Float(qs[j] & 0x0F) + m
                y[j + 16] = d * Float(qs[j] >> 4) + m
            }
        }
    }

    /// Q8_0 (34 bytes): f16 d, 32 signed bytes q; x = q * d.
    @Sendable static func q8_0(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 34
            let d = half(p, 0)
            let qs = (p + 2).assumingMemoryBound(to: Int8.self)
            let y = out + b * 32
            for j in 0..<32 { y[j] = Float(qs[j]) * d }
        }
    }

    // MARK: - 256-element K-quant blocks

    /// The 6-bit scale and min of sub-block `j` (0-7) from a K-quant's 12 packed bytes (get_scale_min_k4).
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    /// Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for 8 sub-blocks of 32, 128 bytes of
    /// 4-bit q; x = (d * scale) * q - (dmin * min). Each 32 bytes of q hold two sub-blocks: low nibbles, then high.
    @Sendable static func q4_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 144
            let d = half(p, 0), dmin = half(p, 2)
            let scales = bytes(p + 4)
            let y = out + b * 256
            for j in 0..<4 {
                let q = bytes(p + 16 + 32 * j)
                let (s1, m1) = scaleMin(2 * j, scales), (s2, m2) = scaleMin(2 * j + 1, scales)
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                let d2 = d * Float(s2), min2 = dmin * Float(m2)
                let y1 = y + 64 * j, y2 = y + 64 * j + 32
                for l in 0..<32 {
                    y1[l] = d1 * Float(q[l] & 0x0F) - min1
                    y2[l] = d2 * Float(q[l] >> 4) - min2
                }
            }
        }
    }

    /// Q5_K (176 bytes): f16 d, f16 dmin, 12 bytes of scales and mins, 32 bytes qh (the fifth bit: bit k of
    /// qh[l] belongs to sub-block k), 128 bytes of low 4-bit q; x = (d * scale) * q - (dmin * min).
    @Sendable static func q5_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 176
            let d = half(p, 0), dmin = half(p, 2)
            let scales = bytes(p + 4)
            let qh = bytes(p + 16)
            let y = out + b * 256
            for j in 0..<4 {
                let ql = bytes(p + 48 + 32 * j)
                let (s1, m1) = scaleMin(2 * j, scales), (s2, m2) = scaleMin(2 * j + 1, scales)
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                let d2 = d * Float(s2), min2 = dmin * Float(m2)
                let shift1 = UInt8(2 * j), shift2 = UInt8(2 * j + 1)
                let y1 = y + 64 * j, y2 = y + 64 * j + 32
                for l in 0..<32 {
                    let h1 = ((qh[l] >> shift1) & 1) << 4, h2 = ((qh[l] >> shift2) & 1) << 4
                    y1[l] = d1 * Float((ql[l] & 0x0F) | h1) - min1
                    y2[l] = d2 * Float((ql[l] >> 4) | h2) - min2
                }
            }
        }
    }

    /// Q6_K (210 bytes): 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 signed 8-bit scales (one per
    /// 16 elements), f16 d; x = (d * scale) * (q - 32). Each half of 128 elements takes 64 bytes of ql and 32 of qh.
    @Sendable static func q6_K(_ src: UnsafeRawPointer, _ blocks: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 210
            let d = half(p, 208)
            let sc = (p + 192).assumingMemoryBound(to: Int8.self)
            for n in 0..<2 {
                let ql = bytes(p + 64 * n), qh = bytes(p + 128 + 32 * n)
                let s = sc + 8 * n
                let ds = (d * Float(s[0]), d * Float(s[1]), d * Float(s[2]), d * Float(s[3]),
                      d * Float(s[4]), d * Float(s[5]), d * Float(s[6]), d * Float(s[7]))
                let y = out + b * 256 + 128 * n
                for l in 0..<32 {
                    let q1 = Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
                    let q2 = Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                    let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                    let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                    let upper = l >= 16
                    y[l] = (upper ? ds.1 : ds.0) * Float(q1)
                    y[l + 32] = (upper ? ds.3 : ds.2) * Float(q2)
                    y[l + 64] = (upper ? ds.5 : ds.4) * Float(q3)
                    y[l + 96] = (upper ? ds.7 : ds.6) * Float(q4)
                }
            }
        }
    }
}
