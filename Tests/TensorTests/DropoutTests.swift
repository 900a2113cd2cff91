import Foundation
import Tensor
import Testing
import TestSupport

// dropout (Sources/Tensor/Ops/Loss.swift): seeded masks, the dropped fraction, inverted scaling and a
// gradient equal to the mask. There is no numpy reference for a random mask; the properties are checked.

@Suite("Dropout")
struct DropoutTests {
    @Test("the same seed gives the same mask; a different seed a different one")
    func seededMask() {
        let x = randomNormal([4, 33], seed: 31)
        var r1 = RandomGenerator(seed: 7), r2 = RandomGenerator(seed: 7), r3 = RandomGenerator(seed: 8)
        let a = dropout(x, p: 0.5, rng: &r1), b = dropout(x, p: 0.5, rng: &r2), c = dropout(x, p: 0.5, rng: &r3)
        #expect(bitPatterns(a) == bitPatterns(b))
        #expect(bitPatterns(a) != bitPatterns(c))
        // the generator advanced identically
        #expect(r1 == r2)
    }

    @Test("about p of the elements are dropped; kept ones are scaled by exactly 1/(1-p)", arguments: [0.1, 0.3, 0.75] as [Float])
    func fractionAndScale(p: Float) {
        let n = 100_000
        let x = randomUniform([n], seed: 32, low: 0.5, high: 2)
        var rng = RandomGenerator(seed: 33)
        let y = dropout(x, p: p, rng: &rng)
        let xs = x.toArray(), ys = y.toArray()
        let keep: Float = 1 / (1 - p)
        var dropped = 0, wrongScale = 0
        for i in 0..<n {
            if ys[i] == 0 { dropped += 1 } else if ys[i] != xs[i] * keep { wrongScale += 1 }
        }
        // binomial standard deviation sqrt(p(1-p)/n) <= 0.0016: 0.01 is over 6 sigma
        let fraction = Double(dropped) / Double(n)
        #expect(abs(fraction - Double(p)) < 0.01, "dropped \(fraction), p \(p)")
        #expect(wrongScale == 0, "\(wrongScale) kept values are not x / (1 - p)")
        // the expectation is preserved: mean(y) ~ mean(x)
        let mx = xs.reduce(0.0) { $0 + Double($1) } / Double(n), my = ys.reduce(0.0) { $0 + Double($1) } / Double(n)
        #expect(abs(my - mx) / mx < 0.03)
    }

    @Test("the gradient is the mask (0 or 1/(1-p)) and matches finite differences with a fixed seed")
    func gradientIsMask() {
        let p: Float = 0.4, keep: Float = 1 / (1 - p)
        let x = randomNormal([3, 17], seed: 34, requiresGrad: true)
        var rng = RandomGenerator(seed: 35)
        let y = dropout(x, p: p, rng: &rng)
        y.backward()
        let g = x.grad!.toArray(), ys = y.toArray()
        for i in 0..<g.count {
            #expect(g[i] == (ys[i] == 0 ? 0 : keep), "element \(i): gradient \(g[i]), output \(ys[i])")
        }
        checkGradients([randomNormal([2, 33], seed: 36)], "dropout p 0.4") { xs in
            var r = RandomGenerator(seed: 37)
            return dropout(xs[0], p: p, rng: &r)
        }
    }

    @Test("p = 0 is the identity")
    func zeroProbability() {
        let x = randomNormal([5], seed: 38)
        var rng = RandomGenerator(seed: 39)
        #expect(dropout(x, p: 0, rng: &rng).toArray() == x.toArray())
    }
}
