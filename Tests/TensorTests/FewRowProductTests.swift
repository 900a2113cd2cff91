import CFewRowKernels
import Dispatch
import Foundation
import Tensor
import Testing
import TestSupport

// fewRowProduct (Sources/Tensor/Ops/FewRowProduct.swift), the decoding steps' y = x W^T without packing, against a
// double-precision product computed here term by term, at shapes whose K and N are not multiples of either vector
// width (16, 8) nor of the 4-row blocks, M = 1, 3, 16, 17 (a whole tile, a partial one, and both), with row
// strides wider than the rows; the Swift kernels (AVX-512's 16 lanes and AVX2's 8) run on any x86-64 CPU with AVX2,
// `chains` (C) anywhere (its plain C loops where the build lacks AVX2 and FMA), `wideChains` (C) in builds for AVX-512.
// Tolerance: a float32 sum of K products accumulated in 16 or 8 lanes (K / lanes + 4 additions deep, at most 41
// here) is off by at most about 41 * 6e-8 * sum_k |x_k w_k|; the test allows 8e-6 * sum_k |x_k w_k|, while one
// wrong or missing term moves a sum by about sum_k |x_k w_k| / K, at least 1.7e-3 of it at these K. `chains` and
// `wideChains` add the K products one after the other (K additions deep): they are allowed K * 1.2e-7 * sum_k |x_k w_k|
// (7e-5 at K 581).

@Suite("Few-row product")
struct FewRowProductTests {
    /// Every kernel this build can run: `wideChains` only where it targets AVX-512.
    static let kernels: [FewRowKernel] = [.wide, .narrow, .chains] + (FewRowPanels.isAvailable ? [.wideChains] : [])
    /// The kernels that promise the bits of one fused multiply-add chain along K.
    static let chainKernels: [FewRowKernel] = [.chains] + (FewRowPanels.isAvailable ? [.wideChains] : [])

