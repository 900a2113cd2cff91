import Foundation
import PPO
import TestSupport
import Testing

// KL estimators by hand, the adaptive KL rule step by step, and the temperature controllers.

@Suite("Controllers")
struct ControllerTests {
    @Test("k1 and k3 per token by hand")
    func estimators() {
        // logp -1, ref -2: k1 = 1; r = q/p = e^-1: (r - 1) - log r = e^-1 - 1 + 1 = 0.3678794
        #expect(KLEstimator.k1.estimate(logProb: -1, referenceLogProb: -2) == 1)
        #expect(abs(KLEstimator.k3.estimate(logProb: -1, referenceLogProb: -2) - 0.3678794) < 1e-6)
        // logp -2, ref -1: k1 = -1; r = e: e - 1 - 1 = 0.7182818
        #expect(KLEstimator.k1.estimate(logProb: -2, referenceLogProb: -1) == -1)
        #expect(abs(KLEstimator.k3.estimate(logProb: -2, referenceLogProb: -1) - 0.7182818) < 1e-6)
        // identical models: both 0; k3 is never negative
        #expect(KLEstimator.k3.estimate(logProb: -0.7, referenceLogProb: -0.7) == 0)
        for (p, q) in [(-0.1, -3.0), (-4.0, -0.2), (-1.0, -1.001)] as [(Float, Float)] {
            #expect(KLEstimator.k3.estimate(logProb: p, referenceLogProb: q) >= 0)
        }
    }

    @Test("adaptive KL controller follows Ziegler's rule over several steps; a fixed one never moves")
    func adaptiveKL() {
        var c = KLController(initial: 0.1, target: 6, horizon: 100)
        var expected = 0.1
        // KL 12: error clip(1, .2) = 0.2; 6.6: 0.1; 3: clip(-0.5) = -0.2; 6: 0 -- 16 samples per step
        for (kl, error) in [(12.0, 0.2), (6.6, 0.1), (3.0, -0.2), (6.0, 0.0)] {
            c.update(currentKL: kl, steps: 16)
            expected *= 1 + error * 16 / 100
            #expect(abs(c.coefficient - expected) < 1e-12, "after KL \(kl)")
        }
        #expect(abs(expected - 0.1 * 1.032 * 1.016 * 0.968) < 1e-12)
        var f = KLController(fixed: 0.05)
        f.update(currentKL: 100, steps: 1000)
        #expect(f.coefficient == 0.05 && !f.isAdaptive)
        // state round trip and a damaged state
        var restored = KLController(initial: 1, target: 6, horizon: 100)
        #expect(throws: Never.self) { try restored.restore(c.state) }
        #expect(restored == c)
        #expect(throws: PPOError.invalidControllerState(key: "kl_coefficient", reason: "missing")) { try restored.restore([:]) }
        #expect(throws: PPOError.self) { try restored.restore(["kl_coefficient": -1]) }
    }

    @Test("entropy-targeting temperature: raised under the target, lowered above, log-space steps, bounded")
    func entropyTemperature() {
        var c = EntropyTemperatureController(target: 0.5, rate: 0.1, minimum: 0.5, maximum: 1.5, initial: 1)
        c.update(meanEntropy: 0.25)  // relative error +0.5 -> log T += 0.05
        #expect(abs(Double(c.temperature) - Foundation.exp(0.05)) < 1e-6)
        c.update(meanEntropy: 2.0)  // relative error -3 -> clipped to -1 -> log T -= 0.1
        #expect(abs(Double(c.temperature) - Foundation.exp(-0.05)) < 1e-6)
        c.update(meanEntropy: .nan)  // ignored
        #expect(abs(Double(c.temperature) - Foundation.exp(-0.05)) < 1e-6)
        for _ in 0..<100 { c.update(meanEntropy: 0) }
        #expect(c.temperature == 1.5)
        for _ in 0..<100 { c.update(meanEntropy: 5) }
        #expect(c.temperature == 0.5)
    }

    @Test("temperature controller: entropy mode or a schedule over iterations, with state round trip")
    func temperatureController() throws {
        var e = TemperatureController(.entropyTarget(target: 0.5, rate: 0.2, minimum: 0.4, maximum: 2, initial: 1))
        #expect(e.temperature == 1)
        e.update(meanEntropy: 0.1)
        #expect(e.temperature > 1)
        var copy = TemperatureController(.entropyTarget(target: 0.5, rate: 0.2, minimum: 0.4, maximum: 2, initial: 1))
        try copy.restore(e.state)
        #expect(copy.temperature == e.temperature && copy.position == 1)
        #expect(throws: PPOError.self) { try copy.restore(["temperature_position": 1]) }

        var s = TemperatureController(.schedule(.linearDecay(start: 1.2, decrement: 0.1, interval: 2, floor: 0.9)))
        var seen: [Float] = []
        for _ in 0..<8 { seen.append(s.temperature); s.update(meanEntropy: 0) }
        allClose(seen, [1.2, 1.2, 1.1, 1.1, 1.0, 1.0, 0.9, 0.9], rtol: 1e-6, atol: 1e-6)
        var resumed = TemperatureController(.schedule(.linearDecay(start: 1.2, decrement: 0.1, interval: 2, floor: 0.9)))
        try resumed.restore(s.state)
        #expect(resumed == s)
        #expect(throws: PPOError.self) { try resumed.restore(["temperature_position": 1.5]) }
    }
}
