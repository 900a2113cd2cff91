import Foundation

/// Attention maps as SVG heatmaps, panels side by side (teacher and student) on one shared colour scale,
/// with token labels on both axes, cell tooltips and a colour-scale legend.
///
/// Rows are query positions (the token attending), columns key positions (the token attended to); a causal
/// model's upper triangle is zero.
public struct AttentionHeatmap {
    /// One attention matrix with its labels.
    public struct Panel: Sendable {
        /// The panel's title, e.g. "teacher layer 3 (mean over heads)".
        public var title: String
        /// The matrix, `matrix[query][key]`.
        public var matrix: [[Float]]
        /// One label per row (query tokens).
        public var rowLabels: [String]
        /// One label per column (key tokens).
        public var columnLabels: [String]

        /// A panel.
        /// - Precondition: one row label per row and one column label per entry of every row.
        public init(title: String, matrix: [[Float]], rowLabels: [String], columnLabels: [String]) {
            precondition(matrix.count == rowLabels.count, "heatmap '\(title)': \(matrix.count) rows but \(rowLabels.count) row labels")
            for (i, row) in matrix.enumerated() {
                precondition(row.count == columnLabels.count,
                             "heatmap '\(title)': row \(i) has \(row.count) entries but there are \(columnLabels.count) column labels")
            }
            self.title = title
            self.matrix = matrix
            self.rowLabels = rowLabels
            self.columnLabels = columnLabels
        }
    }

    /// The title over all panels (the problem text, for instance).
    public var title: String?
    /// The panels, left to right.
    public var panels: [Panel]
    /// The value shown in the brightest colour; nil uses the largest value of all panels.
    public var colorScaleMaximum: Float?

    /// A heatmap figure.
    public init(title: String? = nil, panels: [Panel], colorScaleMaximum: Float? = nil) {
        self.title = title
        self.panels = panels
        self.colorScaleMaximum = colorScaleMaximum
    }

    /// A token as an axis label: space, newline and tab made visible.
    public static func tokenLabel(_ symbol: String) -> String {
        switch symbol {
        case " ": return "␣"
        case "\n": return "⏎"
        case "\t": return "⇥"
        default: return symbol
        }
    }

    /// The figure as an SVG document.
    public func svg() -> String {
        let largest = panels.flatMap { $0.matrix.joined() }.filter(\.isFinite).max() ?? 1
        let vmax = Double(colorScaleMaximum ?? max(largest, 1e-6))
        let maxCells = panels.map { max($0.matrix.count, $0.columnLabels.count) }.max() ?? 1
        let cell = min(26, max(8, (680 / Double(max(maxCells, 1))).rounded(.down)))
        let labelSize = min(12, max(6, cell * 0.72))
        let rowLabelWidth = max(30, Double(panels.flatMap(\.rowLabels).map(\.count).max() ?? 1) * labelSize * 0.75 + 12)
        let columnLabelHeight = max(30, Double(panels.flatMap(\.columnLabels).map(\.count).max() ?? 1) * labelSize * 0.75 + 10)
        let titleBand = title == nil ? 16.0 : 48.0
        let gridTop = titleBand + 28 + columnLabelHeight
        let gridHeight = Double(panels.map(\.matrix.count).max() ?? 0) * cell
        let legendWidth = 120.0
        var x = 20.0
        var origins: [Double] = []
        for p in panels {
            x += 24 + rowLabelWidth  // the "query token" caption, then the row labels
            origins.append(x)
            x += Double(p.columnLabels.count) * cell + 40
        }
        let width = x + legendWidth
        let height = gridTop + gridHeight + 56
        var doc = SVGDocument(width: width, height: height)
        if let title {
            doc.text(title, x: width / 2, y: 30, size: 16, anchor: "middle", weight: "bold", attributes: [("class", "title")])
        }

        for (p, gridLeft) in zip(panels, origins) {
            let gridWidth = Double(p.columnLabels.count) * cell
            let panelHeight = Double(p.matrix.count) * cell
            doc.text(p.title, x: gridLeft + gridWidth / 2, y: titleBand + 14, size: 14, anchor: "middle", weight: "bold",
                     attributes: [("class", "panel-title")])
            for (i, row) in p.matrix.enumerated() {
                for (j, v) in row.enumerated() {
                    let value = Double(v)
                    doc.rect(x: gridLeft + Double(j) * cell, y: gridTop + Double(i) * cell, width: cell, height: cell,
                             fill: ColorMap.viridis(value / vmax), attributes: [("class", "cell"), ("shape-rendering", "crispEdges")],
                             title: "query \(i) '\(p.rowLabels[i])' → key \(j) '\(p.columnLabels[j])': " + String(format: "%.4f", value))
                }
            }
            doc.rect(x: gridLeft, y: gridTop, width: gridWidth, height: panelHeight, fill: "none", stroke: "#222222")
            for (i, label) in p.rowLabels.enumerated() {
                doc.text(label, x: gridLeft - 4, y: gridTop + (Double(i) + 0.5) * cell + labelSize * 0.35, size: labelSize,
                         anchor: "end", attributes: [("class", "row-label")])
            }
            for (j, label) in p.columnLabels.enumerated() {
                let cx = gridLeft + (Double(j) + 0.5) * cell + labelSize * 0.35
                doc.text(label, x: cx, y: gridTop - 4, size: labelSize, rotation: -90, attributes: [("class", "column-label")])
            }
            doc.text("key token (attended to)", x: gridLeft + gridWidth / 2, y: gridTop + panelHeight + 24, size: 12,
                     anchor: "middle", attributes: [("class", "x-label")])
            doc.text("query token", x: gridLeft - rowLabelWidth - 6, y: gridTop + panelHeight / 2, size: 12, anchor: "middle",
                     rotation: -90, attributes: [("class", "y-label")])
        }

        // Colour scale: a vertical gradient, maximum at the top, with five ticks.
        let barLeft = width - legendWidth + 10, barHeight = max(gridHeight, 120)
        var stops = ""
        for k in 0...10 {
            let f = Double(k) / 10
            stops += #"<stop offset="\#(Int(f * 100))%" stop-color="\#(ColorMap.viridis(1 - f))"/>"#
        }
        doc.definition(#"<linearGradient id="colour-scale" x1="0" y1="0" x2="0" y2="1">\#(stops)</linearGradient>"#)
        doc.rect(x: barLeft, y: gridTop, width: 18, height: barHeight, fill: "url(#colour-scale)", stroke: "#222222",
                 attributes: [("class", "colour-scale")])
        for k in 0...4 {
            let f = Double(k) / 4
            let y = gridTop + barHeight * (1 - f)
            doc.line(x1: barLeft + 18, y1: y, x2: barLeft + 23, y2: y, stroke: "#222222")
            doc.text(String(format: "%.2f", vmax * f), x: barLeft + 26, y: y + 4, size: 11, attributes: [("class", "colour-scale-label")])
        }
        doc.text("attention", x: barLeft, y: gridTop - 22, size: 12, weight: "bold")
        doc.text("probability", x: barLeft, y: gridTop - 8, size: 12, weight: "bold")
        return doc.render()
    }
}
