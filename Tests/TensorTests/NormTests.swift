import Foundation
import Tensor
import Testing
import TestSupport

// rmsNorm and layerNorm over the last axis (Sources/Tensor/Ops/Norm.swift): forward against numpy and
// hand values, gradients of input, weight and bias against finite differences, last dims 1, 5, 17, 33.
// Tolerances: one float32 reduction per row and a reciprocal square root, rtol 1e-5 with atol 1e-6.

@Suite("Norms")
struct NormTests {
    @Test("rmsNorm by hand: [3, 4] / sqrt(12.5), times the weight")
    func rmsNormByHand() {
        let x = Tensor(shape: [2, 2], values: [3, 4, -1, 1])
        let w = Tensor(shape: [2], values: [1, 2])
        let r = 1 / 12.5.squareRoot()
        allClose(rmsNorm(x, weight: w, eps: 0).toArray(), [3 * r, 8 * r, -1, 2], rtol: 1e-6, atol: 0)
    }

    @Test("layerNorm by hand: [1, 2, 3] has mean 2 and variance 2/3 (biased)")
    func layerNormByHand() {
        let x = Tensor(shape: [1, 3], values: [1, 2, 3])
        let w = Tensor(shape: [3], values: [1, 1, 2])
        let b = Tensor(shape: [3], values: [0, 0.5, 1])
        let s = 1.5.squareRoot()  // 1 / sqrt(2/3)
        allClose(layerNorm(x, weight: w, bias: b, eps: 0).toArray(), [-s, 0.5, 2 * s + 1], rtol: 1e-6, atol: 1e-7)
    }

    @Test("rmsNorm forward matches numpy")
    func rmsNormForward() throws {
        for (name, c) in try Fixtures.cases("rmsNorm") {
            allClose(rmsNorm(c.input("x"), weight: c.input("weight"), eps: c.float("eps")), c.output(),
                     rtol: 1e-5, atol: 1e-6, name)
        }
    }

    @Test("rmsNorm gradients of x and weight match finite differences")
    func rmsNormGradient() throws {
        for (name, c) in try Fixtures.cases("rmsNorm") {
            let eps = c.float("eps")
            checkGradients([c.input("x"), c.input("weight")], name) { rmsNorm($0[0], weight: $0[1], eps: eps) }
            let w = c.input("weight")
            checkGradients([c.input("x")], name + " x only") { rmsNorm($0[0], weight: w, eps: eps) }
        }
    }

    @Test("layerNorm forward matches numpy")
    func layerNormForward() throws {
        for (name, c) in try Fixtures.cases("layerNorm") {
            allClose(layerNorm(c.input("x"), weight: c.input("weight"), bias: c.input("bias"), eps: c.float("eps")),
                     c.output(), rtol: 1e-5, atol: 1e-6, name)
        }
    }

    @Test("layerNorm gradients of x, weight and bias match finite differences")
    func layerNormGradient() throws {
        for (name, c) in try Fixtures.cases("layerNorm") {
            let eps = c.float("eps")
            checkGradients([c.input("x"), c.input("weight"), c.input("bias")], name) {
                layerNorm($0[0], weight: $0[1], bias: $0[2], eps: eps)
            }
        }
    }

    @Test("rmsNorm backward uses its own saved 1/rms after another op allocates a buffer of the same size")
    func rmsNormSavedStateSurvives() {
        // In a model every layer's rmsNorm runs over the same number of rows; the second one's forward
        // must not change the first one's backward. Both gradients below must therefore be identical.
        let x = randomNormal([4, 17], seed: 13), w = randomUniform([17], seed: 14, low: 0.5, high: 1.5)
        let seed = randomNormal([4, 17], seed: 15)
        func gradient(secondNorm: Bool) -> [Float] {
            let leaf = Tensor(shape: x.shape, values: x.toArray(), requiresGrad: true)
            let y = rmsNorm(leaf, weight: w, eps: 1e-5)
            if secondNorm {  // another layer: same row count (4), inputs 10x larger
                _ = rmsNorm(scale(x, 10), weight: w, eps: 1e-5)
            }
            y.backward(seed: seed)
            return leaf.grad!.toArray()
        }
        let alone = gradient(secondNorm: false), followed = gradient(secondNorm: true)
        allClose(followed, alone, rtol: 1e-6, atol: 1e-7, "dx of the first rmsNorm after a second rmsNorm ran")
        checkGradients([x, w], "rmsNorm followed by another rmsNorm") { v in
            let y = rmsNorm(v[0], weight: v[1], eps: 1e-5)
            _ = rmsNorm(scale(x, 10), weight: w, eps: 1e-5)
            return y
        }
    }

    @Test("rmsNorm over many rows (the two-thread path) matches the one-row computation")
    func rmsNormParallelRows() {
        // 300 rows x 37 = 33,300 elements: over Parallel.minimumWork, so the rows are split across threads
        let x = randomNormal([300, 37], seed: 11), w = randomUniform([37], seed: 12, low: 0.5, high: 1.5)
        let all = rmsNorm(x, weight: w, eps: 1e-6).toArray()
        let xs = x.toArray()
        for r in [0, 149, 150, 151, 299] {
            let row = Tensor(shape: [1, 37], values: Array(xs[(r * 37)..<((r + 1) * 37)]))
            let one = rmsNorm(row, weight: w, eps: 1e-6).toArray()
            allClose(Array(all[(r * 37)..<((r + 1) * 37)]), one, rtol: 0, atol: 0, "row \(r)")
        }
    }
}
