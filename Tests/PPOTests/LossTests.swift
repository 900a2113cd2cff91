import Foundation
import PPO
import Tensor
import TestSupport
import Testing

// The fused PPO ops: forward values by hand, gradients by hand where the clip decides, and finite
// differences where the loss is smooth.

@Suite("PPO losses")
struct LossTests {
    // ratios r = exp(logp - old): [1, 1.5, 1.5, 0.5, 0.5, (masked)], advantages [2, 1, -1, 1, -1, 3], eps 0.2
    //   token 0: r inside         -> loss -A r = -2,   d/dlogp = -A r = -2
    //   token 1: A > 0, r > 1.2   -> clipped -1.2,     gradient 0
    //   token 2: A < 0, r > 1.2   -> unclipped 1.5,    d/dlogp = 1.5
    //   token 3: A > 0, r < 0.8   -> unclipped -0.5,   d/dlogp = -0.5
    //   token 4: A < 0, r < 0.8   -> clipped 0.8,      gradient 0
    // mean over 5 tokens: -1.4 / 5 = -0.28; gradients / 5.
    static let old: [Float] = [-1, -1, -1, -1, -1, -1]
    static let logp: [Float] = [-1, -1 + Float(Foundation.log(1.5)), -1 + Float(Foundation.log(1.5)),
                                -1 + Float(Foundation.log(0.5)), -1 + Float(Foundation.log(0.5)), -0.3]
    static let advantages: [Float] = [2, 1, -1, 1, -1, 3]
    static let mask: [Float] = [1, 1, 1, 1, 1, 0]

    @Test("clipped surrogate: value, clip fraction, approximate KL, and zero gradient exactly where the clip is active")
    func clippedSurrogate() {
        let x = Tensor(shape: [6], values: Self.logp, requiresGrad: true)
        let out = clippedPolicyLoss(logProbs: x, oldLogProbs: Self.old, advantages: Self.advantages, mask: Self.mask, clipEpsilon: 0.2)
        allClose([out.loss.item], [-0.28], rtol: 1e-5, atol: 1e-6)
        #expect(abs(out.clipFraction - 0.4) < 1e-12)
        // k3: r = 1 -> 0; r = 1.5 -> 0.5 - ln 1.5 = 0.0945349; r = 0.5 -> -0.5 + ln 2 = 0.1931472 (each twice)
        #expect(abs(out.approximateKL - (2 * 0.0945349 + 2 * 0.1931472) / 5) < 1e-6)
        out.loss.backward()
        allClose(x.grad!.toArray(), [-0.4, 0, 0.3, -0.1, 0, 0], rtol: 1e-5, atol: 1e-7)
    }

