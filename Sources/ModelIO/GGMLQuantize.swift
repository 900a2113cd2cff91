/// Quantization kernels for the ggml types the GGUF exporter writes, the inverse of `GGMLDequantize`: one function
/// per type over `blocks` consecutive blocks of float32 input, writing `blocks * bytesPerBlock` bytes. The
/// arithmetic is gguf-py's `gguf.quants` (`Q8_0.quantize_blocks`, `Q4_0.quantize_blocks`, numpy's float16 cast)
/// operation for operation in float32, so the bytes equal `gguf.quants.quantize` for the same input; ggml-quants.c's
/// `quantize_row_q8_0_ref` gives the same bytes, `quantize_row_q4_0_ref` the same up to its FMA-dependent rounding.
enum GGMLQuantize {
    /// Stores `v` as a little-endian IEEE half (round to nearest even, as numpy's `astype(np.float16)`).
    @inline(__always)
    static func storeHalf(_ v: Float, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    // MARK: - Float types (block size 1)

    /// F32: a straight copy (GGUF v3 is little-endian, as the host is).
    @Sendable static func f32(_ src: UnsafePointer<Float>, _ n: Int, _ out: UnsafeMutableRawPointer) {
        out.copyMemory(from: src, byteCount: n * 4)
    }

    /// F32 -> F16, rounded to nearest even (values past 65504 become infinities, as in numpy).
    @Sendable static func f16(_ src: UnsafePointer<Float>, _ n: Int, _ out: UnsafeMutableRawPointer) {
        for i in 0..<n { storeHalf(src[i], out, 2 * i) }
    }

    // MARK: - 32-element blocks

    /// Q8_0 (34 bytes): d = max|x| / 127 as f16, then q = round(x / d) (half away from zero, gguf-py's `np_roundf`)
    /// as 32 int8. The quants use the float32 d; the file holds d rounded to half.
    @Sendable static func q8_0(_ src: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutableRawPointer) {
        for b in 0..<blocks {
            let x = src + b * 32, p = out + b * 34
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[j])) }
            let d = amax / 127
            // a block of magnitudes below ~1e-37 has a d whose reciprocal overflows: its half d is 0, so its quants are 0
            let id: Float = d == 0 || !(1 / d).isFinite ? 0 : 1 / d
            storeHalf(d, p, 0)
            let qs = (p + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 {
                // np_roundf: floor(a) + floor(2 * (a - floor(a))), signed
                let v = x[j] * id, a = abs(v), floored = a.rounded(.down)
                let r = floored + (2 * (a - floored)).rounded(.down)
                qs[j] = Int8(v < 0 ? -r : r)
            }
        }
    }

    /// Q4_0 (18 bytes): d = m / -8 as f16, where m is the element of largest magnitude with its sign (the first
    /// such), then q = min(15, trunc(x / d + 8.5)) as nibbles: element j in the low nibble of byte j, element
    /// j + 16 in its high nibble. Dequantized, x = d * (q - 8).
    @Sendable static func q4_0(_ src: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutableRawPointer) {
        for b in 0..<blocks {
            let x = src + b * 32, p = out + b * 18
            var amax = abs(x[0]), m = x[0]
            for j in 1..<32 where abs(x[j]) > amax {  // strictly greater: the first of equal magnitudes, as argmax
                amax = abs(x[j])
                m = x[j]
            }
            let d = m / -8
            // a block of magnitudes below ~1e-37 has a d whose reciprocal overflows: its half d is 0, so its quants are 0
            let id: Float = d == 0 || !(1 / d).isFinite ? 0 : 1 / d
            storeHalf(d, p, 0)
            let qs = (p + 2).assumingMemoryBound(to: UInt8.self)
            @inline(__always) func nibble(_ v: Float) -> UInt8 {
                // x * id lies in [-8, 8] (0 when id is), so v + 8.5 is in [0.5, 16.5]: the conversion cannot trap
                min(15, UInt8((v * id + 8.5).rounded(.towardZero)))
            }
            for j in 0..<16 { qs[j] = nibble(x[j]) | nibble(x[j + 16]) << 4 }
        }
    }
}
