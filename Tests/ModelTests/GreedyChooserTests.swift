import Foundation
import Model
import Tensor
import TestSupport
import Testing

// The greedy chooser (chooseToken at temperature 0) at a real vocabulary's size: its token is the first index of the
// largest logit, its log-prob and entropy those of a log-softmax computed here in double precision, with masked
// (-inf) entries, a tie for the maximum, and a length that is not a multiple of the vector width.

@Suite("Greedy chooser")
struct GreedyChooserTests {
    /// log-softmax in double precision and its entropy (masked entries add nothing).
    static func reference(_ logits: [Float]) -> (logp: [Double], entropy: Double) {
        let m = Double(logits.max()!)
        let lse = m + Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
        let logp = logits.map { Double($0) - lse }
        let entropy = -logp.reduce(0.0) { $1 == -.infinity ? $0 : $0 + Foundation.exp($1) * $1 }
        return (logp, entropy)
    }

    @Test("49,157 logits with masked entries and a tied maximum: first argmax, double-precision log-prob and entropy",
          arguments: [Float(0.5), 3])
    func largeVocabulary(spread: Float) {
        var rng = RandomGenerator(seed: 17)
        var logits = (0..<49_157).map { _ in rng.nextNormal() * spread }
        for j in stride(from: 5, to: logits.count, by: 997) { logits[j] = -.infinity }
        let top = logits.max()! + 1
        logits[30_001] = top
        logits[41_234] = top  // a tie: the first one wins, as argmax does
        logits[49_156] = top - 0.25  // in the tail past the last full vector
        var none = RandomGenerator(seed: 0)
        let c = chooseToken(logits: logits, options: .greedy(maxNewTokens: 1), rng: &none)
        let (logp, entropy) = Self.reference(logits)
        #expect(c.token == 30_001)
        allClose(c.logProb, logp[30_001], rtol: 1e-5, atol: 1e-5)
        allClose(c.entropy, entropy, rtol: 1e-5, atol: 1e-5)
        #expect(none == RandomGenerator(seed: 0), "greedy drew from the generator")
    }

    @Test("a peaked distribution: the entropy stays accurate near zero, and the maximum in the tail is found")
    func peaked() {
        var logits = [Float](repeating: -30, count: 50)
        logits[49] = 10
        logits[3] = -5
        var none = RandomGenerator(seed: 0)
        let c = chooseToken(logits: logits, options: .greedy(maxNewTokens: 1), rng: &none)
        let (logp, entropy) = Self.reference(logits)
        #expect(c.token == 49)
        allClose(c.logProb, logp[49], rtol: 1e-4, atol: 1e-12)
        allClose(c.entropy, entropy, rtol: 1e-3, atol: 1e-12)
        #expect(entropy > 0 && entropy < 1e-5)
    }

    @Test("logits that are all -inf give token 0 and a NaN log-prob, as their log-softmax does")
    func allMasked() {
        var none = RandomGenerator(seed: 0)
        let c = chooseToken(logits: [Float](repeating: -.infinity, count: 20), options: .greedy(maxNewTokens: 1), rng: &none)
        #expect(c.token == 0)
        #expect(c.logProb.isNaN)
    }
}
