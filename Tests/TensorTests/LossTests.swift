import Foundation
import Tensor
import Testing
import TestSupport

// mseLoss and the fused crossEntropy (Sources/Tensor/Ops/Loss.swift): forward against numpy and hand
// values (ignore-index rows left out of the mean, label smoothing as PyTorch), gradients against finite
// differences. Tolerances: rtol 1e-5 with atol 1e-6 on O(1) losses.

@Suite("Losses")
struct LossTests {
    @Test("mseLoss by hand and against numpy; gradients to both sides")
    func mse() throws {
        let a = Tensor(shape: [3], values: [1, 2, 3]), b = Tensor(shape: [3], values: [1, 0, 0])
        allClose(mseLoss(a, b).item, 13.0 / 3, rtol: 1e-6)
        for (name, c) in try Fixtures.cases("mseLoss") {
            let out = mseLoss(c.input("a"), c.input("b"))
            #expect(out.shape == [])
            allClose(out, c.output(), rtol: 1e-5, atol: 1e-6, name)
            checkGradients([c.input("a"), c.input("b")], name) { mseLoss($0[0], $0[1]) }
        }
    }

    @Test("crossEntropy forward matches numpy (ignore index, label smoothing, 3-D logits)")
    func crossEntropyForward() throws {
        let cases = try Fixtures.cases("crossEntropy")
        #expect(cases.count == 6)
        for (name, c) in cases {
            let out = crossEntropy(c.input("logits"), targets: c.intList("targets").map(Int32.init),
                                   labelSmoothing: c.float("labelSmoothing"))
            #expect(out.shape == [])
            allClose(out, c.output(), rtol: 1e-5, atol: 1e-6, name)
        }
    }

    @Test("crossEntropy gradient matches finite differences; ignored rows get zero gradient")
    func crossEntropyGradient() throws {
        for (name, c) in try Fixtures.cases("crossEntropy") {
            let targets = c.intList("targets").map(Int32.init), eps = c.float("labelSmoothing")
            checkGradients([c.input("logits")], name) { crossEntropy($0[0], targets: targets, labelSmoothing: eps) }

            let logits = c.input("logits")
            logits.requiresGrad = true
            crossEntropy(logits, targets: targets, labelSmoothing: eps).backward()
            let v = logits.lastDim, g = logits.grad!.toArray()
            for (r, t) in targets.enumerated() where t == -100 {
                #expect(g[(r * v)..<((r + 1) * v)].allSatisfy { $0 == 0 }, "\(name): ignored row \(r) got a gradient")
            }
        }
    }

    @Test("crossEntropy by hand: uniform logits give ln V; label smoothing 0.3 on [0, 0, ln 2] gives 1.2 ln 2")
    func crossEntropyByHand() {
        let uniform = Tensor(zeros: [2, 7])
        allClose(crossEntropy(uniform, targets: [3, 6]).item, Foundation.log(7.0), rtol: 1e-6)
        allClose(crossEntropy(uniform, targets: [3, 6], labelSmoothing: 0.4).item, Foundation.log(7.0), rtol: 1e-6)

        // p = [1/4, 1/4, 1/2], log p = [-2 ln 2, -2 ln 2, -ln 2]; target 2, eps 0.3, V 3:
        // loss = -(0.7)(-ln 2) - (0.3/3)(-5 ln 2) = 1.2 ln 2; dlogits = p - q, q = 0.7 onehot + 0.1 = [0.1, 0.1, 0.8]
        let ln2 = Foundation.log(2.0)
        let x = Tensor(shape: [1, 3], values: [0, 0, Float(ln2)], requiresGrad: true)
        let loss = crossEntropy(x, targets: [2], labelSmoothing: 0.3)
        allClose(loss.item, 1.2 * ln2, rtol: 1e-6)
        loss.backward()
        allClose(x.grad!.toArray(), [0.15, 0.15, -0.3], rtol: 1e-5, atol: 1e-7)
    }

    @Test("crossEntropy ignores rows by index: the mean is over counted rows only")
    func crossEntropyIgnoreIndex() {
        let ln2 = Float(Foundation.log(2.0))
        // row 0: p = [1/3, 2/3], target 1 -> ln(3/2); row 1 ignored (its logits would give a huge loss)
        let x = Tensor(shape: [2, 2], values: [0, ln2, 50, -50])
        allClose(crossEntropy(x, targets: [1, -100]).item, Foundation.log(1.5), rtol: 1e-6)
        // a custom ignore index
        allClose(crossEntropy(x, targets: [1, 7], ignoreIndex: 7).item, Foundation.log(1.5), rtol: 1e-6)
        // every row ignored: 0
        #expect(crossEntropy(x, targets: [-100, -100]).item == 0)
        // mean over 2 counted rows of 3: (ln(3/2) + ln 3) / 2
        let y = Tensor(shape: [3, 2], values: [0, ln2, 50, -50, 0, ln2])
        allClose(crossEntropy(y, targets: [1, -100, 0]).item, (Foundation.log(1.5) + Foundation.log(3.0)) / 2, rtol: 1e-6)
    }

    @Test("crossEntropy over a vocabulary wider than the SIMD width with large logits stays finite and exact")
    func crossEntropyLargeLogits() {
        // logits 0 except 100 at the target of a 33-way row: loss = log(1 + 32 e^-100) ~ 32 e^-100 ~ 0
        var values = [Float](repeating: 0, count: 33)
        values[20] = 100
        let x = Tensor(shape: [1, 33], values: values)
        let loss = crossEntropy(x, targets: [20]).item
        #expect(loss.isFinite && loss >= 0 && loss < 1e-6)
        // and the wrong target: loss ~ 100
        allClose(crossEntropy(x, targets: [0]).item, 100, rtol: 1e-6)
    }
}
