import Foundation
import Tensor
import Testing
import TestSupport

// matmul and linear (Sources/Tensor/Ops/Matmul.swift): all four transpose combinations, 2-D, batched A
// against a shared 2-D B, and batched A against batched B, with dims 1, 5, 17, 33; forward against
// numpy, gradients of both operands against central finite differences.
// Tolerances: float32 dot products of up to 33 terms of O(1) values, so rtol 1e-5 with atol 1e-5.

@Suite("Matmul")
struct MatmulTests {
    private func product(_ c: FixtureCase, _ a: Tensor, _ b: Tensor) -> Tensor {
        matmul(a, b, transposeA: c.int("transposeA") == 1, transposeB: c.int("transposeB") == 1)
    }

    @Test("2x2 product by hand, and each transpose flag by hand")
    func handValues() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], values: [5, 6, 7, 8])
        #expect(matmul(a, b).toArray() == [19, 22, 43, 50])
        #expect(matmul(a, b, transposeA: true).toArray() == [26, 30, 38, 44])   // [[1,3],[2,4]] b
        #expect(matmul(a, b, transposeB: true).toArray() == [17, 23, 39, 53])   // a [[5,7],[6,8]]
        #expect(matmul(a, b, transposeA: true, transposeB: true).toArray() == [23, 31, 34, 46])
        // (1, 3) x (3, 1) and the outer product (3, 1) x (1, 3)
        let row = Tensor(shape: [1, 3], values: [1, 2, 3]), col = Tensor(shape: [3, 1], values: [4, 5, 6])
        #expect(matmul(row, col).toArray() == [32])
        #expect(matmul(col, row).toArray() == [4, 8, 12, 5, 10, 15, 6, 12, 18])
        #expect(matmul(col, row).shape == [3, 3])
    }

    @Test("forward matches numpy: 2-D, shared B, batched B, all transpose combinations")
    func forward() throws {
        let cases = try Fixtures.cases("matmul")
        #expect(cases.count == 32)
        for (name, c) in cases {
            allClose(product(c, c.input("a"), c.input("b")), c.output(), rtol: 1e-5, atol: 1e-5, name)
        }
    }

    @Test("gradients of A and B match finite differences")
    func gradients() throws {
        for (name, c) in try Fixtures.cases("matmul") {
            checkGradients([c.input("a"), c.input("b")], name) { product(c, $0[0], $0[1]) }
        }
    }

    @Test("gradient of A alone and of B alone (the other operand is a constant)")
    func oneSidedGradients() throws {
        for (name, c) in try Fixtures.cases("matmul") where name.contains("shared") || name.contains("batched") {
            let b = c.input("b"), a = c.input("a")
            checkGradients([a], name + " dA") { product(c, $0[0], b) }
            checkGradients([b], name + " dB") { product(c, a, $0[0]) }
        }
    }

    @Test("batched A with shared B equals the product of each batch entry")
    func sharedBMatchesPerEntry() {
        let a = randomNormal([3, 5, 17], seed: 1), b = randomNormal([17, 33], seed: 2)
        let whole = matmul(a, b).toArray()
        for i in 0..<3 {
            let ai = Tensor(shape: [5, 17], values: Array(a.toArray()[(i * 85)..<((i + 1) * 85)]))
            let part = matmul(ai, b).toArray()
            allClose(Array(whole[(i * 165)..<((i + 1) * 165)]), part, rtol: 1e-6, atol: 1e-6, "batch \(i)")
        }
    }

    @Test("linear is x W^T + b (weight stored [out, in]); forward and gradients of x, W, b")
    func linearLayer() throws {
        for (name, c) in try Fixtures.cases("linear") {
            let hasBias = c.inputs["bias"] != nil
            let out = linear(c.input("x"), weight: c.input("weight"), bias: hasBias ? c.input("bias") : nil)
            allClose(out, c.output(), rtol: 1e-5, atol: 1e-5, name)
            if hasBias {
                checkGradients([c.input("x"), c.input("weight"), c.input("bias")], name) {
                    linear($0[0], weight: $0[1], bias: $0[2])
                }
            } else {
                checkGradients([c.input("x"), c.input("weight")], name) { linear($0[0], weight: $0[1]) }
            }
        }
    }

    @Test("linear bias gradient is the sum of the output gradient over all leading dims")
    func linearBiasGradient() {
        let x = randomNormal([2, 3, 5], seed: 3)
        let w = randomNormal([4, 5], seed: 4)
        let b = Tensor(zeros: [4], requiresGrad: true)
        let seed = randomNormal([2, 3, 4], seed: 5)
        linear(x, weight: w, bias: b).backward(seed: seed)
        var expected = [Double](repeating: 0, count: 4)
        for (i, g) in seed.toArray().enumerated() { expected[i % 4] += Double(g) }
        allClose(b.grad!.toArray(), expected, rtol: 1e-6, atol: 1e-6)
    }
}
