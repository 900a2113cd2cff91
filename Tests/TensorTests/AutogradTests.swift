import Foundation
import Tensor
import Testing
import TestSupport

// The autograd graph (Sources/Tensor/Autograd.swift): withNoGrad records nothing, gradients accumulate
// with += when an input is used twice (or across backward calls), a composed graph differentiates
// correctly, and a small training-style step is bit-for-bit deterministic.

@Suite("Autograd")
struct AutogradTests {
    @Test("withNoGrad: outputs of every op do not require gradients, and backward state is untouched")
    func noGradRecordsNothing() {
        let x = randomNormal([2, 3, 5], seed: 41, requiresGrad: true)
        let w = randomNormal([4, 5], seed: 42, requiresGrad: true)
        let table = randomNormal([7, 5], seed: 43, requiresGrad: true)
        let outputs: [(String, Tensor)] = withNoGrad {
            var rng = RandomGenerator(seed: 1)
            let h = linear(x, weight: w)
            return [
                ("linear", h), ("matmul", matmul(x, w, transposeB: true)), ("add", add(x, x)), ("mul", mul(x, x)),
                ("exp", exp(x)), ("silu", silu(x)), ("softmax", softmax(x)), ("logSoftmax", logSoftmax(x)),
                ("rmsNorm", rmsNorm(x, weight: Tensor.full([5], 1), eps: 1e-5)), ("sum", sum(x)),
                ("mean", mean(x, axis: 1)), ("reshape", reshape(x, [6, 5])), ("permute", permute(x, [2, 1, 0])),
                ("concat", concat([x, x], axis: 0)), ("split", split(x, sizes: [2, 3], axis: 2)[0]),
                ("embedding", embedding(table, ids: [1, 2], shape: [2])), ("dropout", dropout(x, p: 0.5, rng: &rng)),
                ("crossEntropy", crossEntropy(reshape(x, [6, 5]), targets: [0, 1, 2, 3, 4, 0])),
                ("causalMask", causalMask(x)), ("gatherRows", gatherRows(x, index: [0, 1, 2, 3, 4, 0])),
                ("mseLoss", mseLoss(x, x)), ("clamp", clamp(x, min: 0, max: 1)),
            ]
        }
        for (name, t) in outputs { #expect(!t.requiresGrad, "\(name) output requires a gradient inside withNoGrad") }
        #expect(GradMode.isEnabled, "grad mode must be back on after withNoGrad")
        // recording resumes afterwards
        #expect(mul(x, x).requiresGrad)
        #expect(x.grad == nil && w.grad == nil && table.grad == nil)
    }

    @Test("outputs do not require gradients when no input does")
    func constantsRecordNothing() {
        let a = randomNormal([3, 5], seed: 44), b = randomNormal([5, 2], seed: 45)
        #expect(!matmul(a, b).requiresGrad)
        #expect(!softmax(a).requiresGrad)
    }

    @Test("an input used by two ops gets the sum of both gradients")
    func accumulationOverUses() {
        let x = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        // y = 2x + 3x, dy/dx = 5
        add(scale(x, 2), scale(x, 3)).backward()
        #expect(x.grad?.toArray() == [5, 5, 5])

        // z = sum(x * x) + sum(exp(x)): dz/dx = 2x + e^x
        let v = randomNormal([17], seed: 46)
        let x2 = Tensor(shape: [17], values: v.toArray(), requiresGrad: true)
        add(sum(mul(x2, x2)), sum(exp(x2))).backward()
        allClose(x2.grad!.toArray(), v.toArray().map { 2 * Double($0) + Foundation.exp(Double($0)) }, rtol: 1e-5, atol: 1e-6)

        // the same input on both sides of one op: d(x * x)/dx = 2x
        let x3 = Tensor(shape: [2], values: [3, -4], requiresGrad: true)
        mul(x3, x3).backward()
        #expect(x3.grad?.toArray() == [6, -8])
    }

    @Test("a leaf's gradient accumulates across backward calls until it is zeroed")
    func accumulationOverCalls() {
        let x = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        scale(x, 3).backward()
        scale(x, 4).backward()
        #expect(x.grad?.toArray() == [7, 7])
        x.grad?.zero()
        scale(x, 1).backward()
        #expect(x.grad?.toArray() == [1, 1])
    }

    @Test("a diamond-shaped graph (shared intermediate) differentiates correctly")
    func sharedIntermediate() {
        let x = randomNormal([3, 5], seed: 47)
        let w = randomUniform([5], seed: 48, low: 0.5, high: 1.5)
        checkGradients([x, w], "diamond") { v in
            let h = rmsNorm(v[0], weight: v[1], eps: 1e-5)         // shared intermediate
            return add(mul(silu(h), h), softmax(h))               // used by three consumers
        }
    }

    @Test("a small transformer-like step (matmul, rmsNorm, silu, crossEntropy) differentiates correctly")
    func composedGraph() {
        let x = randomNormal([4, 5], seed: 49), w1 = randomNormal([5, 17], seed: 50, std: 0.5)
        let g = randomUniform([17], seed: 51, low: 0.5, high: 1.5), w2 = randomNormal([17, 6], seed: 52, std: 0.5)
        let targets: [Int32] = [0, 5, -100, 3]
        checkGradients([x, w1, g, w2], "composed") { v in
            let h = silu(rmsNorm(matmul(v[0], v[1]), weight: v[2], eps: 1e-5))
            return crossEntropy(matmul(h, v[3]), targets: targets, labelSmoothing: 0.1)
        }
    }

    /// One forward+backward of a small model; returns the bit patterns of the loss and every gradient.
    private func step(seed: UInt64) -> [[UInt32]] {
        // sizes put rmsNorm, silu and the log-softmax over the two-thread threshold (Parallel.minimumWork)
        var rng = RandomGenerator(seed: seed)
        let x = Tensor.randn([128, 96], rng: &rng)
        let w = Tensor.randn([96, 96], std: 0.1, rng: &rng); w.requiresGrad = true
        let g = Tensor.rand([96], low: 0.5, high: 1.5, rng: &rng); g.requiresGrad = true
        let head = Tensor.randn([96, 300], std: 0.1, rng: &rng); head.requiresGrad = true
        let targets = (0..<128).map { _ in Int32(rng.nextInt(below: 300)) }
        let h = silu(rmsNorm(matmul(x, w), weight: g, eps: 1e-5))
        let loss = crossEntropy(matmul(h, head), targets: targets)
        loss.backward()
        return [bitPatterns(loss), bitPatterns(w.grad!), bitPatterns(g.grad!), bitPatterns(head.grad!)]
    }

    @Test("same seed, same inputs: forward and backward are bit-identical across runs")
    func determinism() {
        let first = step(seed: 2024), second = step(seed: 2024)
        for (i, name) in ["loss", "dW", "dGain", "dHead"].enumerated() {
            #expect(first[i] == second[i], "\(name) differs between two identical runs")
        }
        #expect(first[0] != step(seed: 2025)[0], "a different seed should give a different loss")
    }

    /// Leaves freed buffers of the sizes a small graph uses filled with NaN in the buffer pool, so a kernel
    /// that reads a fresh (unzeroed) gradient buffer instead of storing into it poisons the result.
    private func poisonBufferPool(_ shapes: [[Int]]) {
        for shape in shapes {
            let junk = (0..<32).map { _ in Tensor.full(shape, .nan) }
            _ = junk.count
        }
    }

    @Test("kernels that store into a fresh gradient buffer and those that add to one agree with finite differences",
          arguments: [false, true])
    func freshAndAccumulatedGradients(reuse: Bool) {
        // x feeds a residual add (whose first operand takes the output gradient), rmsNorm twice, q/k/v
        // products, rotary, grouped-query attention (2 query heads per kv head) and swiglu; each input is
        // used more than once so both the store path and the add path run. With reuse, a second branch
        // consumes x first, so every buffer already exists when the attention branch reaches it.
        let b = 2, t = 5, heads = 4, kvHeads = 2, d = 4, c = heads * d
        let table = RotaryTable(headDim: d, positions: 8, theta: 10_000)
        let inputs = [randomNormal([b, t, c], seed: 71), randomNormal([c, c], seed: 72, std: 0.3),
                      randomNormal([kvHeads * d, c], seed: 73, std: 0.3), randomNormal([c], seed: 74, std: 0.5)]
        poisonBufferPool([[b, t, c], [b, t, kvHeads * d], [b, heads, t, t], [c, c], [kvHeads * d, c], [c]])
        checkGradients(inputs, rtol: 2e-2, atol: 2e-3) { v in
            let (x, wq, wkv, gain) = (v[0], v[1], v[2], v[3])
            let first = reuse ? mul(rmsNorm(x, weight: gain, eps: 1e-5), x) : nil
            let a = rmsNorm(x, weight: gain, eps: 1e-5)
            let q = rotaryEmbedding(linear(a, weight: wq), heads: heads, table: table)
            let k = rotaryEmbedding(linear(a, weight: wkv), heads: kvHeads, table: table)
            let vv = linear(a, weight: wkv)
            let p = attentionProbabilities(q: q, k: k, heads: heads, kvHeads: kvHeads)
            let o = attentionApply(p, v: vv, heads: heads, kvHeads: kvHeads)
            let h = add(x, linear(o, weight: wq))
            let m = swiglu(gate: linear(h, weight: wq), up: add(h, q))
            let out = add(add(m, h), rmsNorm(h, weight: gain, eps: 1e-5))
            guard let first else { return out }
            return add(out, first)
        }
    }
}
