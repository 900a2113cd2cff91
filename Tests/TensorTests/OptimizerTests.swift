import Foundation
import Tensor
import Testing
import TestSupport

// AdamW and SGD (Sources/Tensor/Optimizer.swift): each fits a linear regression to a known solution;
// the first updates match the published formulas computed by hand in Double; AdamW's decoupled decay
// shrinks exactly by (1 - lr * wd) per step and only on decay-flagged views; frozen views never move.

@Suite("Optimizers")
struct OptimizerTests {
    /// y = X w* + b* for fixed X (64, 5): the regression both optimizers must solve.
    private static let wStar: [Float] = [1.5, -2, 0.5, 3, -1]
    private static let bStar: Float = 0.25

    private func regressionData() -> (x: Tensor, y: Tensor) {
        let x = randomNormal([64, 5], seed: 61)
        let xs = x.toArray()
        let y = (0..<64).map { r -> Float in
            var s = Double(Self.bStar)
            for j in 0..<5 { s += Double(xs[r * 5 + j]) * Double(Self.wStar[j]) }
            return Float(s)
        }
        return (x, Tensor(shape: [64, 1], values: y))
    }

    /// Runs `steps` of full-batch training of y ~ X w + b with MSE; returns the final loss.
    private func fit(_ store: ParameterStore, _ optimizer: Optimizer, steps: Int,
                     schedule: LearningRateSchedule) -> Float {
        let (x, y) = regressionData()
        var last: Float = .infinity
        for s in 0..<steps {
            store.zeroGradients()
            let loss = mseLoss(linear(x, weight: store["w"], bias: store["b"]), y)
            last = loss.item
            loss.backward()
            optimizer.step(learningRate: schedule.rate(at: s))
        }
        return last
    }

    private func regressionStore() -> ParameterStore {
        ParameterStore([(name: "w", shape: [1, 5], decay: true), (name: "b", shape: [1], decay: false)])
    }

    @Test("AdamW fits y = X w* + b* to within 1e-3")
    func adamWRegression() {
        let store = regressionStore()
        let opt = AdamW(store: store, weightDecay: 0)
        let loss = fit(store, opt, steps: 800, schedule: .cosine(rate: 0.05, warmupSteps: 10, totalSteps: 800, floor: 0))
        allClose(store["w"].toArray(), Self.wStar, rtol: 0, atol: 1e-3, "AdamW w")
        allClose(store["b"].toArray(), [Self.bStar], rtol: 0, atol: 1e-3, "AdamW b")
        #expect(loss < 1e-5)
        #expect(opt.stepCount == 800)
    }

    @Test("SGD with momentum fits y = X w* + b* to within 1e-4")
    func sgdRegression() {
        let store = regressionStore()
        let opt = SGD(store: store, momentum: 0.9)
        let loss = fit(store, opt, steps: 300, schedule: .constant(rate: 0.05))
        allClose(store["w"].toArray(), Self.wStar, rtol: 0, atol: 1e-4, "SGD w")
        allClose(store["b"].toArray(), [Self.bStar], rtol: 0, atol: 1e-4, "SGD b")
        #expect(loss < 1e-7)
    }

    @Test("AdamW's first two updates match the Adam formulas with bias correction (computed in Double)")
    func adamWByHand() {
        let store = ParameterStore([(name: "p", shape: [3], decay: false)])
        store["p"].assign(Tensor(shape: [3], values: [0.5, -1, 2]))
        let opt = AdamW(store: store)
        let lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8
        let g1: [Double] = [0.3, -2, 1e-3], g2: [Double] = [-0.1, -1, 0.5]
        var p: [Double] = [0.5, -1, 2], m = [0.0, 0, 0], v = [0.0, 0, 0]
        for (t, g) in [g1, g2].enumerated() {
            store.gradients.base.update(from: g.map { Float($0) }, count: 3)
            opt.step(learningRate: Float(lr))
            for i in 0..<3 {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                let mh = m[i] / (1 - Foundation.pow(b1, Double(t + 1))), vh = v[i] / (1 - Foundation.pow(b2, Double(t + 1)))
                p[i] -= lr * mh / (vh.squareRoot() + eps)
            }
            allClose(store["p"].toArray(), p, rtol: 1e-6, atol: 1e-6, "after step \(t + 1)")
        }
    }

    @Test("AdamW's vector path (16 lanes, split across threads) has the bits of its scalar formula in Float, element by element, with a tail")
    func adamWVectorBits() {
        // 5,003 elements: 312 vectors and a tail of 11, enough work to split across the cores; gradients of mixed sizes
        // (the second moments' roots range over many binades)
        let n = 5_003
        let store = ParameterStore([(name: "p", shape: [n], decay: true)])
        let p0 = randomNormal([n], seed: 64).toArray()
        store["p"].assign(Tensor(shape: [n], values: p0))
        let (lr, wd, b1, b2, eps): (Float, Float, Float, Float, Float) = (0.01, 0.1, 0.9, 0.999, 1e-8)
        let opt = AdamW(store: store, weightDecay: wd)
        var p = p0, m = [Float](repeating: 0, count: n), v = m
        for t in 1...3 {
            let g = randomNormal([n], seed: 65 + UInt64(t)).toArray().enumerated().map { $1 * Foundation.pow(10, Float($0 % 9) - 4) }
            store.gradients.base.update(from: g, count: n)
            opt.step(learningRate: lr)
            let c1 = 1 - Foundation.pow(b1, Float(t)), c2 = 1 - Foundation.pow(b2, Float(t)), decay = 1 - lr * wd
            for i in 0..<n {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                p[i] = p[i] * decay - lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
            }
            let got = store["p"].toArray()
            let wrong = (0..<n).filter { got[$0].bitPattern != p[$0].bitPattern }
            #expect(wrong.isEmpty, "step \(t): \(wrong.count) of \(n) parameters differ, first at \(wrong.prefix(3))")
        }
    }