    /// The plain chain `s = 0; for c in 0..<k: s = fma(x[i][c], w[j][c], s)`, the bits `chains` promises.
    static func chain(_ x: [Float], _ w: [Float], i: Int, j: Int, k: Int, ldx: Int, ldw: Int) -> Float {
        var s: Float = 0
        for c in 0..<k { s.addProduct(x[i * ldx + c], w[j * ldw + c]) }
        return s
    }

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
          arguments: FewRowProductTests.kernels)
    func againstDouble(kernel: FewRowKernel) {
        for (m, n, k) in [(1, 37, 53), (3, 37, 53), (16, 101, 77), (17, 6, 581), (16, 1, 16), (17, 43, 7), (3, 1539, 39)] {
            let ldx = k + 3, ldw = k + 5, ldy = n + 2
            let seed = UInt64(m * 1000 + n)
            let x = randomNormal([m, ldx], seed: seed).toArray(), w = randomNormal([n, ldw], seed: seed + 1).toArray()
            let y = Self.run(m: m, n: n, k: k, ldx: ldx, ldw: ldw, ldy: ldy, kernel: kernel, seed: seed)
            let (expected, scale) = Self.reference(x, w, m: m, n: n, k: k, ldx: ldx, ldw: ldw)
            var worst = 0.0
            let relative = kernel == .chains || kernel == .wideChains ? Double(k) * 1.2e-7 : 8e-6
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
          arguments: FewRowProductTests.kernels)
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

    @Test("chains and wideChains: every output has the bits of one fused multiply-add chain along K, at every M to 48 and at 49, 64 and 80 (both tiles, partial vectors, several passes of the rows tile), N and K tails, strided rows",
          arguments: FewRowProductTests.chainKernels)
    func chainsAgainstLoop(kernel: FewRowKernel) {
        // N 45 (6 x 7 + 3, 8 x 5 + 5, 12 x 3 + 9, 16 x 2 + 13) and 8, K 579 (8 x 72 + 3) and 7 (under one 8-column block)
        for (n, k) in [(45, 579), (8, 7)] {
            let ldx = k + 2, ldw = k + 1, ldy = n + 3
            let w = randomNormal([n, ldw], seed: 41).toArray()
            for m in Array(1...9) + [15, 16, 17, 24, 32, 33, 48, 49, 64, 80] {
                let x = randomNormal([m, ldx], seed: 42 + UInt64(m)).toArray()
                let y = Self.run(m: m, n: n, k: k, ldx: ldx, ldw: ldw, ldy: ldy, kernel: kernel, seed: 42 + UInt64(m), w: w)
                var wrong = 0
                for i in 0..<m {
                    for j in 0..<n {
                        if Self.chain(x, w, i: i, j: j, k: k, ldx: ldx, ldw: ldw).bitPattern != y[i * ldy + j].bitPattern { wrong += 1 }
                    }
                    for j in n..<ldy { #expect(y[i * ldy + j].isNaN, "m \(m) n \(n) k \(k): y[\(i), \(j)] past N was written") }
                }
                #expect(wrong == 0, "m \(m) n \(n) k \(k): \(wrong) of \(m * n) outputs differ from the loop")
            }
        }
    }

    @Test("wideChains: its tiles walked down (the second thread's side) give the bits walked up, both tiles, N tails; two threads claiming from the two ends take every block once",
          .enabled(if: FewRowPanels.isAvailable))
    func wideChainsBothWays() {
        // N 45: 12 x 3 + 9 for the rows tile, 16 x 2 + 13 for the columns tile; K 579 (8 x 72 + 3); j0 3 (a range inside)
        let (n, k, ldx, ldw, ldy) = (45, 579, 581, 580, 48)
        let w = randomNormal([n, ldw], seed: 71).toArray()
        for m in [1, 5, 8, 9, 16, 33, 48] {
            let x = randomNormal([m, ldx], seed: 72 + UInt64(m)).toArray()
            var packed = [Float](repeating: 0, count: td_fewrow_wide_lanes(m) * k)
            td_fewrow_wide_pack(m, k, x, ldx, &packed)
            for backward in [Int32(0), 1] {
                var y = [Float](repeating: .nan, count: m * ldy)
                if m <= FewRowKernel.wideColumnRows {
                    td_fewrow_wide_columns(m, k, x, ldx, w, ldw, 3, n, &y, ldy, backward)
                } else {
                    td_fewrow_wide_rows(m, k, packed, w, ldw, 3, n, &y, ldy, backward)
                }
                var wrong = 0
                for i in 0..<m {
                    for j in 0..<ldy where (j >= 3 && j < n) != !y[i * ldy + j].isNaN { wrong += 1 }  // written exactly in 3..<n
                    for j in 3..<n where Self.chain(x, w, i: i, j: j, k: k, ldx: ldx, ldw: ldw).bitPattern != y[i * ldy + j].bitPattern { wrong += 1 }
                }
                #expect(wrong == 0, "m \(m), backward \(backward): \(wrong) outputs differ from the chain or were (not) written")
            }
        }
        // the claims: side 0 from the front, side 1 from the back, in runs of 3 (the last one shorter), every block once
        for count in [1, 2, 7, 1000] {
            var claims: UInt64 = 0
            td_fewrow_claims_init(&claims, count)
            var taken: [[Range<Int>]] = [[], []]
            let lock = NSLock()
            withUnsafeMutablePointer(to: &claims) { claims in
                DispatchQueue.concurrentPerform(iterations: 2) { side in
                    var first = 0, mine: [Range<Int>] = []
                    while true {
                        let got = td_fewrow_claim(claims, Int32(side), 3, &first)
                        if got == 0 { break }
                        mine.append(first..<(first + got))
                    }
                    lock.lock(); taken[side] = mine; lock.unlock()
                }
            }
            let front = taken[0], back = taken[1]
            #expect(front.enumerated().allSatisfy { $1.lowerBound == ($0 == 0 ? 0 : front[$0 - 1].upperBound) }, "count \(count): front runs \(front)")
            #expect(back.enumerated().allSatisfy { $1.upperBound == ($0 == 0 ? count : back[$0 - 1].lowerBound) }, "count \(count): back runs \(back)")
            #expect((front + back).map(\.count).reduce(0, +) == count && (front.last?.upperBound ?? 0) == (back.last?.lowerBound ?? count),
                    "count \(count): the runs \(front) and \(back) do not meet")
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
          arguments: FewRowProductTests.kernels)
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

    /// x (..., K) W^T through the native few-row kernel, plus b: what `linear` gives inside a decoding step.
    static func kernelLinear(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil) -> Tensor {
        let (m, n, k) = (x.count / x.lastDim, w.shape[0], w.shape[1])
        let y = Tensor.uninitialized([m, n])
        fewRowProduct(m: m, n: n, k: k, x: x.ptr, ldx: k, w: w.ptr, ldw: k, y: y.ptr, ldy: n)
        return withNoGrad { b.map { add(y, $0) } ?? y }
    }

    // K 1,000 in the two tests below: OpenBLAS's sgemm adds the products of blocks of K (a few hundred) to C one block
    // after the other, so its bits differ from the kernels' (at K 40 `chains`' single fused multiply-add chain gives
    // sgemm's bits, and which one ran could not be told).
    @Test("linears: each weight's linear bit for bit, with and without biases, inside a decoding step (one few-row product) and outside it")
    func linearsMatchLinear() {
        let n = FewRowProduct.minimumWeightBytes / (1000 * 4) + 1  // just over the kernel's threshold
        let x = randomNormal([2, 3, 1000], seed: 31)
        let weights = [randomNormal([n, 1000], seed: 32), randomNormal([n + 5, 1000], seed: 33), randomNormal([n + 11, 1000], seed: 34)]
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
        let mixed = weights + [randomNormal([21, 1000], seed: 37)]
        let (together, oneByOne) = FewRowProduct.$isEnabled.withValue(true) {
            withNoGrad { (linears(x, weights: mixed, biases: mixed.map { _ in nil }), mixed.map { linear(x, weight: $0) }) }
        }
        let plain = withNoGrad { mixed.map { linear(x, weight: $0) } }
        for i in mixed.indices {
            #expect(bitPatterns(together[i]) == bitPatterns(oneByOne[i]), "mixed, weight \(i)")
            #expect((bitPatterns(together[i]) == bitPatterns(plain[i])) == (i == 3), "mixed, weight \(i): the kernel only over large weights")
            if i < 3 { #expect(bitPatterns(together[i]) == bitPatterns(Self.kernelLinear(x, mixed[i])), "mixed, weight \(i): the native kernel's bits") }
        }
    }

    @Test("linear uses the kernel only inside a decoding step without gradients, over weights of at least minimumWeightBytes; both paths give x W^T + b")
    func linearDispatch() {
        // 66 x 1,000 floats: just over the 256 KB threshold
        let n = FewRowProduct.minimumWeightBytes / (1000 * 4) + 1
        let x = randomNormal([2, 3, 1000], seed: 9), w = randomNormal([n, 1000], seed: 10), b = randomNormal([n], seed: 11)
        let plain = withNoGrad { linear(x, weight: w, bias: b) }
        let decoding = FewRowProduct.$isEnabled.withValue(true) { withNoGrad { linear(x, weight: w, bias: b) } }
        #expect(decoding.shape == [2, 3, n])
        // sums of 1,000 products of unit normals (about 30 in size): float32 rounding in another order, a few 1e-5
        allClose(decoding, plain, rtol: 1e-4, atol: 5e-4)
        #expect(bitPatterns(decoding) != bitPatterns(plain), "the kernel sums in another order than sgemm, so some bit differs when it runs")
        #expect(bitPatterns(decoding) == bitPatterns(Self.kernelLinear(x, w, b)), "the native kernel's bits, plus the bias")
        // a weight under the threshold (cache-resident) keeps sgemm's bits while decoding
        let small = randomNormal([21, 1000], seed: 13)
        let smallDecoding = FewRowProduct.$isEnabled.withValue(true) { withNoGrad { linear(x, weight: small) } }
        #expect(bitPatterns(smallDecoding) == bitPatterns(withNoGrad { linear(x, weight: small) }))
        // recording gradients, the product stays sgemm's (bit for bit) and has a backward
        let wg = randomNormal([n, 1000], seed: 10, requiresGrad: true)
        let recorded = FewRowProduct.$isEnabled.withValue(true) { linear(x, weight: wg, bias: b) }
        #expect(recorded.requiresGrad)
        #expect(bitPatterns(recorded) == bitPatterns(plain))
        // more rows than `maximumRows`: sgemm's bits
        let tall = randomNormal([FewRowProduct.maximumRows + 1, 1000], seed: 12)
        let tallDecoding = FewRowProduct.$isEnabled.withValue(true) { withNoGrad { linear(tall, weight: w) } }
        #expect(bitPatterns(tallDecoding) == bitPatterns(withNoGrad { linear(tall, weight: w) }))
    }
}
