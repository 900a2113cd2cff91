/// A small, fast, seedable random number generator (SplitMix64, Steele et al. 2014) whose whole state is one
/// `UInt64`, so generated datasets are reproducible from a seed on any platform and Swift version.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The current state (save it to resume the stream).
    public var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// A generator for one named stream of a seed (a domain, a purpose): streams of different labels are
    /// independent, so adding a domain does not change another domain's problems.
    public init(seed: UInt64, stream label: String) {
        state = seed ^ StableHash.fnv1a64(label)
        _ = next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `range` (Lemire's multiply-and-reject, unbiased; own code rather than the
    /// standard library's `random(in:)` so the stream never changes under a new Swift release).
    public mutating func integer(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(bitPattern: Int64(range.upperBound &- range.lowerBound)) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }
        var m = next().multipliedFullWidth(by: span)
        if m.low < span {
            let threshold = (0 &- span) % span
            while m.low < threshold { m = next().multipliedFullWidth(by: span) }
        }
        return range.lowerBound &+ Int(bitPattern: UInt(m.high))
    }

    /// True with probability `probability`.
    public mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }

    /// A uniform element of a non-empty array.
    public mutating func element<T>(of array: [T]) -> T {
        precondition(!array.isEmpty, "SeededGenerator.element(of:): the array is empty")
        return array[integer(in: 0...(array.count - 1))]
    }
}
