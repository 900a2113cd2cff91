import Foundation

/// A chart axis: the data range widened to round numbers, tick positions and their labels, linear or
/// logarithmic.
public struct AxisScale: Sendable {
    /// How values map to positions.
    public enum Kind: Sendable, Equatable {
        /// Equal steps for equal differences.
        case linear
        /// Equal steps for equal ratios (positive data spanning several decades, such as losses).
        case logarithmic
    }

    /// The mapping.
    public let kind: Kind
    /// The lowest value shown.
    public let lower: Double
    /// The highest value shown.
    public let upper: Double
    /// Tick values, ascending, within lower...upper.
    public let ticks: [Double]
    /// Tick labels, one per tick.
    public let labels: [String]

    /// An axis covering `minimum...maximum` with about `tickCount` round ticks.
    /// - Parameters:
    ///   - minimum: the smallest data value (finite).
    ///   - maximum: the largest data value (finite).
    ///   - kind: linear or logarithmic (logarithmic needs minimum > 0; otherwise linear is used).
    ///   - tickCount: the wanted number of ticks.
    ///   - padEnds: add a 4% margin and extend a linear range to whole ticks (y axes); x axes keep the data range.
    public init(minimum: Double, maximum: Double, kind: Kind = .linear, tickCount: Int = 6, padEnds: Bool = true) {
        var lo = minimum, hi = maximum
        if !lo.isFinite || !hi.isFinite { lo = 0; hi = 1 }
        if lo > hi { swap(&lo, &hi) }
        if kind == .logarithmic && lo > 0 {
            self.kind = .logarithmic
            let a = floor(log10(lo)), b = max(ceil(log10(hi)), a + 1)
            lower = pow(10, a)
            upper = pow(10, b)
            let decades = Int(b - a)
            let stride = max(1, Int((Double(decades) / Double(max(tickCount - 1, 1))).rounded(.up)))
            ticks = Swift.stride(from: Int(a), through: Int(b), by: stride).map { pow(10, Double($0)) }
            labels = ticks.map { Self.powerOfTenLabel($0) }
            return
        }
        self.kind = .linear
        if hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        if padEnds {
            // A 4% margin, so a curve at the data's extreme does not hide under the axis or the frame.
            let margin = (hi - lo) * 0.04
            lo -= margin
            hi += margin
        }
        let step = Self.niceStep((hi - lo) / Double(max(tickCount - 1, 1)))
        let first = (lo / step).rounded(.down) * step, last = (hi / step).rounded(.up) * step
        if padEnds {
            lower = first
            upper = last
        } else {
            lower = lo
            upper = hi
        }
        var t: [Double] = []
        var k = (lower / step).rounded(.up)
        while k * step <= upper + step * 1e-9 {
            t.append(abs(k * step) < step * 1e-9 ? 0 : k * step)
            k += 1
        }
        ticks = t
        labels = t.map { Self.label($0, step: step) }
    }

    /// The position of `value` between `start` (at lower) and `end` (at upper).
    public func position(_ value: Double, from start: Double, to end: Double) -> Double {
        let f: Double
        switch kind {
        case .linear: f = (value - lower) / (upper - lower)
        case .logarithmic: f = (log10(max(value, lower * 1e-3)) - log10(lower)) / (log10(upper) - log10(lower))
        }
        return start + f * (end - start)
    }

    /// 1, 2, 2.5 or 5 times a power of ten, at least `rough`.
    public static func niceStep(_ rough: Double) -> Double {
        guard rough > 0, rough.isFinite else { return 1 }
        let p = pow(10, floor(log10(rough)))
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= rough * (1 - 1e-12) { return m * p }
        return 10 * p
    }

    /// A tick label with as many decimals as the step needs; scientific for very large or small magnitudes.
    public static func label(_ value: Double, step: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = max(abs(value), step)
        if magnitude >= 1e6 || magnitude < 1e-3 { return scientific(value, step: step) }
        let decimals = max(0, Int(ceil(-log10(step) - 1e-9)) + (step / pow(10, floor(log10(step))) == 2.5 ? 1 : 0))
        return String(format: "%.\(decimals)f", value)
    }

    private static func scientific(_ value: Double, step: Double) -> String {
        let exponent = Int(floor(log10(abs(value))))
        let mantissa = value / pow(10, Double(exponent))
        let digits = max(0, min(3, exponent - Int(floor(log10(step)))))
        var m = String(format: "%.\(digits)f", mantissa)
        if m.contains(".") { m = m.replacingOccurrences(of: #"\.?0+$"#, with: "", options: .regularExpression) }
        return "\(m)e\(exponent)"
    }

    private static func powerOfTenLabel(_ value: Double) -> String {
        let e = Int(log10(value).rounded())
        switch e {
        case -4...4: return value < 1e-3 ? String(format: "%.4f", value) : label(value, step: value)
        default: return "1e\(e)"
        }
    }
}
