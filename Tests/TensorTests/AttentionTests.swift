import Foundation
import Tensor
import Testing
import TestSupport

// Fused causal attention with grouped-query heads and rotary embeddings (Sources/Tensor/Ops/Attention.swift):
// forward against a per-head numpy loop (explicit scores, mask, softmax, P V), gradients of q, k, v and
// of the probabilities against finite differences. Cases include a KV cache longer than its used part
// (keyCount < rows), queries offset into the keys (S > T), and head dims 2, 5, 17.
// Tolerances: sums of at most 17 products and a softmax, rtol 1e-5 with atol 1e-6.

@Suite("Attention")
struct AttentionTests {
    @Test("attentionProbabilities and attentionApply forward match numpy")
    func forward() throws {
        for (name, c) in try Fixtures.cases("attention") {
            let heads = c.int("heads"), kvHeads = c.int("kvHeads"), keyCount = c.int("keyCount")
            let p = attentionProbabilities(q: c.input("q"), k: c.input("k"), heads: heads, kvHeads: kvHeads,
                                           keyCount: keyCount)
            allClose(p, c.output("probabilities"), rtol: 1e-5, atol: 1e-7, name + " P")
            let o = attentionApply(p, v: c.input("v"), heads: heads, kvHeads: kvHeads)
            allClose(o, c.output("out"), rtol: 1e-5, atol: 1e-6, name + " O")
        }
    }

    @Test("attention gradients of q, k and v (through P and O) match finite differences")
    func gradients() throws {
        for (name, c) in try Fixtures.cases("attention") {
            let heads = c.int("heads"), kvHeads = c.int("kvHeads"), keyCount = c.int("keyCount")
            checkGradients([c.input("q"), c.input("k"), c.input("v")], name) { x in
                let p = attentionProbabilities(q: x[0], k: x[1], heads: heads, kvHeads: kvHeads, keyCount: keyCount)
                return attentionApply(p, v: x[2], heads: heads, kvHeads: kvHeads)
            }
            // a loss on the probabilities themselves (feature alignment)
            checkGradients([c.input("q"), c.input("k")], name + " P") { x in
                attentionProbabilities(q: x[0], k: x[1], heads: heads, kvHeads: kvHeads, keyCount: keyCount)
            }
        }
    }

    @Test("rows longer than the vector width (whole and partial 16-lane blocks) match a double-precision softmax")
    func longRows() {
        // (T, S, keyCount): square causal; queries offset into a longer key range; a cache longer than its keys
        for (t, s, keyCount) in [(37, 37, 37), (48, 48, 48), (5, 40, 40), (3, 64, 33)] {
            let heads = 2, kvHeads = 1, d = 8
            let q = randomNormal([2, t, heads * d], seed: UInt64(t * 100 + s))
            let k = randomNormal([2, s, kvHeads * d], seed: UInt64(t * 100 + s + 1))
            let p = attentionProbabilities(q: q, k: k, heads: heads, kvHeads: kvHeads, keyCount: keyCount)
            #expect(p.shape == [2, heads, t, keyCount])
            let qs = q.toArray(), ks = k.toArray()
            var expected: [Double] = []
            for b in 0..<2 {
                for h in 0..<heads {
                    for i in 0..<t {
                        let visible = keyCount - t + i + 1
                        let scores = (0..<visible).map { j in
                            (0..<d).reduce(0.0) { $0 + Double(qs[(b * t + i) * heads * d + h * d + $1]) * Double(ks[(b * s + j) * kvHeads * d + $1]) }
                                / Double(d).squareRoot()
                        }
                        let m = scores.max()!, z = scores.reduce(0) { $0 + exp($1 - m) }
                        expected += scores.map { exp($0 - m) / z } + [Double](repeating: 0, count: keyCount - visible)
                    }
                }
            }
            allClose(p.toArray(), expected, rtol: 1e-5, atol: 1e-7, "T \(t) S \(s) keys \(keyCount)")
        }
    }

    @Test("rotaryEmbedding matches HF rotate_half in numpy; its gradient matches finite differences")
    func rotary() throws {
        for (name, c) in try Fixtures.cases("rotary") {
            let heads = c.int("heads"), offset = c.int("positionOffset")
            let x = c.input("x")
            let table = RotaryTable(headDim: x.shape[2] / heads, positions: c.int("positions"),
                                    theta: Double(c.float("theta")))
            allClose(rotaryEmbedding(x, heads: heads, table: table, positionOffset: offset), c.output(),
                     rtol: 1e-5, atol: 1e-6, name)
            checkGradients([x], name) { rotaryEmbedding($0[0], heads: heads, table: table, positionOffset: offset) }
        }
    }

    @Test("rotation keeps each (i, i + D/2) pair's norm; position 0 is the identity")
    func rotaryInvariants() {
        let x = randomNormal([1, 3, 8], seed: 81)
        let table = RotaryTable(headDim: 8, positions: 10, theta: 10000)
        #expect(rotaryEmbedding(x, heads: 1, table: table).toArray()[0..<8] == x.toArray()[0..<8])
        let y = rotaryEmbedding(x, heads: 1, table: table, positionOffset: 5).toArray(), xs = x.toArray()
        for t in 0..<3 {
            for i in 0..<4 {
                let a = t * 8 + i, b = a + 4
                let before = Double(xs[a] * xs[a] + xs[b] * xs[b]), after = Double(y[a] * y[a] + y[b] * y[b])
                #expect(abs(after - before) <= 1e-5 * max(before, 1), "t \(t) pair \(i)")
            }
        }
    }
}
