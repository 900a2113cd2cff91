import Foundation
import Tensor
import Testing
import TestSupport

// fewRowProduct (Sources/Tensor/Ops/FewRowProduct.swift), the decoding steps' y = x W^T without packing, against a
// double-precision product computed here term by term, at shapes whose K and N are not multiples of either vector
// width (16, 8) nor of the 4-row blocks, M = 1, 3, 16, 17 (a whole tile, a partial one, and both), with row
// strides wider than the rows; both kernels (AVX-512's 16 lanes and AVX2's 8) run on any x86-64 CPU with AVX2.
// Tolerance: a float32 sum of K products accumulated in 16 or 8 lanes (K / lanes + 4 additions deep, at most 41
// here) is off by at most about 41 * 6e-8 * sum_k |x_k w_k|; the test allows 8e-6 * sum_k |x_k w_k|, while one
// wrong or missing term moves a sum by about sum_k |x_k w_k| / K, at least 1.7e-3 of it at these K.

@Suite("Few-row product")
struct FewRowProductTests {
    /// y = x W^T in double precision, and the sum of |x_ik w_jk| that bounds float32 rounding.
    static func reference(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int, ldx: Int, ldw: Int) -> (y: [Double], scale: [Double]) {
        var y = [Double](repeating: 0, count: m * n), scale = y
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k {
                    let t = Double(x[i * ldx + p]) * Double(w[j * ldw + p])
                    y[i * n + j] += t
                    scale[i * n + j] += abs(t)
                }
            }
        }
        return (y, scale)
    }

    static func run(m: Int, n: Int, k: Int, ldx: Int, ldw: Int, ldy: Int, kernel: FewRowKernel, seed: UInt64) -> [Float] {
        let x = randomNormal([m, ldx], seed: seed).toArray(), w = randomNormal([n, ldw], seed: seed + 1).toArray()
        var y = [Float](repeating: .nan, count: m * ldy)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    fewRowProduct(m: m, n: n, k: k, x: xp.baseAddress!, ldx: ldx, w: wp.baseAddress!, ldw: ldw,
                                  y: yp.baseAddress!, ldy: ldy, kernel: kernel)
                }
            }
        }
        return y
    }

    @Test("y = x W^T equals a double-precision product at odd K and N, M = 1, 3, 16, 17, strided rows, both vector widths",
          arguments: [FewRowKernel.wide, .narrow])
    func againstDouble(kernel: FewRowKernel) {
        for (m, n, k) in [(1, 37, 53), (3, 37, 53), (16, 101, 77), (17, 6, 581), (16, 1, 16), (17, 43, 7), (3, 1539, 39)] {
            let ldx = k + 3, ldw = k + 5, ldy = n + 2
            let seed = UInt64(m * 1000 + n)
            let x = randomNormal([m, ldx], seed: seed).toArray(), w = randomNormal([n, ldw], seed: seed + 1).toArray()
            let y = Self.run(m: m, n: n, k: k, ldx: ldx, ldw: ldw, ldy: ldy, kernel: kernel, seed: seed)
            let (expected, scale) = Self.reference(x, w, m: m, n: n, k: k, ldx: ldx, ldw: ldw)
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    let e = abs(Double(y[i * ldy + j]) - expected[i * n + j]) / (scale[i * n + j] * 8e-6 + 1e-30)
                    worst = max(worst, e)
                }
                // the padding between rows of y is never written
                for j in n..<ldy { #expect(y[i * ldy + j].isNaN, "m \(m) n \(n) k \(k): y[\(i), \(j)] past N was written") }
            }
            #expect(worst <= 1, "m \(m) n \(n) k \(k): error \(worst) times the float32 bound")
        }
    }

    @Test("a row's results do not depend on the rows it shares the product with (one prompt alone decodes as in a batch)",
          arguments: [FewRowKernel.wide, .narrow])
    func rowIndependence(kernel: FewRowKernel) {
        let (m, n, k) = (17, 45, 579)
        let x = randomNormal([m, k], seed: 5).toArray(), w = randomNormal([n, k], seed: 6).toArray()
        func product(_ rows: [Float], _ count: Int) -> [Float] {
            var y = [Float](repeating: 0, count: count * n)
            rows.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    y.withUnsafeMutableBufferPointer { yp in
                        fewRowProduct(m: count, n: n, k: k, x: xp.baseAddress!, ldx: k, w: wp.baseAddress!, ldw: k, y: yp.baseAddress!, ldy: n,
                                      kernel: kernel)
                    }
                }
            }
            return y
        }
        let all = product(x, m)
        for i in 0..<m {
            let alone = product(Array(x[(i * k)..<((i + 1) * k)]), 1)
            #expect(alone.map(\.bitPattern) == all[(i * n)..<((i + 1) * n)].map(\.bitPattern), "row \(i)")
        }
    }

    @Test("the two threads' blocks of a large product equal the one-thread result bit for bit, and sgemm within rounding")
    func largeProduct() {
        let (m, n, k) = (16, 1030, 576)  // 9.5M multiply-adds: split across the cores
        let x = randomNormal([m, k], seed: 7), w = randomNormal([n, k], seed: 8)
        var y = [Float](repeating: 0, count: m * n)
        y.withUnsafeMutableBufferPointer { yp in
            fewRowProduct(m: m, n: n, k: k, x: x.ptr, ldx: k, w: w.ptr, ldw: k, y: yp.baseAddress!, ldy: n)
        }
        let reference = matmul(x, w, transposeB: true).toArray()  // sgemm
        allClose(y, reference, rtol: 1e-4, atol: 1e-4, "against sgemm")
        // one row at a time never splits (under 1M multiply-adds): the same bits
        for i in [0, 7, 15] {
            var one = [Float](repeating: 0, count: n)
            one.withUnsafeMutableBufferPointer { yp in
                fewRowProduct(m: 1, n: n, k: k, x: x.ptr + i * k, ldx: k, w: w.ptr, ldw: k, y: yp.baseAddress!, ldy: n)
            }
            #expect(one.map(\.bitPattern) == y[(i * n)..<((i + 1) * n)].map(\.bitPattern), "row \(i)")
        }
    }

    @Test("linear uses the kernel only inside a decoding step without gradients, over weights of at least minimumWeightBytes; both paths give x W^T + b")
    func linearDispatch() {
        // 1,639 x 40 floats: just over the 256 KB threshold
        let n = FewRowProduct.minimumWeightBytes / (40 * 4) + 1
        let x = randomNormal([2, 3, 40], seed: 9), w = randomNormal([n, 40], seed: 10), b = randomNormal([n], seed: 11)
        let plain = withNoGrad { linear(x, weight: w, bias: b) }
        let decoding = FewRowProduct.$isEnabled.withValue(true) { withNoGrad { linear(x, weight: w, bias: b) } }
        #expect(decoding.shape == [2, 3, n])
        allClose(decoding, plain, rtol: 1e-5, atol: 1e-5)
        #expect(bitPatterns(decoding) != bitPatterns(plain), "the kernel sums in another order than sgemm, so some bit differs when it runs")
        // a weight under the threshold (cache-resident) keeps sgemm's bits while decoding
        let small = randomNormal([21, 40], seed: 13)
        let smallDecoding = FewRowProduct.$isEnabled.withValue(true) { withNoGrad { linear(x, weight: small) } }
        #expect(bitPatterns(smallDecoding) == bitPatterns(withNoGrad { linear(x, weight: small) }))
        // recording gradients, the product stays sgemm's (bit for bit) and has a backward
        let wg = randomNormal([n, 40], seed: 10, requiresGrad: true)
        let recorded = FewRowProduct.$isEnabled.withValue(true) { linear(x, weight: wg, bias: b) }
        #expect(recorded.requiresGrad)
        #expect(bitPatterns(recorded) == bitPatterns(plain))
        // more rows than `maximumRows`: sgemm's bits
        let tall = randomNormal([FewRowProduct.maximumRows + 1, 40], seed: 12)
        let tallDecoding = FewRowProduct.$isEnabled.withValue(true) { withNoGrad { linear(tall, weight: w) } }
        #expect(bitPatterns(tallDecoding) == bitPatterns(withNoGrad { linear(tall, weight: w) }))
    }
}
