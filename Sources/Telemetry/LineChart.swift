import Foundation

/// A line chart as SVG: title, x and y axes with ticks, numbers and labels, grid, a legend, and the run's
/// stage boundaries as labelled dashed vertical lines over alternately shaded stage bands.
public struct LineChart {
    /// One data point.
    public struct Point: Equatable, Sendable {
        /// The x value (the global step).
        public var x: Double
        /// The y value.
        public var y: Double
        /// A point.
        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    /// One named curve; a curve is drawn as separate segments (not joined across stage boundaries).
    public struct Series: Sendable {
        /// The legend entry.
        public var name: String
        /// Runs of points drawn as connected lines.
        public var segments: [[Point]]
        /// A series.
        public init(name: String, segments: [[Point]]) {
            self.name = name
            self.segments = segments
        }
    }

    /// The start of a stage.
    public struct StageMarker: Equatable, Sendable {
        /// The global step where the stage's first row is.
        public var x: Double
        /// What to write beside the line (the stage kind).
        public var label: String
        /// A marker.
        public init(x: Double, label: String) {
            self.x = x
            self.label = label
        }
    }

    /// How the y axis maps values.
    public enum YScale: Sendable, Equatable {
        /// Logarithmic when every value is positive and they span 100x or more; linear otherwise.
        case automatic
        /// Linear.
        case linear
        /// Logarithmic (values at or below zero are left out).
        case logarithmic
    }

    /// The chart's title.
    public var title: String
    /// The x axis label.
    public var xLabel: String
    /// The y axis label.
    public var yLabel: String
    /// The curves.
    public var series: [Series]
    /// Stage starts.
    public var stages: [StageMarker]
    /// The y mapping.
    public var yScale: YScale
    /// The x range shown; nil fits the data and markers. Charts of one run share the run's whole step range,
    /// so stage boundaries sit at the same place in every chart.
    public var xDomain: ClosedRange<Double>?
    /// Width in pixels.
    public var width: Double = 960
    /// Height in pixels.
    public var height: Double = 480

    /// A chart.
    public init(title: String, xLabel: String, yLabel: String, series: [Series], stages: [StageMarker] = [],
                yScale: YScale = .automatic, xDomain: ClosedRange<Double>? = nil) {
        self.xDomain = xDomain
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.stages = stages
        self.yScale = yScale
    }

