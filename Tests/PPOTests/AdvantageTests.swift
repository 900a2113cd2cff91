import PPO
import TestSupport
import Testing

// GAE, whitening, GRPO and explained variance against values computed by hand (shown in the comments).

@Suite("Advantages")
struct AdvantageTests {
    @Test("GAE matches the hand recursion, and masked positions are skipped")
    func gae() {
        // gamma 0.9, lambda 0.8, rewards [0, 0, 1], values [0.5, 0.6, 0.7]:
        // d2 = 1 - 0.7 = 0.3; A2 = 0.3
        // d1 = 0.9*0.7 - 0.6 = 0.03; A1 = 0.03 + 0.72*0.3 = 0.246
        // d0 = 0.9*0.6 - 0.5 = 0.04; A0 = 0.04 + 0.72*0.246 = 0.21712; returns A + V
        let plain = Advantages.gae(rewards: [0, 0, 1], values: [0.5, 0.6, 0.7], mask: [1, 1, 1], batch: 1, length: 3,
                                   gamma: 0.9, lambda: 0.8)
        allClose(plain.advantages, [0.21712, 0.246, 0.3], rtol: 1e-6, atol: 1e-6)
        allClose(plain.returns, [0.71712, 0.846, 1.0], rtol: 1e-6, atol: 1e-6)
        // Row 0: a prompt position and a padding position around the same three tokens (garbage rewards and
        // values there must not leak in); row 1: one token, terminal: A = r - V.
        let masked = Advantages.gae(rewards: [5, 0, 0, 1, 7, 0, 2, 0, 0, 0], values: [9, 0.5, 0.6, 0.7, 9, 0, 0.5, 0, 0, 0],
                                    mask: [0, 1, 1, 1, 0, 0, 1, 0, 0, 0], batch: 2, length: 5, gamma: 0.9, lambda: 0.8)
        allClose(masked.advantages, [0, 0.21712, 0.246, 0.3, 0, 0, 1.5, 0, 0, 0], rtol: 1e-6, atol: 1e-6)
        allClose(masked.returns, [0, 0.71712, 0.846, 1.0, 0, 0, 2, 0, 0, 0], rtol: 1e-6, atol: 1e-6)
    }

    @Test("GAE with lambda 1 and gamma 1 gives returns equal to the reward-to-go")
    func monteCarlo() {
        let r = Advantages.gae(rewards: [1, 2, 3, 4], values: [0.3, -1, 2, 0.5], mask: [1, 1, 1, 1], batch: 1, length: 4,
                               gamma: 1, lambda: 1)
        allClose(r.returns, [10.0, 9, 7, 4], rtol: 1e-6, atol: 1e-6)
        allClose(r.advantages, [9.7, 10, 5, 3.5], rtol: 1e-6, atol: 1e-6)
    }

    @Test("whitening uses the masked mean and the unbiased std")
    func whitening() {
        // mean 2.5, std sqrt(5/3) = 1.2909944
        allClose(Advantages.whiten([1, 2, 3, 4], mask: [1, 1, 1, 1]), [-1.1618950, -0.3872983, 0.3872983, 1.1618950],
                 rtol: 1e-5, atol: 1e-6)
        // masked: values 1, 2, 3 -> mean 2, std 1; the masked 100 is ignored and becomes 0
        allClose(Advantages.whiten([1, 2, 100, 3], mask: [1, 1, 0, 1]), [-1.0, 0, 0, 1], rtol: 1e-6, atol: 1e-6)
        allClose(Advantages.whiten([1, 2, 100, 3], mask: [1, 1, 0, 1], shiftMean: false), [1.0, 2, 0, 3], rtol: 1e-6, atol: 1e-6)
    }

    @Test("GRPO advantages for a known group, broadcast over the completion tokens")
    func grpo() {
        // group 1: mean 0.5, unbiased std sqrt(1/3) = 0.5773503 -> +-0.5 / (0.5773503 + 1e-4) = +-0.8658753
        // group 2: all equal -> 0
        let a = Advantages.groupRelative(scores: [1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5], groupSize: 4)
        allClose(a, [0.8658753, -0.8658753, -0.8658753, 0.8658753, 0, 0, 0, 0], rtol: 1e-6, atol: 1e-6)
        // scale none (Dr. GRPO): just r - mean_group
        allClose(Advantages.groupRelative(scores: [1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5], groupSize: 4, scale: .none),
                 [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0], rtol: 1e-6, atol: 1e-6)
        // a group that differs by 0.02 gets unit-size advantages when scaled by its own std, 0.01 when not scaled,
        // and a fifth of the answer group's size when scaled by the batch's std:
        // scores [1, 0, 0.50, 0.52]: group stds sqrt(0.5) and sqrt(0.0002); batch mean 0.505, unbiased variance
        // (0.245025 + 0.255025 + 0.000025 + 0.000225) / 3 = 0.1667667, std 0.4083708
        let small: [Float] = [1, 0, 0.5, 0.52]
        allClose(Advantages.groupRelative(scores: small, groupSize: 2),
                 [0.5 / (0.7071068 + 1e-4), -0.5 / (0.7071068 + 1e-4), -0.01 / (0.01414214 + 1e-4), 0.01 / (0.01414214 + 1e-4)], rtol: 1e-4, atol: 1e-6)
        allClose(Advantages.groupRelative(scores: small, groupSize: 2, scale: .none), [0.5, -0.5, -0.01, 0.01], rtol: 1e-5, atol: 1e-6)
        allClose(Advantages.groupRelative(scores: small, groupSize: 2, scale: .batch),
                 [0.5 / 0.4084708, -0.5 / 0.4084708, -0.01 / 0.4084708, 0.01 / 0.4084708], rtol: 1e-5, atol: 1e-6)
        let wide = Advantages.broadcast(perRow: [2, -1], mask: [0, 1, 1, 1, 1, 0], length: 3)
        #expect(wide == [0, 2, 2, -1, -1, 0])
    }

    @Test("explained variance: 1 for a perfect critic, 0 for a constant one")
    func explainedVariance() {
        let returns: [Float] = [1, 2, 3, 4]
        #expect(abs(Advantages.explainedVariance(values: returns, returns: returns, mask: [1, 1, 1, 1]) - 1) < 1e-12)
        #expect(abs(Advantages.explainedVariance(values: [7, 7, 7, 7], returns: returns, mask: [1, 1, 1, 1])) < 1e-12)
        // residual [0.5, -0.5, 0.5, -0.5]: var 1/3; var(returns) 5/3 -> 1 - 0.2 = 0.8
        let ev = Advantages.explainedVariance(values: [0.5, 2.5, 2.5, 4.5], returns: returns, mask: [1, 1, 1, 1])
        #expect(abs(ev - 0.8) < 1e-6)
    }
}
