/// A Markdown pipe table with padded columns, readable both rendered and as plain text on a terminal.
public struct MarkdownTable: Sendable, Equatable {
    /// Column titles.
    public var headers: [String]
    /// Cells, one array per row, each as long as `headers`.
    public var rows: [[String]]

    /// A table with the given titles and rows.
    public init(headers: [String], rows: [[String]]) {
        precondition(rows.allSatisfy { $0.count == headers.count }, "every table row needs \(headers.count) cells")
        self.headers = headers
        self.rows = rows
    }

    /// The table text: a header line, the `|---|` separator, then one line per row (text columns left-aligned).
    public var text: String {
        let widths = headers.indices.map { c in max(3, ([headers[c]] + rows.map { $0[c] }).map(\.count).max() ?? 3) }
        func line(_ cells: [String]) -> String {
            "| " + zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: " | ") + " |"
        }
        let separator = "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
        return ([line(headers), separator] + rows.map(line)).joined(separator: "\n")
    }
}

/// How report cells print numbers.
enum Cell {
    /// `87.5%`, or `n/a`.
    static func percent(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "n/a" }
        return format(x * 100, decimals: 1) + "%"
    }

    /// A plain number with `decimals` places, or `n/a`.
    static func number(_ x: Double?, decimals: Int = 2) -> String {
        guard let x, x.isFinite else { return "n/a" }
        return format(x, decimals: decimals)
    }

    /// `1,234,567`.
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `98.4 kB`, `3.1 MB` (decimal units).
    static func bytes(_ n: Int) -> String {
        let x = Double(n)
        if x >= 1e9 { return format(x / 1e9, decimals: 2) + " GB" }
        if x >= 1e6 { return format(x / 1e6, decimals: 2) + " MB" }
        if x >= 1e3 { return format(x / 1e3, decimals: 1) + " kB" }
        return "\(n) B"
    }

    /// A ratio as `0.93x`, or `n/a`.
    static func ratio(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "n/a" }
        return format(x, decimals: 3) + "x"
    }

    /// Fixed-point text with round-half-away-from-zero (no Foundation formatter, so output is the same everywhere).
    static func format(_ x: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(x) * scale).rounded(.toNearestOrAwayFromZero)
        guard scaled < 9e15 else { return "\(x)" }
        let whole = Int(scaled) / Int(scale), fraction = Int(scaled) % Int(scale)
        var text = String(whole)
        if decimals > 0 {
            let f = String(fraction)
            text += "." + String(repeating: "0", count: decimals - f.count) + f
        }
        return (x < 0 && scaled > 0 ? "-" : "") + text
    }
}
