import Foundation

/// The standard charts of a run, from its metric rows: loss components, reward components, temperature and
/// alpha, KL and its coefficient, learning rate, and one chart for each remaining metric (gradient norm,
/// tokens/s, entropy, ...). Every chart has the global step on x and the stage boundaries marked.
public enum RunCharts {
    /// One chart, ready to write.
    public struct Chart: Sendable {
        /// The file name to write it under (e.g. `losses.svg`).
        public let fileName: String
        /// The chart's title.
        public let title: String
        /// The metrics drawn, in legend order.
        public let metrics: [String]
        /// The SVG text.
        public let svg: String
    }

    /// A family of metrics drawn together.
    struct Group {
        let fileName: String
        let title: String
        let yLabel: String
        let scale: LineChart.YScale
        let contains: (String) -> Bool
    }

    /// The families, in the order they are written. A metric may belong to several (the distillation `kl` is
    /// both a loss component and a KL curve); metrics in none get a chart of their own.
    static let groups: [Group] = [
        Group(fileName: "losses.svg", title: "Loss components", yLabel: "loss", scale: .automatic) { name in
            ["loss", "ce", "kl", "hidden_mse", "attention_mse"].contains(name) || name.contains("loss") || name.hasSuffix("_mse")
        },
        Group(fileName: "rewards.svg", title: "Reward components", yLabel: "reward", scale: .linear) { $0.hasPrefix("reward") },
        Group(fileName: "temperature.svg", title: "Temperature and alpha per stage", yLabel: "value", scale: .linear) { name in
            name == "temperature" || name == "alpha" || name.hasPrefix("temperature/") || name.hasPrefix("alpha/")
        },
        Group(fileName: "kl.svg", title: "KL divergence and KL coefficient per stage", yLabel: "value", scale: .automatic) { name in
            name == "kl" || name == "approx_kl" || name.hasPrefix("kl_") || name.hasPrefix("kl/") || name.hasSuffix("/kl")
        },
        Group(fileName: "learning-rate.svg", title: "Learning rate", yLabel: "learning rate", scale: .linear) { name in
            name == "learning_rate" || name == "lr" || name.hasPrefix("learning_rate/")
        },
    ]

    /// Where each stage starts: the step of its first row, labelled with its kind.
    public static func stageMarkers(rows: [MetricRow]) -> [LineChart.StageMarker] {
        var markers: [LineChart.StageMarker] = []
        var previous: (index: Int, kind: String)?
        for r in rows where previous == nil || previous! != (r.stageIndex, r.stage) {
            markers.append(.init(x: Double(r.step), label: r.stage))
            previous = (r.stageIndex, r.stage)
        }
        return markers
    }

    /// A metric's points, split where the stage changes (a loss of one stage is not joined to the next's).
    public static func series(_ name: String, rows: [MetricRow]) -> LineChart.Series {
        var segments: [[LineChart.Point]] = []
        var current: [LineChart.Point] = []
        var stage: Int?
        for r in rows {
            guard let v = r.values[name] else { continue }
            if stage != r.stageIndex, !current.isEmpty {
                segments.append(current)
                current = []
            }
            stage = r.stageIndex
            current.append(.init(x: Double(r.step), y: v))
        }
        if !current.isEmpty { segments.append(current) }
        return .init(name: name, segments: segments)
    }

    /// The charts for `rows` (empty when there are none); families without any metric are left out.
    public static func charts(rows: [MetricRow]) -> [Chart] {
        let names = MetricsCSV.metricColumns(of: rows)
        let markers = stageMarkers(rows: rows)
        let steps = rows.map { Double($0.step) }
        let domain = steps.isEmpty ? nil : steps.min()!...steps.max()!
        var charts: [Chart] = []
        var grouped = Set<String>()
        func chart(_ file: String, _ title: String, _ yLabel: String, _ scale: LineChart.YScale, _ metrics: [String]) -> Chart {
            let c = LineChart(title: title, xLabel: "global step", yLabel: yLabel, series: metrics.map { series($0, rows: rows) },
                              stages: markers, yScale: scale, xDomain: domain)
            return Chart(fileName: file, title: title, metrics: metrics, svg: c.svg())
        }
        for g in groups {
            // The total first, then its parts, so the headline curve always has the first colour.
            let headline: Set<String> = ["loss", "reward"]
            let members = names.filter(g.contains).filter(headline.contains) + names.filter(g.contains).filter { !headline.contains($0) }
            guard !members.isEmpty else { continue }
            grouped.formUnion(members)
            charts.append(chart(g.fileName, g.title, g.yLabel, g.scale, members))
        }
        for name in names where !grouped.contains(name) {
            charts.append(chart("metric-" + fileSafe(name) + ".svg", name, name, .automatic, [name]))
        }
        return charts
    }

    /// A metric name as a file name part: `/` and other unsafe characters become `_`.
    static func fileSafe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }
}
