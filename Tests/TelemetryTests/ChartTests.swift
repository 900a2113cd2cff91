import Foundation
import Telemetry
import TestSupport
import Testing

// Metric charts for a known two-stage run: which files, and that each has title, axes with ticks and numbers,
// axis labels, legend and labelled stage boundaries at the right places (positions computed by hand).
@Suite struct ChartTests {
    /// Stage 0 output-distill at steps 1...10, stage 1 ppo-trace at steps 11...20.
    static func rows() -> [MetricRow] {
        var rows: [MetricRow] = []
        for s in 1...10 {
            let x = Double(s), loss: Double = 3 - 0.2 * (x - 1)
            let values: [String: Double] = ["loss": loss, "ce": loss / 2, "kl": 0.25 + 0.01 * x, "alpha": 0.9,
                                            "temperature": 2, "learning_rate": 1e-3]
            rows.append(MetricRow(step: s, stage: "output-distill", stageIndex: 0, stageStep: s, time: x, values: values))
        }
        for s in 11...20 {
            let x = Double(s - 10)
            let values: [String: Double] = ["reward": 0.1 * x, "reward/answer": s % 2 == 0 ? 1 : 0, "kl_coefficient": 0.1,
                                            "approx_kl": 0.001 * x, "entropy": 1.2, "learning_rate": 5e-4]
            rows.append(MetricRow(step: s, stage: "ppo-trace", stageIndex: 1, stageStep: s - 10, time: Double(s), values: values))
        }
        return rows
    }

    @Test func chartFilesAndTheirMetrics() {
        let charts = RunCharts.charts(rows: Self.rows())
        #expect(charts.map(\.fileName) == ["losses.svg", "rewards.svg", "temperature.svg", "kl.svg", "learning-rate.svg", "metric-entropy.svg"])
        let expected: [[String]] = [["loss", "ce", "kl"], ["reward", "reward/answer"], ["alpha", "temperature"],
                                    ["approx_kl", "kl", "kl_coefficient"], ["learning_rate"], ["entropy"]]
        #expect(charts.map(\.metrics) == expected)
        #expect(RunCharts.charts(rows: []).isEmpty)
    }

    @Test func lossChartIsReadable() throws {
        let svg = try #require(RunCharts.charts(rows: Self.rows()).first { $0.fileName == "losses.svg" }).svg
        #expect(isWellFormedXML(svg))
        #expect(texts(svg, class: "title") == ["Loss components"])
        #expect(texts(svg, class: "x-label") == ["global step"])
        #expect(texts(svg, class: "y-label") == ["loss"])
        #expect(elements(svg, class: "x-axis").count == 1 && elements(svg, class: "y-axis").count == 1)
        // y from 0.26 to 3.0 plus 4% margins (0.15...3.11): step 1, ticks 0...4; x from 1 to 20: step 5.
        #expect(texts(svg, class: "y-tick-label") == ["0", "1", "2", "3", "4"])
        #expect(texts(svg, class: "x-tick-label") == ["5", "10", "15", "20"])
        #expect(elements(svg, class: "y-tick").count == 5 && elements(svg, class: "x-tick").count == 4)
        #expect(texts(svg, class: "legend-entry") == ["loss", "ce", "kl"])
        #expect(elements(svg, class: "legend-swatch").count == 3)
        // Stage boundaries at steps 1 and 11: x = 84 + (step - 1) / 19 * (740 - 84).
        let boundaries = elements(svg, class: "stage-boundary")
        #expect(boundaries.count == 2)
        #expect(boundaries.first?.contains(#"x1="84""#) == true)
        #expect(boundaries.last?.contains(#"x1="429.26""#) == true)
        #expect(texts(svg, class: "stage-label") == ["output-distill", "ppo-trace"])
        // The losses exist in stage 0 only: one line each, ten points each.
        #expect(elements(svg, class: "series").count == 3)
        #expect(elements(svg, class: "point").count == 30)
        // Loss at step 1 is 3.0: three quarters up the y axis (416 - 0.75 * 360 = 146), at the left edge.
        #expect(elements(svg, class: "series").first?.contains(#"points="84,146 "#) == true)
    }

    @Test func curvesBreakAtStageBoundariesAndLogScaleWhenWide() throws {
        let charts = RunCharts.charts(rows: Self.rows())
        let lr = try #require(charts.first { $0.fileName == "learning-rate.svg" }).svg
        #expect(elements(lr, class: "series").count == 2)  // not joined across the boundary
        let kl = try #require(charts.first { $0.fileName == "kl.svg" }).svg
        #expect(texts(kl, class: "y-label") == ["value (log scale)"])  // 0.001 ... 0.35 spans more than 100x
        #expect(texts(kl, class: "y-tick-label") == ["0.001", "0.01", "0.1", "1"])
        for c in charts { #expect(isWellFormedXML(c.svg), "\(c.fileName)") }
    }

    @Test func longRunsAreDecimatedButKeepSpikes() {
        var points = (0..<100_000).map { LineChart.Point(x: Double($0), y: sin(Double($0) / 1000)) }
        points[50_000].y = 40
        let chart = LineChart(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "s", segments: [points])])
        let svg = chart.svg()
        #expect(svg.utf8.count < 200_000)
        // -1...40 with margins gives -10...50 in steps of 10; the spike (416 - 50/60 * 360 = 116) is still drawn.
        #expect(texts(svg, class: "y-tick-label") == ["-10", "0", "10", "20", "30", "40", "50"])
        #expect(elements(svg, class: "series").first?.contains(",116 ") == true)
    }

    @Test func niceTicks() {
        // Without margins (as x axes): the data range, ticks inside it.
        #expect(AxisScale(minimum: 0.0012, maximum: 0.0051, padEnds: false).labels == ["0.002", "0.003", "0.004", "0.005"])
        // With the 4% margins of y axes, extended to whole ticks.
        #expect(AxisScale(minimum: 0.0012, maximum: 0.0051).labels == ["0.001", "0.002", "0.003", "0.004", "0.005", "0.006"])
        #expect(AxisScale(minimum: -1, maximum: 1).labels == ["-1.5", "-1.0", "-0.5", "0", "0.5", "1.0", "1.5"])
        #expect(AxisScale(minimum: 2e-6, maximum: 9e-6).labels == ["0", "2e-6", "4e-6", "6e-6", "8e-6", "1e-5"])
        #expect(AxisScale(minimum: 5, maximum: 5).labels == ["4.25", "4.50", "4.75", "5.00", "5.25", "5.50", "5.75"])
        #expect(AxisScale.niceStep(0.3) == 0.5 && AxisScale.niceStep(7) == 10 && AxisScale.niceStep(2.2) == 2.5)
    }
}