    /// Tableau's ten colours: distinct, and readable on white.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// The chart as an SVG document.
    public func svg() -> String {
        var doc = SVGDocument(width: width, height: height)
        let left = 84.0, right = width - 220, top = 56.0, bottom = height - 64
        doc.text(title, x: (left + right) / 2, y: 30, size: 17, anchor: "middle", weight: "bold", attributes: [("class", "title")])

        let finite = series.flatMap { $0.segments.joined() }.filter { $0.x.isFinite && $0.y.isFinite }
        let positive = finite.filter { $0.y > 0 }
        let logarithmic: Bool
        switch yScale {
        case .linear: logarithmic = false
        case .logarithmic: logarithmic = !positive.isEmpty
        case .automatic:
            let ys = finite.map(\.y)
            logarithmic = !ys.isEmpty && ys.allSatisfy { $0 > 0 } && ys.max()! / ys.min()! >= 100
        }
        let shown = logarithmic ? positive : finite
        let xs = shown.map(\.x) + stages.map(\.x)
        var xMin = xDomain?.lowerBound ?? xs.min() ?? 0, xMax = xDomain?.upperBound ?? xs.max() ?? 1
        if xMin == xMax { xMin -= 1; xMax += 1 }
        let xAxis = AxisScale(minimum: xMin, maximum: xMax, tickCount: 8, padEnds: false)
        let yAxis = AxisScale(minimum: shown.map(\.y).min() ?? 0, maximum: shown.map(\.y).max() ?? 1,
                              kind: logarithmic ? .logarithmic : .linear, tickCount: 6)
        func px(_ x: Double) -> Double { xAxis.position(x, from: left, to: right) }
        func py(_ y: Double) -> Double { yAxis.position(y, from: bottom, to: top) }

        // Stage bands first, so grid, curves and labels sit on top of them.
        let sortedStages = stages.sorted { $0.x < $1.x }
        for (i, s) in sortedStages.enumerated() where i % 2 == 1 {
            let end = i + 1 < sortedStages.count ? px(sortedStages[i + 1].x) : right
            doc.rect(x: px(s.x), y: top, width: max(0, end - px(s.x)), height: bottom - top, fill: "#f2f2f2",
                     attributes: [("class", "stage-band")])
        }

        // Grid and ticks.
        for (t, label) in zip(yAxis.ticks, yAxis.labels) {
            let y = py(t)
            doc.line(x1: left, y1: y, x2: right, y2: y, stroke: "#e0e0e0", width: 1)
            doc.line(x1: left - 5, y1: y, x2: left, y2: y, stroke: "#222222", attributes: [("class", "y-tick")])
            doc.text(label, x: left - 8, y: y + 4, size: 11, anchor: "end", attributes: [("class", "y-tick-label")])
        }
        for (t, label) in zip(xAxis.ticks, xAxis.labels) {
            let x = px(t)
            doc.line(x1: x, y1: top, x2: x, y2: bottom, stroke: "#e0e0e0", width: 1)
            doc.line(x1: x, y1: bottom, x2: x, y2: bottom + 5, stroke: "#222222", attributes: [("class", "x-tick")])
            doc.text(label, x: x, y: bottom + 19, size: 11, anchor: "middle", attributes: [("class", "x-tick-label")])
        }

        // Stage boundaries: dashed lines with the stage kind, horizontal when the band is wide enough.
        for (i, s) in sortedStages.enumerated() {
            let x = px(s.x)
            doc.line(x1: x, y1: top, x2: x, y2: bottom, stroke: "#555555", width: 1.2, dash: "5,4",
                     attributes: [("class", "stage-boundary")])
            let end = i + 1 < sortedStages.count ? px(sortedStages[i + 1].x) : right
            if Double(s.label.count) * 6.6 + 8 <= end - x {
                doc.text(s.label, x: x + 4, y: top + 14, size: 11, fill: "#444444", attributes: [("class", "stage-label")])
            } else {
                doc.text(s.label, x: x + 11, y: top + 4, size: 11, anchor: "end", fill: "#444444", rotation: -90,
                         attributes: [("class", "stage-label")])
            }
        }

        // Curves.
        let plotWidth = Int(right - left)
        for (k, s) in series.enumerated() {
            let colour = Self.palette[k % Self.palette.count]
            let visibleCount = s.segments.reduce(0) { $0 + $1.count }
            for segment in s.segments {
                let points = Self.decimate(segment.filter { $0.x.isFinite && $0.y.isFinite && (!logarithmic || $0.y > 0) },
                                           buckets: plotWidth, xMin: xAxis.lower, xMax: xAxis.upper)
                let mapped = points.map { (x: px($0.x), y: py($0.y)) }
                if mapped.count > 1 {
                    doc.polyline(mapped, stroke: colour, width: 1.6, attributes: [("class", "series"), ("data-name", s.name)])
                }
                if mapped.count == 1 || visibleCount <= 60 {
                    for p in mapped { doc.circle(x: p.x, y: p.y, radius: 2.6, fill: colour, attributes: [("class", "point")]) }
                }
            }
        }
        if shown.isEmpty {
            doc.text("no finite values to plot", x: (left + right) / 2, y: (top + bottom) / 2, size: 14, anchor: "middle", fill: "#888888")
        }

        // Axes and their labels.
        doc.line(x1: left, y1: bottom, x2: right, y2: bottom, stroke: "#222222", width: 1.2, attributes: [("class", "x-axis")])
        doc.line(x1: left, y1: top, x2: left, y2: bottom, stroke: "#222222", width: 1.2, attributes: [("class", "y-axis")])
        doc.text(xLabel, x: (left + right) / 2, y: height - 20, size: 13, anchor: "middle", attributes: [("class", "x-label")])
        doc.text(yLabel + (logarithmic ? " (log scale)" : ""), x: 22, y: (top + bottom) / 2, size: 13, anchor: "middle",
                 rotation: -90, attributes: [("class", "y-label")])

        // Legend, right of the plot so it never hides data.
        let lx = right + 18
        doc.text("legend", x: lx, y: top + 4, size: 12, weight: "bold", attributes: [("class", "legend-title")])
        for (k, s) in series.enumerated() {
            let y = top + 24 + Double(k) * 20
            let colour = Self.palette[k % Self.palette.count]
            doc.line(x1: lx, y1: y - 4, x2: lx + 24, y2: y - 4, stroke: colour, width: 3, attributes: [("class", "legend-swatch")])
            let name = s.name.count > 24 ? String(s.name.prefix(23)) + "…" : s.name
            doc.text(name, x: lx + 30, y: y, size: 12, attributes: [("class", "legend-entry")])
        }
        return doc.render()
    }

    /// At most two points (the lowest and highest) per pixel column, in x order, so a long run stays a small
    /// file while spikes stay visible.
    static func decimate(_ points: [Point], buckets: Int, xMin: Double, xMax: Double) -> [Point] {
        guard points.count > 2 * max(buckets, 1), xMax > xMin else { return points }
        var out: [Point] = []
        var current = -1
        var low: Point?, high: Point?
        func flush() {
            guard let low, let high else { return }
            if low == high { out.append(low) } else if low.x <= high.x { out += [low, high] } else { out += [high, low] }
        }
        for p in points {
            let b = min(buckets - 1, max(0, Int((p.x - xMin) / (xMax - xMin) * Double(buckets))))
            if b != current {
                flush()
                current = b
                low = p
                high = p
            } else {
                if p.y < low!.y { low = p }
                if p.y > high!.y { high = p }
            }
        }
        flush()
        return out
    }
}
