import Foundation

/// The one seedable random generator used everywhere (xoshiro256**, Blackman & Vigna 2018).
///
/// Its whole state is 32 bytes that `stateBytes` exports and `init(stateBytes:)` restores, so a
/// resumed run draws exactly the numbers the interrupted one would have drawn.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose stream is fully determined by `seed` (expanded with SplitMix64).
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// Restores a generator from `stateBytes`; nil when the byte count is not 32 or the state is all zero.
    public init?(stateBytes: [UInt8]) {
        guard stateBytes.count == 32 else { return nil }
        var w = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 {
            for j in 0..<8 { w[i] |= UInt64(stateBytes[i * 8 + j]) << (8 * UInt64(j)) }
        }
        guard w.contains(where: { $0 != 0 }) else { return nil }
        s = (w[0], w[1], w[2], w[3])
    }

    /// The generator's full state, little-endian, 32 bytes.
    public var stateBytes: [UInt8] {
        [s.0, s.1, s.2, s.3].flatMap { w in (0..<8).map { UInt8((w >> (8 * UInt64($0))) & 0xFF) } }
    }

    public static func == (a: Self, b: Self) -> Bool { a.stateBytes == b.stateBytes }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal (Box-Muller; one draw per call so the state stays 32 bytes).
    public mutating func nextNormal() -> Float {
        let u1 = max(nextDouble(), 1e-300)
        let u2 = nextDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n.
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0, "nextInt(below:) needs a positive bound, got \(n)")
        return Int(next(upperBound: UInt64(n)))
    }

    /// A new generator for a sub-stream, derived deterministically from this one (advances this one).
    public mutating func fork() -> RandomGenerator { RandomGenerator(seed: next()) }

    /// The generator of one sampled row: sample `sample` of question `question` of a sampling call whose generator
    /// is this one. A pure function of this generator's state and the two indices (this one is not advanced), so a
    /// row draws the same numbers whichever process decodes it and whatever rows are decoded beside it.
    ///
    /// The seed is the four state words, then the question and the sample index, each added into a running 64-bit
    /// value and mixed with SplitMix64's finaliser (Steele, Lea & Flood 2014), as `init(seed:)` expands a seed; the
    /// generator is `RandomGenerator(seed:)` of the result.
    public func substream(question: Int, sample: Int) -> RandomGenerator {
        func mix(_ x: UInt64) -> UInt64 {
            var z = x &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var h: UInt64 = 0
        for w in [s.0, s.1, s.2, s.3, UInt64(bitPattern: Int64(question)), UInt64(bitPattern: Int64(sample))] { h = mix(h ^ w) }
        return RandomGenerator(seed: h)
    }
}
