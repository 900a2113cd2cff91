import Foundation
import Tensor
import Testing
import TestSupport

// softmax, logSoftmax and causalMask (Sources/Tensor/Ops/Softmax.swift): forward against the numpy
// fixtures and hand values, gradients against central finite differences.
// Tolerances: the vectorised exp is good to ~2e-7 relative, so forward values are held to rtol 1e-5.

@Suite("Softmax")
struct SoftmaxTests {
    @Test("softmax of [0, ln 2] is [1/3, 2/3]; logSoftmax is their logs")
    func handValues() {
        let x = Tensor(shape: [1, 2], values: [0, Float(Foundation.log(2.0))])
        allClose(softmax(x).toArray(), [1.0 / 3, 2.0 / 3], rtol: 1e-6, atol: 1e-7)
        allClose(logSoftmax(x).toArray(), [Foundation.log(1.0 / 3), Foundation.log(2.0 / 3)], rtol: 1e-6, atol: 1e-7)
        // a row of one element is certain: probability 1, log-probability 0
        let one = Tensor(shape: [2, 1], values: [-3, 50])
        allClose(softmax(one).toArray(), [1, 1] as [Double], rtol: 0, atol: 0)
        allClose(logSoftmax(one).toArray(), [0, 0] as [Double], rtol: 0, atol: 0)
        // shifting a row by a constant changes nothing, even far beyond exp's range
        let shifted = Tensor(shape: [1, 2], values: [1000, 1000 + Float(Foundation.log(2.0))])
        allClose(softmax(shifted).toArray(), [1.0 / 3, 2.0 / 3], rtol: 1e-4, atol: 1e-6)
    }

    @Test("softmax forward matches numpy; rows sum to 1")
    func softmaxForward() throws {
        for (name, c) in try Fixtures.cases("softmax") {
            let out = softmax(c.input("x"))
            allClose(out, c.output(), rtol: 1e-5, atol: 1e-7, name)
            let rows = out.rows, cols = out.lastDim, v = out.toArray()
            for r in 0..<rows {
                let s = v[(r * cols)..<((r + 1) * cols)].reduce(0.0) { $0 + Double($1) }
                #expect(abs(s - 1) < 1e-5, "\(name) row \(r) sums to \(s)")
            }
        }
    }

    @Test("softmax gradient matches finite differences")
    func softmaxGradient() throws {
        for (name, c) in try Fixtures.cases("softmax") where !name.hasSuffix("wide") {
            checkGradients([c.input("x")], name) { softmax($0[0]) }
        }
        // wide rows (std 30): a smaller step keeps the curvature error down
        for (name, c) in try Fixtures.cases("softmax") where name.hasSuffix("wide") {
            checkGradients([c.input("x")], h: 1e-3, rtol: 2e-2, atol: 2e-3, name) { softmax($0[0]) }
        }
    }

    @Test("logSoftmax forward matches numpy")
    func logSoftmaxForward() throws {
        for (name, c) in try Fixtures.cases("logSoftmax") {
            allClose(logSoftmax(c.input("x")), c.output(), rtol: 1e-5, atol: 1e-6, name)
        }
    }

    @Test("logSoftmax gradient matches finite differences")
    func logSoftmaxGradient() throws {
        for (name, c) in try Fixtures.cases("logSoftmax") {
            let h: Float = name.hasSuffix("wide") ? 1e-3 : 1e-2
            checkGradients([c.input("x")], h: h, rtol: 1e-2, atol: 2e-3, name) { logSoftmax($0[0]) }
        }
    }

    @Test("causalMask sets entries above the (offset) diagonal to -inf and keeps the rest")
    func causalMaskForward() throws {
        for (name, c) in try Fixtures.cases("causalMask") {
            allEqual(causalMask(c.input("x")), c.output(), name)
        }
        // by hand: T = 2 queries at absolute positions 1 and 2 of S = 3 keys
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        allClose(causalMask(x).toArray(), [1, 2, -.infinity, 4, 5, 6] as [Double], rtol: 0, atol: 0)
    }

    @Test("causalMask gradient passes through unmasked entries only")
    func causalMaskGradient() throws {
        for (name, c) in try Fixtures.cases("causalMask") {
            // masked outputs are -inf: the checker gives them weight 0, so they must get gradient 0
            checkGradients([c.input("x")], name) { causalMask($0[0]) }
        }
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        causalMask(x).backward(seed: Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
        #expect(x.grad?.toArray() == [1, 2, 0, 4, 5, 6])
    }

    @Test("softmax over a causal mask: masked probabilities are 0, forward and gradient match")
    func maskedSoftmax() throws {
        for (name, c) in try Fixtures.cases("maskedSoftmax") {
            allClose(softmax(causalMask(c.input("x"))), c.output(), rtol: 1e-5, atol: 1e-7, name)
            checkGradients([c.input("x")], name) { softmax(causalMask($0[0])) }
        }
    }

    @Test("softmax and logSoftmax over 300 rows of 37 (the two-thread path) match a Double reference")
    func manyRows() {
        let x = randomNormal([300, 37], seed: 72, std: 3)
        let xs = x.toArray().map(Double.init)
        var ref = [Double](), logRef = [Double]()
        for r in 0..<300 {
            let row = Array(xs[(r * 37)..<((r + 1) * 37)])
            let m = row.max()!
            let lse = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
            logRef += row.map { $0 - lse }
            ref += row.map { Foundation.exp($0 - lse) }
        }
        allClose(softmax(x).toArray(), ref, rtol: 1e-5, atol: 1e-7, "softmax", shape: [300, 37])
        allClose(logSoftmax(x).toArray(), logRef, rtol: 1e-5, atol: 1e-5, "logSoftmax", shape: [300, 37])
    }

    @Test("a fully masked row gives zeros, not NaN")
    func fullyMaskedRow() {
        let x = Tensor(shape: [2, 3], values: [-.infinity, -.infinity, -.infinity, 0, 0, 0])
        let third: Float = 1.0 / 3
        let expected: [Float] = [0, 0, 0, third, third, third]
        #expect(softmax(x).toArray() == expected)
    }
}
