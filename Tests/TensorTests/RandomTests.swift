import Foundation
import Tensor
import Testing
import TestSupport

// RandomGenerator (Sources/Tensor/RandomGenerator.swift): reference values of SplitMix64 seeding and
// xoshiro256** (computed with the reference algorithms in Python), stream reproducibility, state
// round-trips, and the moments of the normal and uniform draws.

@Suite("RandomGenerator")
struct RandomTests {
    @Test("first outputs match the reference xoshiro256** seeded by SplitMix64")
    func referenceValues() {
        var g0 = RandomGenerator(seed: 0)
        // SplitMix64 from 0 starts with 0xE220A8397B1DCDAF: the state's first word, little-endian
        #expect(Array(g0.stateBytes.prefix(8)) == [0xAF, 0xCD, 0x1D, 0x7B, 0x39, 0xA8, 0x20, 0xE2])
        #expect((0..<4).map { _ in g0.next() } ==
                [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0, 0x6AA5_94F1_262D_2D2C])
        var g42 = RandomGenerator(seed: 42)
        #expect((0..<4).map { _ in g42.next() } ==
                [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1, 0xECB8_AD47_03B3_60A1])
    }

    @Test("the same seed gives the same stream; different seeds differ")
    func sameSeedSameStream() {
        var a = RandomGenerator(seed: 123), b = RandomGenerator(seed: 123), c = RandomGenerator(seed: 124)
        let sa = (0..<1000).map { _ in a.next() }, sb = (0..<1000).map { _ in b.next() }
        let sc = (0..<1000).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
        var n1 = RandomGenerator(seed: 9), n2 = RandomGenerator(seed: 9)
        #expect((0..<100).map { _ in n1.nextNormal() } == (0..<100).map { _ in n2.nextNormal() })
    }

    @Test("stateBytes round-trip continues the identical stream")
    func stateRoundTrip() throws {
        var g = RandomGenerator(seed: 77)
        for _ in 0..<10 { _ = g.next() }
        _ = g.nextNormal()
        let bytes = g.stateBytes
        #expect(bytes.count == 32)
        var restored = try #require(RandomGenerator(stateBytes: bytes))
        #expect(restored == g)
        let original = (0..<100).map { _ in g.next() }
        let resumed = (0..<100).map { _ in restored.next() }
        #expect(original == resumed)
        #expect(RandomGenerator(stateBytes: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(RandomGenerator(stateBytes: [UInt8](repeating: 0, count: 32)) == nil)
    }

    @Test("nextNormal over 100k draws: mean ~ 0, std ~ 1, a sane tail")
    func normalMoments() {
        var g = RandomGenerator(seed: 2024)
        let n = 100_000
        var s = 0.0, s2 = 0.0, beyond3 = 0
        for _ in 0..<n {
            let x = Double(g.nextNormal())
            s += x
            s2 += x * x
            if abs(x) > 3 { beyond3 += 1 }
        }
        let mean = s / Double(n), std = (s2 / Double(n) - mean * mean).squareRoot()
        // standard errors: mean 0.0032, std 0.0022
        #expect(abs(mean) < 0.015, "mean \(mean)")
        #expect(abs(std - 1) < 0.015, "std \(std)")
        // P(|x| > 3) = 0.0027: 270 expected, sd ~16
        #expect(beyond3 > 190 && beyond3 < 350, "\(beyond3) draws beyond 3 sigma")
    }

    @Test("nextFloat and nextDouble are in [0, 1) with mean 1/2; nextInt stays below its bound and hits every value")
    func uniformDraws() {
        var g = RandomGenerator(seed: 5)
        var sf = 0.0
        for _ in 0..<100_000 {
            let f = g.nextFloat(), d = g.nextDouble()
            #expect(f >= 0 && f < 1 && d >= 0 && d < 1)
            sf += Double(f)
        }
        #expect(abs(sf / 100_000 - 0.5) < 0.005)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let k = g.nextInt(below: 7)
            #expect(k >= 0 && k < 7)
            seen.insert(k)
        }
        #expect(seen.count == 7)
    }

    @Test("fork gives a deterministic, different sub-stream")
    func forkStreams() {
        var a = RandomGenerator(seed: 8), b = RandomGenerator(seed: 8)
        var fa = a.fork(), fb = b.fork()
        #expect(fa.next() == fb.next())
        #expect(a == b)
        #expect(fa != a)
    }

    @Test("substream(question:sample:) is a pure function of the state and the indices, with the documented seed (values from an independent Python implementation)")
    func substream() {
        let g = RandomGenerator(seed: 42)
        // Python: SplitMix64 expansion of seed 42, then h = mix(h ^ w) over the 4 state words, question and sample
        // (mix = SplitMix64's step and finaliser), then xoshiro256** seeded with SplitMix64(h); first two outputs.
        let expected: [(Int, Int, [UInt64])] = [(0, 0, [0x322c_adb0_1752_23dd, 0x50fc_68ad_83cc_d73d]),
                                                (3, 1, [0x56e0_e107_b98b_aa9e, 0x0ee4_d1a0_0d35_c02a]),
                                                (1, 3, [0x4ed8_cb3c_1728_a2ad, 0xee10_5a82_e010_4cc1])]
        for (q, s, values) in expected {
            var sub = g.substream(question: q, sample: s)
            #expect([sub.next(), sub.next()] == values, "question \(q), sample \(s)")
        }
        #expect(g == RandomGenerator(seed: 42), "deriving a stream must not advance the generator")
        // (1, 3) and (3, 1) differ: the indices are not summed or swapped
        var a = g.substream(question: 1, sample: 3), b = g.substream(question: 3, sample: 1)
        #expect(a.next() != b.next())
        // another state gives other streams for the same indices
        var c = RandomGenerator(seed: 43).substream(question: 0, sample: 0)
        #expect(c.next() != 0x322c_adb0_1752_23dd)
    }
}
