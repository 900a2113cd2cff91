import Foundation
import Telemetry
import TestSupport
import Testing

// Attention heatmap SVG: one cell per matrix entry per panel, labels on both axes, titles, colour scale.
@Suite struct HeatmapTests {
    static let tokens = ["<bos>", "7", " ", "+", "\n"]

    /// A causal attention pattern: row i spreads evenly over keys 0...i (or all on the first key).
    static func causal(_ n: Int, sink: Bool) -> [[Float]] {
        (0..<n).map { i in (0..<n).map { j in j > i ? 0 : sink ? (j == 0 ? 1 : 0) : 1 / Float(i + 1) } }
    }

    @Test func cellsLabelsAndLegend() {
        let labels = Self.tokens.map(AttentionHeatmap.tokenLabel)
        #expect(labels == ["<bos>", "7", "␣", "+", "⏎"])
        let figure = AttentionHeatmap(title: "problem 0", panels: [
            .init(title: "teacher layer 3 (mean over heads)", matrix: Self.causal(5, sink: true), rowLabels: labels, columnLabels: labels),
            .init(title: "student layer 1 (mean over heads)", matrix: Self.causal(5, sink: false), rowLabels: labels, columnLabels: labels),
        ])
        let svg = figure.svg()
        #expect(isWellFormedXML(svg))
        #expect(elements(svg, class: "cell").count == 2 * 5 * 5)
        #expect(texts(svg, class: "panel-title") == ["teacher layer 3 (mean over heads)", "student layer 1 (mean over heads)"])
        #expect(texts(svg, class: "title") == ["problem 0"])
        #expect(texts(svg, class: "row-label") == labels.map(SVGDocument.escape) + labels.map(SVGDocument.escape))
        #expect(texts(svg, class: "column-label").count == 10)
        #expect(texts(svg, class: "x-label") == ["key token (attended to)", "key token (attended to)"])
        #expect(texts(svg, class: "y-label") == ["query token", "query token"])
        #expect(elements(svg, class: "colour-scale").count == 1)
        #expect(texts(svg, class: "colour-scale-label") == ["0.00", "0.25", "0.50", "0.75", "1.00"])
        // Shared scale 0...1: a probability of 1 is viridis' top colour, 0 its bottom one.
        let cells = elements(svg, class: "cell")
        #expect(cells[0].contains(##"fill="#fde725""##))  // teacher (0, 0) = 1
        #expect(cells[1].contains(##"fill="#440154""##))  // teacher (0, 1) = 0, masked
        #expect(cells[25 + 5 + 1].contains("key 1 &#39;7&#39;: 0.5000"))  // student (1, 1) = 1/2, in its tooltip
    }

    @Test func viridisEnds() {
        #expect(ColorMap.viridis(0) == "#440154")
        #expect(ColorMap.viridis(1) == "#fde725")
        #expect(ColorMap.viridis(2) == "#fde725")
        #expect(ColorMap.viridis(.nan) == "#440154")
    }
}