    @Test("AdamW decoupled decay: zero gradient shrinks a decay view by exactly (1 - lr*wd) per step; others stay")
    func adamWDecoupledDecay() {
        let store = ParameterStore([(name: "decayed", shape: [5], decay: true),
                                    (name: "plain", shape: [17], decay: false)])
        let d0 = randomNormal([5], seed: 62), p0 = randomNormal([17], seed: 63)
        store["decayed"].assign(d0)
        store["plain"].assign(p0)
        let lr: Float = 0.1, wd: Float = 0.5
        let opt = AdamW(store: store, weightDecay: wd)
        var expected = d0.toArray()
        let factor: Float = 1 - lr * wd
        for step in 1...3 {
            store.zeroGradients()
            opt.step(learningRate: lr)
            expected = expected.map { $0 * factor }
            #expect(store["decayed"].toArray() == expected, "step \(step): decayed view is not exactly x * (1 - lr*wd)^\(step)")
            #expect(store["plain"].toArray() == p0.toArray(), "step \(step): a view without the decay flag moved")
        }
        allClose(store["decayed"].toArray(), d0.toArray().map { Double($0) * 0.95 * 0.95 * 0.95 }, rtol: 1e-6, atol: 0)
    }

    @Test("SGD's first two updates match heavy-ball momentum by hand; L2 decay only on decay views")
    func sgdByHand() {
        let store = ParameterStore([(name: "d", shape: [2], decay: true), (name: "n", shape: [2], decay: false)])
        store["d"].assign(Tensor(shape: [2], values: [1, -2]))
        store["n"].assign(Tensor(shape: [2], values: [1, -2]))
        let opt = SGD(store: store, momentum: 0.9, weightDecay: 0.1)
        let lr = 0.5
        var pd: [Double] = [1, -2], pn: [Double] = [1, -2], bd = [0.0, 0], bn = [0.0, 0]
        for (t, g) in [[0.2, 0.4], [-1.0, 0.3]].enumerated() {
            store.gradients.base.update(from: (g + g).map { Float($0) }, count: 4)
            opt.step(learningRate: Float(lr))
            for i in 0..<2 {
                let gd = g[i] + 0.1 * pd[i]
                bd[i] = t == 0 ? gd : 0.9 * bd[i] + gd
                bn[i] = t == 0 ? g[i] : 0.9 * bn[i] + g[i]
                pd[i] -= lr * bd[i]
                pn[i] -= lr * bn[i]
            }
            allClose(store["d"].toArray(), pd, rtol: 1e-6, atol: 1e-6, "decay view after step \(t + 1)")
            allClose(store["n"].toArray(), pn, rtol: 1e-6, atol: 1e-6, "plain view after step \(t + 1)")
        }
    }

    @Test("frozen views get no gradient and are not updated by AdamW or SGD; trainable ones change",
          arguments: ["AdamW", "SGD"])
    func frozenViews(kind: String) {
        let store = ParameterStore([(name: "w", shape: [3, 5], decay: true), (name: "frozen", shape: [5], decay: true),
                                    (name: "bias", shape: [3], decay: false)])
        var rng = RandomGenerator(seed: 64)
        store.initialize(rng: &rng) { view, r in (0..<view.count).map { _ in r.nextNormal() } }
        store.setFrozen("frozen", true)
        #expect(store.view("frozen")?.frozen == true)
        let before = store.names.map { store[$0].toArray() }
        let optimizer: Optimizer = kind == "AdamW" ? AdamW(store: store) : SGD(store: store)
        let x = randomNormal([4, 5], seed: 65)
        for _ in 0..<3 {
            store.zeroGradients()
            let h = linear(mul(x, store["frozen"]), weight: store["w"], bias: store["bias"])
            sum(mul(h, h)).backward()
            #expect(store["frozen"].grad!.toArray().allSatisfy { $0 == 0 }, "a frozen view received a gradient")
            // even a gradient written into the frozen slot must not move it
            store["frozen"].grad!.assign(Tensor.full([5], 1))
            optimizer.step(learningRate: 0.01)
        }
        let after = store.names.map { store[$0].toArray() }
        #expect(after[1] == before[1], "frozen view changed")
        #expect(after[0] != before[0], "trainable w did not change")
        #expect(after[2] != before[2], "trainable bias did not change")
    }
}
