import Foundation
import StrictConfig

/// One recorded row: where the run was (global step, stage, stage step, wall time) and the metrics at that
/// moment. It is one line of metrics.jsonl, one line of metrics.csv and one TensorBoard event.
public struct MetricRow: Equatable, Sendable {
    /// The global step, monotonic across stages (the x axis of every chart).
    public var step: Int
    /// The stage kind (`output-distill`, `ppo-trace`, ...).
    public var stage: String
    /// The stage's position in the curriculum (0-based).
    public var stageIndex: Int
    /// The step within the stage.
    public var stageStep: Int
    /// Wall-clock time, seconds since the Unix epoch.
    public var time: Double
    /// The metrics (names may contain `/`); non-finite values are kept.
    public var values: [String: Double]

    /// The row's own keys, in the order they lead each JSON line and CSV row; metrics may not use them.
    public static let reservedKeys = ["step", "stage", "stage_index", "stage_step", "time"]

    /// A row.
    public init(step: Int, stage: String, stageIndex: Int, stageStep: Int, time: Double, values: [String: Double]) {
        self.step = step
        self.stage = stage
        self.stageIndex = stageIndex
        self.stageStep = stageStep
        self.time = time
        self.values = values
    }

    /// Checks a metric name: not reserved, not empty, no control characters.
    /// - Throws: `TelemetryError.reservedMetricName` or `.invalidMetricName`.
    public static func validate(metricName name: String) throws {
        if reservedKeys.contains(name) { throw TelemetryError.reservedMetricName(name: name) }
        if name.isEmpty { throw TelemetryError.invalidMetricName(name: name, reason: "is empty") }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw TelemetryError.invalidMetricName(name: name, reason: "contains a control character")
        }
    }

    /// The JSON object for metrics.jsonl, without the newline: the row's own keys first, then the metrics in
    /// name order. Numbers are written in Swift's shortest round-trip form, so parsing the text gives back the
    /// identical Double; NaN and infinities (which JSON cannot hold) are the strings "nan", "inf", "-inf".
    public func jsonLine() -> String {
        var s = "{\"step\":\(step),\"stage\":\(JSONText.quoted(stage)),\"stage_index\":\(stageIndex),\"stage_step\":\(stageStep),\"time\":\(JSONText.number(time))"
        for key in values.keys.sorted() {
            s += ",\(JSONText.quoted(key)):\(JSONText.number(values[key]!))"
        }
        return s + "}"
    }

    /// Parses one line of metrics.jsonl.
    /// - Parameters:
    ///   - jsonLine: the line without its newline.
    ///   - file: the file, for the error message.
    ///   - line: the 1-based line number, for the error message.
    /// - Throws: `TelemetryError.malformedMetrics` naming the line and what is wrong.
    public init(jsonLine: String, file: String, line: Int) throws {
        let fields: [(key: String, value: JSONText.Value)]
        do { fields = try JSONText.parseFlatObject(jsonLine) } catch let e as JSONText.ParseError {
            throw TelemetryError.malformedMetrics(file: file, line: line, reason: e.description)
        }
        func fail(_ reason: String) -> TelemetryError { .malformedMetrics(file: file, line: line, reason: reason) }
        var step: Int?, stage: String?, stageIndex: Int?, stageStep: Int?, time: Double?
        var values: [String: Double] = [:]
        for (key, value) in fields {
            switch key {
            case "step", "stage_index", "stage_step":
                guard case .number(let text) = value, let n = Int(text) else { throw fail("'\(key)' must be an integer") }
                if key == "step" { step = n } else if key == "stage_index" { stageIndex = n } else { stageStep = n }
            case "stage":
                guard case .string(let text) = value else { throw fail("'stage' must be a string") }
                stage = text
            case "time":
                guard let t = value.double else { throw fail("'time' must be a number") }
                time = t
            default:
                guard let v = value.double else { throw fail("metric '\(key)' must be a number or \"nan\"/\"inf\"/\"-inf\"") }
                guard values.updateValue(v, forKey: key) == nil else { throw fail("metric '\(key)' appears twice") }
            }
        }
        guard let step else { throw fail("missing 'step'") }
        guard let stage else { throw fail("missing 'stage'") }
        guard let stageIndex else { throw fail("missing 'stage_index'") }
        guard let stageStep else { throw fail("missing 'stage_step'") }
        guard let time else { throw fail("missing 'time'") }
        self.init(step: step, stage: stage, stageIndex: stageIndex, stageStep: stageStep, time: time, values: values)
    }

    /// True when both rows hold the same numbers bit for bit (NaN equals NaN), unlike `==`.
    public func isIdentical(to other: MetricRow) -> Bool {
        step == other.step && stage == other.stage && stageIndex == other.stageIndex && stageStep == other.stageStep
            && time.bitPattern == other.time.bitPattern
            && values.count == other.values.count
            && values.allSatisfy { other.values[$0.key]?.bitPattern == $0.value.bitPattern }
    }
}
