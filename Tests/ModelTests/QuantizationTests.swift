import Foundation
import Model
import Tensor
import TestSupport
import Testing

// INT8 post-training quantization (issue 24): per-row symmetric weights, the int8 product against an integer
// reference written here in Int64/Double, activation ranges on hand-made distributions, calibration of a layer's
// input range checked against RMSNorm computed by hand, and a quantized model's forward and KV-cache paths.

@Suite("int8 quantization")
struct QuantizationTests {
    /// rows x columns weights, N(0, 1) scaled per row so the rows' ranges differ by 100x; row 2 all zero.
    private func weights(rows: Int, columns: Int, seed: UInt64) -> [Float] {
        var rng = RandomGenerator(seed: seed)
        var w = (0..<(rows * columns)).map { _ in rng.nextNormal() }
        for r in 0..<rows {
            let gain = Float(pow(10, Double(r % 3) - 1))  // 0.1, 1, 10
            for c in 0..<columns { w[r * columns + c] *= r == 2 ? 0 : gain }
        }
        return w
    }

    @Test("per-row symmetric int8: scale = max|row| / 127, values in -127...127, every value within half a step")
    func quantizeDequantizeBound() {
        let rows = 7, columns = 45
        let w = weights(rows: rows, columns: columns, seed: 3)
        let q = w.withUnsafeBufferPointer { Int8Matrix.quantizing($0.baseAddress!, rows: rows, columns: columns) }
        let back = q.dequantized()
        for r in 0..<rows {
            let row = w[(r * columns)..<((r + 1) * columns)]
            let peak = row.map(abs).max()!
            if peak == 0 {
                #expect(q.scales[r] == 1)
                #expect(q.values[(r * columns)..<((r + 1) * columns)].allSatisfy { $0 == 0 })
                continue
            }
            #expect(q.scales[r] == peak / 127)
            // the largest magnitude lands on +-127 exactly
            #expect(q.values[(r * columns)..<((r + 1) * columns)].map { abs(Int($0)) }.max() == 127)
            for c in 0..<columns {
                let i = r * columns + c
                #expect((-127...127).contains(Int(q.values[i])))
                #expect(abs(Double(w[i]) - Double(back[i])) <= Double(q.scales[r]) / 2 * (1 + 1e-6),
                        "row \(r) col \(c): \(w[i]) -> \(back[i]) with step \(q.scales[r])")
            }
        }
        #expect(q.byteCount == rows * columns + 4 * rows)
    }

    /// x rounded at `scale` as the format defines it: x times the float reciprocal of the scale, clamped to 127,
    /// rounded half to even.
    private func referenceQuantize(_ x: [Float], scale: Float) -> [Int64] {
        let inverse = 1 / scale
        return x.map { v in Int64(max(-127, min(127, Double(v * inverse))).rounded(.toNearestOrEven)) }
    }

    @Test("int8Linear equals the integer sum computed in Int64, and the float product within the rounding bound",
          arguments: [(m: 5, k: 70, n: 9), (m: 40, k: 1536, n: 300), (m: 1, k: 3, n: 2)])
    func int8KernelAgainstReferences(shape: (m: Int, k: Int, n: Int)) {
        let (m, k, n) = shape
        var rng = RandomGenerator(seed: UInt64(m * 1000 + k))
        let x = (0..<(m * k)).map { _ in rng.nextNormal() * 2 }
        let w = weights(rows: n, columns: k, seed: UInt64(n))
        let bias = (0..<n).map { _ in rng.nextNormal() }
        let q = w.withUnsafeBufferPointer { Int8Matrix.quantizing($0.baseAddress!, rows: n, columns: k) }
        // a range below the largest |x|: some inputs clip, as a percentile calibration makes them
        let inputScale = 0.9 * x.map(abs).max()! / 127
        let y = int8Linear(Tensor(shape: [1, m, k], values: x), weight: q, inputScale: inputScale, bias: Tensor(shape: [n], values: bias))
        #expect(y.shape == [1, m, n])
        let xq = referenceQuantize(x, scale: inputScale)
        let out = y.toArray()
        for i in 0..<m {
            for j in 0..<n {
                var sum: Int64 = 0
                for c in 0..<k { sum += xq[i * k + c] * Int64(q.values[j * k + c]) }
                let expected = Double(sum) * Double(inputScale) * Double(q.scales[j]) + Double(bias[j])
                #expect(abs(Double(out[i * n + j]) - expected) <= 1e-5 * max(1, abs(expected)), "y[\(i), \(j)]")
                // against the unquantized product: each term errs by at most |x| dw + |w| dx + dx dw, where the
                // clipped inputs err by their distance to the range
                var exact = Double(bias[j]), bound = 1e-4
                for c in 0..<k {
                    let xv = Double(x[i * k + c]), wv = Double(w[j * k + c])
                    exact += xv * wv
                    let dx = max(Double(inputScale) / 2, abs(xv) - 127 * Double(inputScale)), dw = Double(q.scales[j]) / 2
                    bound += abs(xv) * dw + abs(wv) * dx + dx * dw
                }
                #expect(abs(Double(out[i * n + j]) - exact) <= bound, "y[\(i), \(j)] = \(out[i * n + j]), float product \(exact), bound \(bound)")
            }
        }
    }

    @Test("dynamic rows (input scale 0): each row at its own max |x| / 127; a row 100x larger no longer costs the others their resolution")
    func int8KernelDynamicRows() {
        let m = 4, k = 96, n = 6
        var rng = RandomGenerator(seed: 31)
        var x = (0..<(m * k)).map { _ in rng.nextNormal() }
        for c in 0..<k { x[c] *= 100 }  // row 0: a token with huge activations
        let w = weights(rows: n, columns: k, seed: 8)
        let q = w.withUnsafeBufferPointer { Int8Matrix.quantizing($0.baseAddress!, rows: n, columns: k) }
        let dynamic = int8Linear(Tensor(shape: [m, k], values: x), weight: q, inputScale: 0).toArray()
        let staticScale = x.map(abs).max()! / 127
        let fixed = int8Linear(Tensor(shape: [m, k], values: x), weight: q, inputScale: staticScale).toArray()
        var dynamicError = 0.0, staticError = 0.0
        for i in 0..<m {
            let row = Array(x[(i * k)..<((i + 1) * k)])
            let scale = row.map(abs).max()! / 127
            let xq = referenceQuantize(row, scale: scale)
            for j in 0..<n {
                var sum: Int64 = 0, exact = 0.0
                for c in 0..<k {
                    sum += xq[c] * Int64(q.values[j * k + c])
                    exact += Double(row[c]) * Double(w[j * k + c])
                }
                let expected = Double(sum) * Double(scale) * Double(q.scales[j])
                #expect(abs(Double(dynamic[i * n + j]) - expected) <= 1e-5 * max(1, abs(expected)), "y[\(i), \(j)]")
                if i > 0 {
                    dynamicError = max(dynamicError, abs(Double(dynamic[i * n + j]) - exact))
                    staticError = max(staticError, abs(Double(fixed[i * n + j]) - exact))
                }
            }
        }
        #expect(dynamicError * 10 < staticError, "ordinary rows: dynamic error \(dynamicError), one static scale \(staticError)")
    }

    @Test("the packed kernel gives Float(sum) * (ws[j] * xs[i]) + b[j] bit for bit, the sum as Int64 computes it, where rows, outputs and inputs leave partial tiles",
          arguments: [(m: 1, k: 1, n: 1), (m: 3, k: 63, n: 17), (m: 7, k: 65, n: 15), (m: 8, k: 64, n: 172),
                      (m: 13, k: 129, n: 33), (m: 16, k: 172, n: 64), (m: 2, k: 576, n: 49)])
    func packedKernelBitExact(shape: (m: Int, k: Int, n: Int)) {
        let (m, k, n) = shape
        var rng = RandomGenerator(seed: UInt64(7 * m + 13 * k + n))
        let x = (0..<(m * k)).map { _ in rng.nextNormal() * 3 }
        let w = weights(rows: n, columns: k, seed: UInt64(k))
        let bias = (0..<n).map { _ in rng.nextNormal() }
        let q = w.withUnsafeBufferPointer { Int8Matrix.quantizing($0.baseAddress!, rows: n, columns: k) }
        let calibrated = 0.8 * x.map(abs).max()! / 127
        for (inputScale, withBias) in [(calibrated, true), (Float(0), false), (Float(0), true)] {
            let y = int8Linear(Tensor(shape: [m, k], values: x), weight: q, inputScale: inputScale,
                               bias: withBias ? Tensor(shape: [n], values: bias) : nil).toArray()
            for i in 0..<m {
                let row = Array(x[(i * k)..<((i + 1) * k)])
                let scale = inputScale > 0 ? inputScale : row.map(abs).max()! / 127
                let xq = referenceQuantize(row, scale: scale)
                for j in 0..<n {
                    var sum: Int64 = 0
                    for c in 0..<k { sum += xq[c] * Int64(q.values[j * k + c]) }
                    let expected = Float(sum) * (q.scales[j] * scale) + (withBias ? bias[j] : 0)
                    #expect(y[i * n + j].bitPattern == expected.bitPattern,
                            "y[\(i), \(j)] = \(y[i * n + j]), expected \(expected) (sum \(sum)), scale \(inputScale), bias \(withBias)")
                }
            }
        }
    }

    /// `count` (input at scale 1, its int8 level) pairs from hand-worked edge cases (ties to even, clamps, infinities, NaN,
    /// -0, the floats either side of a tie), cycled in a scattered order.
    static func roundingInputs(_ count: Int) -> [(Float, Int)] {
        let cases: [(Float, Int)] = [(0.5, 0), (1.5, 2), (2.5, 2), (-0.5, 0), (-1.5, -2), (-2.5, -2), (126.5, 126),
                                     (127.5, 127), (-127.5, -127), (200, 127), (-1e30, -127), (.infinity, 127),
                                     (-.infinity, -127), (.nan, 0), (-0.0, 0), (0.49999997, 0), (3.5000002, 4),
                                     (3.5, 4), (4.5, 4)]
        return (0..<count).map { cases[($0 * 5) % cases.count] }
    }

    @Test("rounding the input to int8: ties to even, beyond +-127 and infinities clamped, NaN and -0 to 0, in the vector loops and the tail")
    func inputRoundingEdges() {
        // 37 inputs: two 16-lane or four 8-lane passes and a tail of 5
        let k = 37
        let inputs = Self.roundingInputs(k)
        // the identity as weight: output j is input j's level times 127, times the scales
        var w = [Float](repeating: 0, count: k * k)
        for j in 0..<k { w[j * k + j] = 1 }
        let q = w.withUnsafeBufferPointer { Int8Matrix.quantizing($0.baseAddress!, rows: k, columns: k) }
        let y = int8Linear(Tensor(shape: [1, k], values: inputs.map(\.0)), weight: q, inputScale: 1).toArray()
        for (j, (input, level)) in inputs.enumerated() {
            let expected = Float(level * 127) * (q.scales[j] * 1)
            #expect(y[j].bitPattern == expected.bitPattern, "input \(input) at \(j): \(y[j]), expected level \(level)")
        }
    }

    @Test("the weights' rounding (quantizeToInt8): the same levels as the inputs' edge cases, by hand; nothing for no values")
    func weightRoundingEdges() {
        // 37 values at scale 0.5 (the cases halved, so x * (1 / 0.5) is each case exactly): vector passes and a tail
        let k = 37
        let inputs = Self.roundingInputs(k)
        let x = inputs.map { $0.0 / 2 }
        var q = [Int8](repeating: 99, count: k)
        x.withUnsafeBufferPointer { xp in q.withUnsafeMutableBufferPointer { quantizeToInt8(xp.baseAddress!, count: k, scale: 0.5, into: $0.baseAddress!) } }
        for (j, (input, level)) in inputs.enumerated() { #expect(Int(q[j]) == level, "input \(input) at \(j): \(q[j]), expected \(level)") }
        var untouched: [Int8] = [99]
        x.withUnsafeBufferPointer { xp in untouched.withUnsafeMutableBufferPointer { quantizeToInt8(xp.baseAddress!, count: 0, scale: 1, into: $0.baseAddress!) } }
        #expect(untouched == [99])
    }

    @Test("the largest int8 terms over a long row: 127 * 127 * K and -127 * 127 * K exactly (no int16 or int32 overflow)")
    func packedKernelExtremes() {
        let m = 3, k = 4099, n = 18
        // row 0 all +127 levels, row 1 all -127, row 2 alternating; weight row j all +-127 (sign by j's parity)
        var x = [Float](repeating: 0, count: m * k)
        for c in 0..<k { x[c] = 1; x[k + c] = -1; x[2 * k + c] = c % 2 == 0 ? 1 : -1 }
        var w = [Float](repeating: 0, count: n * k)
        for j in 0..<n { for c in 0..<k { w[j * k + c] = j % 2 == 0 ? 2 : -2 } }
        let q = w.withUnsafeBufferPointer { Int8Matrix.quantizing($0.baseAddress!, rows: n, columns: k) }
        #expect(q.values.allSatisfy { abs(Int($0)) == 127 })
        let inputScale: Float = 1.0 / 127
        let y = int8Linear(Tensor(shape: [m, k], values: x), weight: q, inputScale: inputScale).toArray()
        let full = 127 * 127 * k  // 66,115,571
        for j in 0..<n {
            let sign = j % 2 == 0 ? 1 : -1
            for (i, sum) in [sign * full, -sign * full, sign * 127 * 127].enumerated() {
                let expected = Float(sum) * (q.scales[j] * inputScale)
                #expect(y[i * n + j] == expected, "y[\(i), \(j)] = \(y[i * n + j]), expected \(expected)")
            }
        }
    }

    @Test("activation range: minmax is the largest magnitude, a percentile the nearest-rank value")
    func rangesOfHandMadeDistribution() {
        var rng = RandomGenerator(seed: 9)
        var magnitudes = (1...10_000).map(Float.init)
        for i in stride(from: magnitudes.count - 1, to: 0, by: -1) {  // shuffled: the range must not rely on order
            magnitudes.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        var copy = magnitudes
        #expect(ActivationRange.minMax.range(of: &copy) == 10_000)
        for (p, expected) in [(99.99, 9_999), (99.0, 9_900), (100.0, 10_000), (50.0, 5_000)] {
            copy = magnitudes
            #expect(ActivationRange.percentile(p).range(of: &copy) == Float(expected), "percentile \(p)")
        }
        // one outlier among small values: minmax follows it, the 99th percentile ignores it
        var outlier = [Float](repeating: 0.5, count: 999) + [80]
        #expect(ActivationRange.minMax.range(of: &outlier) == 80)
        #expect(ActivationRange.percentile(99).range(of: &outlier) == 0.5)
        var empty: [Float] = []
        #expect(ActivationRange.minMax.range(of: &empty) == 0)
    }

    @Test("calibration reads a layer's input range: RMSNorm of one-hot-like embeddings, computed by hand")
    func calibrationOfFirstLayerInput() throws {
        let config = TinyModels.config(vocab: 5, hidden: 8, intermediate: 12, layers: 2, heads: 2, kvHeads: 2, qkvBias: false, tied: true)
        let model = try TinyModels.model(config, seed: 4)
        // token t's embedding is (t + 1, 0, ..., 0); the first norm's weight is 1 but 1.5 in coordinate 0
        let e = model.parameters["model.embed_tokens.weight"].ptr
        for t in 0..<5 { for c in 0..<8 { e[t * 8 + c] = c == 0 ? Float(t + 1) : 0 } }
        let norm = model.parameters["model.layers.0.input_layernorm.weight"].ptr
        for c in 0..<8 { norm[c] = c == 0 ? 1.5 : 1 }
        let ranges = try model.quantize(keeping: [], calibration: [[0, 1], [2]], range: .minMax)
        // RMSNorm of (a, 0, ..., 0): a / sqrt(a^2 / 8 + eps) in coordinate 0, times 1.5; largest for a = 3
        let eps = Double(config.rmsNormEps)
        var expected = 0.0
        for a in 1...3 {
            let d = Double(a)
            expected = max(expected, d / (d * d / 8 + eps).squareRoot() * 1.5)
        }
        for name in ["q_proj", "k_proj", "v_proj"] {
            let key = "model.layers.0.self_attn.\(name).weight"
            #expect(abs(Double(ranges[key]!) - expected) <= 1e-5 * expected, "\(key): \(ranges[key]!) vs \(expected)")
            #expect(model.quantizedLinears[key]!.inputScale == ranges[key]! / 127)
        }
        #expect(model.quantizedLinears.count == 14)  // tied: no lm_head to quantize
    }

    @Test("a quantized model: kept layers stay float, logits near the float model's, KV-cache steps equal the full forward")
    func quantizedForwardAndCache() throws {
        let config = TinyModels.config(vocab: 11, hidden: 16, intermediate: 24, layers: 2, heads: 2, kvHeads: 1, qkvBias: true, tied: false)
        let model = try TinyModels.model(config, seed: 11, std: 0.2)
        let tokens: [Int32] = [1, 4, 2, 9, 3, 3, 7, 0]
        let before = model.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
        var rng = RandomGenerator(seed: 5)
        let calibration = (0..<16).map { _ in (0..<12).map { _ in Int32(rng.next() % 11) } }
        let kept = try model.linearWeights(selectedBy: "layers.1") + model.linearWeights(selectedBy: "lm_head")
        try model.quantize(keeping: Set(kept), calibration: calibration, range: .minMax)
        #expect(Set(model.quantizedLinears.keys) == Set(model.linearWeights.map(\.name)).subtracting(kept))
        #expect(model.quantizedLinears.count == 7)
        let after = model.forward(tokens: tokens, batch: 1, length: tokens.count).logits
        let spread = before.map(abs).max()!
        let worst = zip(before, after.toArray()).map { abs($0 - $1) }.max()!
        #expect(worst > 0, "int8 layers must change the logits a little")
        #expect(worst < 0.05 * spread, "largest logit change \(worst) of logits up to \(spread)")
        // the cache path runs the same int8 products: token by token it gives the full forward's logits
        let cache = KVCache(config: config, batch: 1, capacity: tokens.count)
        var stepped: [Float] = []
        for t in tokens { stepped += model.step(cache: cache, rows: [0], tokens: [t], count: 1).toArray() }
        let gap = zip(stepped, after.toArray()).map { abs($0 - $1) }.max()!
        #expect(gap < 1e-4, "KV-cache logits differ from the full forward by \(gap)")
        // weight bytes: the float weights kept, and one byte per int8 value plus the scales
        let int8 = model.quantizedLinears.values
        let floats = Transformer.parameterSpecs(config).filter { model.quantizedLinears[$0.name] == nil }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(model.weightBytes == 4 * floats + int8.reduce(0) { $0 + $1.weight.values.count + 4 * $1.weight.rows + 4 })
        #expect(model.floatParametersKept().count == floats)
    }

    @Test("keep-in-FP32 selectors: embed, lm_head, layers.N and name prefixes; anything else is refused")
    func keepSelectors() throws {
        let untied = try Transformer(config: TinyModels.config(layers: 2, tied: false))
        let tied = try Transformer(config: TinyModels.config(layers: 2, tied: true))
        #expect(try untied.linearWeights(selectedBy: "embed").isEmpty)
        #expect(try untied.linearWeights(selectedBy: "lm_head") == ["lm_head.weight"])
        #expect(try tied.linearWeights(selectedBy: "lm_head").isEmpty)
        #expect(try untied.linearWeights(selectedBy: "layers.1").count == 7)
        #expect(try untied.linearWeights(selectedBy: "model.layers.0.mlp") == ["model.layers.0.mlp.gate_proj.weight",
                                                                               "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight"])
        for bad in ["layers.2", "model.layers.0.ml", "attention"] {
            #expect(throws: QuantizationError.self, "\(bad)") { try untied.linearWeights(selectedBy: bad) }
        }
        do {
            _ = try untied.linearWeights(selectedBy: "layers.2")
        } catch let e as QuantizationError {
            #expect(e.message.contains("0...1"))
        }
        #expect(throws: QuantizationError.self) { try untied.quantize(keeping: [], calibration: [], range: .minMax) }
        #expect(throws: QuantizationError.self) { try untied.quantize(keeping: [], calibration: [[]], range: .minMax) }
    }
}
