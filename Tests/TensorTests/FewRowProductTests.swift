import Foundation
import Tensor
import Testing
import TestSupport

// fewRowProduct (Sources/Tensor/Ops/FewRowProduct.swift), the decoding steps' y = x W^T without packing, against a
// double-precision product computed here term by term, at shapes whose K and N are not multiples of either vector
// width (16, 8) nor of the 4-row blocks, M = 1, 3, 16, 17 (a whole tile, a partial one, and both), with row
// strides wider than the rows; the Swift kernels (AVX-512's 16 lanes and AVX2's 8) run on any x86-64 CPU with AVX2,
// and `chains` (C) anywhere (its plain C loops where the build lacks AVX2 and FMA).
// Tolerance: a float32 sum of K products accumulated in 16 or 8 lanes (K / lanes + 4 additions deep, at most 41
// here) is off by at most about 41 * 6e-8 * sum_k |x_k w_k|; the test allows 8e-6 * sum_k |x_k w_k|, while one
// wrong or missing term moves a sum by about sum_k |x_k w_k| / K, at least 1.7e-3 of it at these K. `chains` adds
// the K products one after the other (K additions deep): it is allowed K * 1.2e-7 * sum_k |x_k w_k| (7e-5 at K 581).

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

    /// fewRowProduct of x = randomNormal([m, ldx], seed) and w (randomNormal([n, ldw], seed + 1) unless given) into a
    /// NaN-filled y.
    static func run(m: Int, n: Int, k: Int, ldx: Int, ldw: Int, ldy: Int, kernel: FewRowKernel, seed: UInt64, w given: [Float]? = nil) -> [Float] {
        let x = randomNormal([m, ldx], seed: seed).toArray(), w = given ?? randomNormal([n, ldw], seed: seed + 1).toArray()
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

    @Test("y = x W^T equals a double-precision product at odd K and N, M = 1, 3, 16, 17, strided rows, every kernel",
          arguments: [FewRowKernel.wide, .narrow, .chains])
    func againstDouble(kernel: FewRowKernel) {
        for (m, n, k) in [(1, 37, 53), (3, 37, 53), (16, 101, 77), (17, 6, 581), (16, 1, 16), (17, 43, 7), (3, 1539, 39)] {
            let ldx = k + 3, ldw = k + 5, ldy = n + 2
            let seed = UInt64(m * 1000 + n)
            let x = randomNormal([m, ldx], seed: seed).toArray(), w = randomNormal([n, ldw], seed: seed + 1).toArray()
            let y = Self.run(m: m, n: n, k: k, ldx: ldx, ldw: ldw, ldy: ldy, kernel: kernel, seed: seed)
            let (expected, scale) = Self.reference(x, w, m: m, n: n, k: k, ldx: ldx, ldw: ldw)
            var worst = 0.0
            let relative = kernel == .chains ? Double(k) * 1.2e-7 : 8e-6
            for i in 0..<m {
                for j in 0..<n {
                    let e = abs(Double(y[i * ldy + j]) - expected[i * n + j]) / (scale[i * n + j] * relative + 1e-30)
                    worst = max(worst, e)
                }
                // the padding between rows of y is never written
                for j in n..<ldy { #expect(y[i * ldy + j].isNaN, "m \(m) n \(n) k \(k): y[\(i), \(j)] past N was written") }
            }
            #expect(worst <= 1, "m \(m) n \(n) k \(k): error \(worst) times the float32 bound")
        }
    }

    @Test("a row's results do not depend on the rows it shares the product with (one prompt alone decodes as in a batch)",
          arguments: [FewRowKernel.wide, .narrow, .chains])
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

    @Test("chains: every output has the bits of one fused multiply-add chain along K, at every M to 48 and at 64 and 80 (both tiles, partial vectors, 4 and 5 passes of the rows tile), N and K tails, strided rows")
    func chainsAgainstLoop() {
        // N 45 (6 x 7 + 3, 8 x 5 + 5) and 8, K 579 (8 x 72 + 3) and 7 (under one 8 x 8 block)
        for (n, k) in [(45, 579), (8, 7)] {
            let ldx = k + 2, ldw = k + 1, ldy = n + 3
            let w = randomNormal([n, ldw], seed: 41).toArray()
            for m in Array(1...9) + [15, 16, 17, 24, 33, 48, 64, 80] {
                let x = randomNormal([m, ldx], seed: 42 + UInt64(m)).toArray()
                let y = Self.run(m: m, n: n, k: k, ldx: ldx, ldw: ldw, ldy: ldy, kernel: .chains, seed: 42 + UInt64(m), w: w)
                var wrong = 0
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Float = 0
                        for c in 0..<k { s.addProduct(x[i * ldx + c], w[j * ldw + c]) }
                        if s.bitPattern != y[i * ldy + j].bitPattern { wrong += 1 }
                    }
                    for j in n..<ldy { #expect(y[i * ldy + j].isNaN, "m \(m) n \(n) k \(k): y[\(i), \(j)] past N was written") }
                }
                #expect(wrong == 0, "m \(m) n \(n) k \(k): \(wrong) of \(m * n) outputs differ from the loop")
            }
        }
    }

    @Test("panels: inside a decoding step with the weights packed, `linears` gives every output the bits of one fused multiply-add chain along K, at M 1 to 48 and 64, N and K tails (AVX-512 builds)",
          .enabled(if: FewRowPanels.isAvailable))
    func panelsAgainstLoop() {
        // N 45 (16 x 2 + 13), 16 and 97 (16 x 6 + 1); K 579 (4 x 144 + 3), 70 and 128
        let weights = [randomNormal([45, 579], seed: 51), randomNormal([16, 70], seed: 52), randomNormal([97, 128], seed: 53)]
        let set = FewRowPanelSet(weights)
        for w in weights { #expect(set.panels(for: w) != nil, "weight \(w.shape) not packed") }
        for m in Array(1...9) + [15, 16, 17, 24, 33, 48, 64] {
            for w in weights {
                let (n, k) = (w.shape[0], w.shape[1])
                let x = randomNormal([m, k], seed: 60 + UInt64(m))
                let y = FewRowProduct.$isEnabled.withValue(true) {
                    FewRowProduct.$panels.withValue(set) { withNoGrad { linears(x, weights: [w], biases: [nil])[0] } }
                }.toArray()
                let xs = x.toArray(), ws = w.toArray()
                var wrong = 0
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Float = 0
                        for c in 0..<k { s.addProduct(xs[i * k + c], ws[j * k + c]) }
                        if m <= FewRowProduct.maximumRows ? s.bitPattern != y[i * n + j].bitPattern
                                                          : abs(s - y[i * n + j]) > 1e-4 * (abs(s) + 1) { wrong += 1 }
                    }
                }
                #expect(wrong == 0, "m \(m) n \(n) k \(k): \(wrong) of \(m * n) outputs differ from the loop")
            }
        }
        // a weight of the same shape at another address is not taken for a packed one
        #expect(set.panels(for: randomNormal([45, 579], seed: 54)) == nil)
    }

    @Test("panels: weights below 4 KB and from FewRowProduct.minimumWeightBytes on are not packed")
    func panelsSizes() {
        let small = randomNormal([31, 32], seed: 1), large = randomNormal([256, 256], seed: 2), mid = randomNormal([32, 32], seed: 3)
        let set = FewRowPanelSet([small, large, mid])
        #expect(set.panels(for: small) == nil)  // 3,968 bytes
        #expect(set.panels(for: large) == nil)  // 262,144 bytes: streams from memory, the native kernel's
        #expect((set.panels(for: mid) != nil) == FewRowPanels.isAvailable)  // 4,096 bytes
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
        // one row at a time (its blocks split across the cores too): the same bits
        for i in [0, 7, 15] {
            var one = [Float](repeating: 0, count: n)
            one.withUnsafeMutableBufferPointer { yp in
                fewRowProduct(m: 1, n: n, k: k, x: x.ptr + i * k, ldx: k, w: w.ptr, ldw: k, y: yp.baseAddress!, ldy: n)
            }
            #expect(one.map(\.bitPattern) == y[(i * n)..<((i + 1) * n)].map(\.bitPattern), "row \(i)")
        }
    }

    @Test("several products over one x (fewRowProducts) give each product's fewRowProduct bits, whichever thread takes which block",
          arguments: [FewRowKernel.wide, .narrow, .chains])
    func severalProducts(kernel: FewRowKernel) {
        // N of 37, 1 and 1030 (blocks of 4 or 6 cut across a target's end), K 579, strided rows: 9.4M multiply-adds, split in
        // up to 32 chunks, whose boundaries fall inside and between the targets
        let (m, k, ldx) = (16, 579, 583)
        let shapes = [(n: 37, ldw: 581, ldy: 40), (n: 1, ldw: 579, ldy: 1), (n: 1030, ldw: 580, ldy: 1033)]
        let x = randomNormal([m, ldx], seed: 21).toArray()
        let ws = shapes.enumerated().map { randomNormal([$1.n, $1.ldw], seed: 22 + UInt64($0)).toArray() }
        func alone(_ t: Int) -> [Float] {
            var y = [Float](repeating: .nan, count: m * shapes[t].ldy)
            x.withUnsafeBufferPointer { xp in
                ws[t].withUnsafeBufferPointer { wp in
                    y.withUnsafeMutableBufferPointer { yp in
                        fewRowProduct(m: m, n: shapes[t].n, k: k, x: xp.baseAddress!, ldx: ldx, w: wp.baseAddress!, ldw: shapes[t].ldw,
                                      y: yp.baseAddress!, ldy: shapes[t].ldy, kernel: kernel)
                    }
                }
            }
            return y
        }
        var ys = shapes.map { [Float](repeating: .nan, count: m * $0.ldy) }
        let wBuffers = ws.map { w in UnsafeMutableBufferPointer<Float>.allocate(capacity: w.count) }
        let yBuffers = ys.map { y in UnsafeMutableBufferPointer<Float>.allocate(capacity: y.count) }
        defer { (wBuffers + yBuffers).forEach { $0.deallocate() } }
        for t in shapes.indices {
            _ = wBuffers[t].initialize(from: ws[t])
            _ = yBuffers[t].initialize(from: ys[t])
        }
        x.withUnsafeBufferPointer { xp in
            fewRowProducts(m: m, k: k, x: xp.baseAddress!, ldx: ldx, shapes.indices.map { t in
                FewRowTarget(n: shapes[t].n, w: UnsafePointer(wBuffers[t].baseAddress!), ldw: shapes[t].ldw, y: yBuffers[t].baseAddress!,
                             ldy: shapes[t].ldy)
            }, kernel: kernel)
        }
        for t in shapes.indices {
            ys[t] = Array(yBuffers[t])
            // the padding past each row's N stays NaN in both, so comparing bit patterns also checks it was not written
            #expect(ys[t].map(\.bitPattern) == alone(t).map(\.bitPattern), "target \(t) (N \(shapes[t].n))")
        }
        #expect(ys[0][37].isNaN && ys[2][1030].isNaN)
    }

    @Test("linears: each weight's linear bit for bit, with and without biases, inside a decoding step (one few-row product) and outside it")
    func linearsMatchLinear() {
        let n = FewRowProduct.minimumWeightBytes / (40 * 4) + 1  // just over the kernel's threshold
        let x = randomNormal([2, 3, 40], seed: 31)
        let weights = [randomNormal([n, 40], seed: 32), randomNormal([n + 5, 40], seed: 33), randomNormal([n + 11, 40], seed: 34)]
        let biases: [Tensor?] = [randomNormal([n], seed: 35), nil, randomNormal([n + 11], seed: 36)]
        for decoding in [false, true] {
            let (together, oneByOne) = FewRowProduct.$isEnabled.withValue(decoding) {
                withNoGrad { (linears(x, weights: weights, biases: biases), zip(weights, biases).map { linear(x, weight: $0, bias: $1) }) }
            }
            #expect(together.map(\.shape) == oneByOne.map(\.shape))
            for i in weights.indices {
                #expect(bitPatterns(together[i]) == bitPatterns(oneByOne[i]), "decoding \(decoding), weight \(i)")
            }
        }
        // one weight under the threshold among them: it keeps sgemm's bits, the others the kernel's, as one by one
        let mixed = weights + [randomNormal([21, 40], seed: 37)]
        let (together, oneByOne) = FewRowProduct.$isEnabled.withValue(true) {
            withNoGrad { (linears(x, weights: mixed, biases: mixed.map { _ in nil }), mixed.map { linear(x, weight: $0) }) }
        }
        let plain = withNoGrad { mixed.map { linear(x, weight: $0) } }
        for i in mixed.indices {
            #expect(bitPatterns(together[i]) == bitPatterns(oneByOne[i]), "mixed, weight \(i)")
            #expect((bitPatterns(together[i]) == bitPatterns(plain[i])) == (i == 3), "mixed, weight \(i): the kernel only over large weights")
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