    @Test("clipped surrogate gradient agrees with finite differences away from the clip boundaries")
    func surrogateFiniteDifferences() {
        let x = Tensor(shape: [6], values: Self.logp)
        #expect(checkGradients([x], h: 1e-3, rtol: 1e-3, atol: 1e-5) {
            clippedPolicyLoss(logProbs: $0[0], oldLogProbs: Self.old, advantages: Self.advantages, mask: Self.mask, clipEpsilon: 0.2).loss
        })
        // random ratios within the trust region: every token has a gradient
        let near = randomUniform([12], seed: 3, low: -0.15, high: 0.15)
        let adv = randomNormal([12], seed: 4).toArray()
        #expect(checkGradients([near], h: 1e-3, rtol: 1e-3, atol: 1e-5) {
            clippedPolicyLoss(logProbs: $0[0], oldLogProbs: [Float](repeating: 0, count: 12), advantages: adv,
                              mask: [Float](repeating: 1, count: 12), clipEpsilon: 0.2).loss
        })
    }

    @Test("dual clip caps the loss of negative advantages at -c A and zeroes that gradient")
    func dualClip() {
        // r = 4, A = -1: standard loss 4 -> capped at 3 (gradient 0); r = 2, A = -1: 2 < 3 stays (gradient 2);
        // r = 4, A = +1: clipped -1.2 (gradient 0), dual clip does not apply to positive advantages.
        let x = Tensor(shape: [3], values: [Float(Foundation.log(4.0)), Float(Foundation.log(2.0)), Float(Foundation.log(4.0))],
                       requiresGrad: true)
        let out = clippedPolicyLoss(logProbs: x, oldLogProbs: [0, 0, 0], advantages: [-1, -1, 1], mask: [1, 1, 1],
                                    clipEpsilon: 0.2, dualClip: 3)
        allClose([out.loss.item], [(3 + 2 - 1.2) / 3], rtol: 1e-5, atol: 1e-6)
        out.loss.backward()
        allClose(x.grad!.toArray(), [0, 2.0 / 3, 0], rtol: 1e-5, atol: 1e-7)
        #expect(abs(out.clipFraction - 2.0 / 3) < 1e-12)
        // without the dual clip the first token keeps its (unbounded) gradient
        let y = Tensor(shape: [3], values: x.toArray(), requiresGrad: true)
        let plain = clippedPolicyLoss(logProbs: y, oldLogProbs: [0, 0, 0], advantages: [-1, -1, 1], mask: [1, 1, 1], clipEpsilon: 0.2)
        plain.loss.backward()
        allClose(y.grad!.toArray(), [4.0 / 3, 2.0 / 3, 0], rtol: 1e-5, atol: 1e-7)
    }

    @Test("clipped value loss: value by hand, zero gradient where the clipped term wins outside the range")
    func valueClip() {
        // clip 0.2:
        //   v 1.0, old 0.9, R 2 -> both 1 (inside): 1, d = v - R = -1
        //   v 1.5, old 1.0, R 2 -> unclipped 0.25, clipped (1.2 - 2)^2 = 0.64 wins, outside -> d = 0
        //   v 1.5, old 1.0, R 1 -> unclipped 0.25 wins over 0.04, d = 0.5
        //   v 0.0, old 0.1, R 0 -> 0, d = 0
        // loss 0.5 * (1 + 0.64 + 0.25 + 0) / 4 = 0.23625; gradient d / 4
        let v = Tensor(shape: [5], values: [1, 1.5, 1.5, 0, 42], requiresGrad: true)
        let out = clippedValueLoss(values: v, oldValues: [0.9, 1, 1, 0.1, 0], returns: [2, 2, 1, 0, 0], mask: [1, 1, 1, 1, 0], clip: 0.2)
        allClose([out.loss.item], [0.23625], rtol: 1e-5, atol: 1e-7)
        #expect(abs(out.clipFraction - 0.25) < 1e-12)
        out.loss.backward()
        allClose(v.grad!.toArray(), [-0.25, 0, 0.125, 0, 0], rtol: 1e-5, atol: 1e-7)
        // no clip: 0.5 * mean squared error, gradient (v - R) / n
        let w = Tensor(shape: [4], values: [1, 1.5, 1.5, 0], requiresGrad: true)
        let plain = clippedValueLoss(values: w, oldValues: [0, 0, 0, 0], returns: [2, 2, 1, 0], mask: [1, 1, 1, 1], clip: nil)
        allClose([plain.loss.item], [0.5 * (1 + 0.25 + 0.25) / 4], rtol: 1e-5, atol: 1e-7)
        plain.loss.backward()
        allClose(w.grad!.toArray(), [-0.25, -0.125, 0.125, 0], rtol: 1e-5, atol: 1e-7)
        let smooth = randomNormal([8], seed: 7)
        let old = smooth.toArray().map { $0 + 0.05 }  // every token inside the clip range
        #expect(checkGradients([smooth], h: 1e-3, rtol: 1e-3, atol: 1e-5) {
            clippedValueLoss(values: $0[0], oldValues: old, returns: randomNormal([8], seed: 8).toArray(),
                             mask: [1, 1, 1, 1, 1, 1, 1, 0], clip: 0.2).loss
        })
    }

    /// log softmax(x / T) in Double, one row.
    static func logSoftmax(_ x: [Float], _ t: Double) -> [Double] {
        let z = x.map { Double($0) / t }
        let m = z.max()!
        let lse = m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) })
        return z.map { $0 - lse }
    }

    @Test("selected log-probs: values in float64 by hand, gradient by finite differences, masked rows inert")
    func logProbs() {
        let logits = randomNormal([4, 7], seed: 11, std: 2)
        let targets: [Int32] = [3, 0, 6, 2]
        let mask: [Float] = [1, 1, 0, 1]
        let out = selectedLogProbs(logits, targets: targets, temperature: 0.7, mask: mask)
        let rows = (0..<4).map { Array(logits.toArray()[($0 * 7)..<($0 * 7 + 7)]) }
        let expected = (0..<4).map { mask[$0] == 0 ? 0 : Self.logSoftmax(rows[$0], 0.7)[Int(targets[$0])] }
        allClose(out.toArray(), expected, rtol: 1e-5, atol: 1e-6)
        #expect(checkGradients([logits], h: 1e-2, rtol: 1e-2, atol: 1e-4) {
            selectedLogProbs($0[0], targets: targets, temperature: 0.7, mask: mask)
        })
        let x = Tensor(shape: [4, 7], values: logits.toArray(), requiresGrad: true)
        sum(selectedLogProbs(x, targets: targets, temperature: 0.7, mask: mask)).backward()
        #expect(x.grad!.toArray()[14..<21].allSatisfy { $0 == 0 })
    }

    @Test("token entropy: values in float64 by hand, gradient through the logits by finite differences")
    func entropy() {
        let logits = randomNormal([5, 20], seed: 12, std: 1.5)  // 20 columns: one full SIMD block and a tail
        let mask: [Float] = [1, 0, 1, 1, 1]
        for t in [1.0, 1.3] {
            let out = tokenEntropy(logits, temperature: Float(t), mask: mask)
            let expected = (0..<5).map { r -> Double in
                guard mask[r] != 0 else { return 0 }
                let lp = Self.logSoftmax(Array(logits.toArray()[(r * 20)..<(r * 20 + 20)]), t)
                return -lp.reduce(0) { $0 + Foundation.exp($1) * $1 }
            }
            allClose(out.toArray(), expected, rtol: 1e-5, atol: 1e-6)
            #expect(checkGradients([logits], h: 1e-2, rtol: 1e-2, atol: 1e-4, "T \(t)") {
                tokenEntropy($0[0], temperature: Float(t), mask: mask)
            })
        }
        // a uniform row has entropy log V and zero gradient (it is the maximum)
        let flat = Tensor(shape: [1, 8], values: [Float](repeating: 0.3, count: 8), requiresGrad: true)
        let h = tokenEntropy(flat)
        allClose([h.item], [Foundation.log(8.0)], rtol: 1e-6, atol: 1e-6)
        h.backward()
        allClose(flat.grad!.toArray(), [Double](repeating: 0, count: 8), rtol: 0, atol: 1e-6)
    }

    @Test("masked mean: value and gradient")
    func maskedMeanOp() {
        let x = Tensor(shape: [4], values: [1, 2, 30, 3], requiresGrad: true)
        let m = maskedMean(x, mask: [1, 1, 0, 1])
        #expect(m.item == 2)
        m.backward()
        allClose(x.grad!.toArray(), [1.0 / 3, 1.0 / 3, 0, 1.0 / 3], rtol: 1e-6, atol: 1e-7)
    }
}
