import Foundation

/// Viridis (matplotlib's default colour map): perceptually uniform, readable in grey and by most colour-blind
/// readers, dark for 0 and yellow for the maximum.
public enum ColorMap {
    /// Ten evenly spaced viridis colours, from 0 to 1 (matplotlib `viridis(np.linspace(0, 1, 10))`).
    public static let viridisStops: [(r: Double, g: Double, b: Double)] = [
        (0x44, 0x01, 0x54), (0x48, 0x28, 0x78), (0x3E, 0x49, 0x89), (0x31, 0x68, 0x8E), (0x26, 0x82, 0x8E),
        (0x1F, 0x9E, 0x89), (0x35, 0xB7, 0x79), (0x6E, 0xCE, 0x58), (0xB5, 0xDE, 0x2B), (0xFD, 0xE7, 0x25),
    ]

    /// The colour of `fraction` (clamped to 0...1) as `#rrggbb`, linearly interpolated between stops.
    public static func viridis(_ fraction: Double) -> String {
        let f = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let position = f * Double(viridisStops.count - 1)
        let i = min(Int(position), viridisStops.count - 2)
        let t = position - Double(i)
        let a = viridisStops[i], b = viridisStops[i + 1]
        func channel(_ x: Double, _ y: Double) -> Int { Int((x + (y - x) * t).rounded()) }
        return String(format: "#%02x%02x%02x", channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b))
    }
}
