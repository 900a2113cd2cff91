import Foundation

/// Per-stage progress on standard error: a bar redrawn in place on a terminal (stage, step/total, rate, ETA,
/// last loss or reward), or one plain line every N steps and at the stage end when the output is a file or a
/// CI log. Standard output is left alone for results.
public final class ProgressReporter {
    /// The resolved display.
    public enum Mode: Sendable, Equatable {
        /// Status line redrawn in place.
        case bar
        /// Plain lines.
        case lines
        /// Nothing.
        case none
    }

    /// What is known about the running stage.
    private struct StageState {
        var index: Int
        var kind: String
        var totalSteps: Int?
        var startedAt: Double
        /// The first update seen in this process (rates are measured from it, so start-up is not counted).
        var reference: (step: Int, time: Double)?
        var step = 0
        var values: [String: Double] = [:]
        var lastDraw = -Double.infinity
    }

    /// The display in use.
    public let mode: Mode
    private let options: ProgressOptions
    private let console: TerminalConsole
    private let clock: () -> Double
    private var stage: StageState?

    /// A reporter.
    /// - Parameters:
    ///   - options: the display and its intervals.
    ///   - console: where to write (standard error by default).
    ///   - clock: seconds, for rates and ETAs (tests pass a fake one).
    public init(options: ProgressOptions, console: TerminalConsole = .standardError,
                clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        self.options = options
        self.console = console
        self.clock = clock
        switch options.style {
        case .none: mode = .none
        case .lines: mode = .lines
        case .automatic, .bar: mode = console.isTerminal ? .bar : .lines
        }
    }

    /// A stage begins (or resumes): the rate and ETA start afresh.
    /// - Parameters:
    ///   - index: the stage's position in the curriculum.
    ///   - kind: the stage kind, e.g. `output-distill`.
    ///   - totalSteps: the stage's step budget (nil or 0 when unknown: no percentage or ETA).
    public func stageStarted(index: Int, kind: String, totalSteps: Int?) {
        finishBar()
        stage = StageState(index: index, kind: kind, totalSteps: totalSteps.flatMap { $0 > 0 ? $0 : nil }, startedAt: clock())
    }

    /// A step was recorded.
    /// - Parameters:
    ///   - stageIndex: the stage's position (a stage not announced by `stageStarted` is started implicitly).
    ///   - stageKind: the stage kind.
    ///   - stageStep: the step within the stage (1-based count of steps done).
    ///   - values: the step's metrics (`loss` and `reward` are shown when present).
    public func update(stageIndex: Int, stageKind: String, stageStep: Int, values: [String: Double]) {
        guard mode != .none else { return }
        if stage?.index != stageIndex || stage?.kind != stageKind {
            stageStarted(index: stageIndex, kind: stageKind, totalSteps: nil)
        }
        let now = clock()
        var s = stage!
        let first = s.reference == nil
        if first { s.reference = (stageStep, now) }
        s.step = stageStep
        s.values = values
        switch mode {
        case .lines:
            if first || stageStep % options.lineInterval == 0 { console.printLine(progressLine(s, now: now)) }
        case .bar:
            if now - s.lastDraw >= options.redrawInterval || stageStep == s.totalSteps {
                s.lastDraw = now
                console.showStatus(bar(s, now: now))
            }
        case .none:
            break
        }
        stage = s
    }

    /// The stage ended: a final line with the steps done, the time taken and the last loss or reward.
    /// - Parameters:
    ///   - index: the stage's position.
    ///   - kind: the stage kind.
    ///   - outcome: how it ended, e.g. `completed`, `early stop`, `failed: reason`.
    public func stageFinished(index: Int, kind: String, outcome: String) {
        guard mode != .none else { return }
        let s = (stage?.index == index && stage?.kind == kind) ? stage! : StageState(index: index, kind: kind, startedAt: clock())
        let now = clock()
        if mode == .bar { console.showStatus(bar(s, now: now)) }
        finishBar()
        var line = "stage \(index) \(kind) \(outcome): \(s.step)" + (s.totalSteps.map { "/\($0)" } ?? "") + " steps"
        line += " in " + Self.duration(now - s.startedAt)
        if let rate = rate(s, now: now) { line += " (" + Self.rateText(rate) + ")" }
        line += valuesText(s.values)
        console.printLine(line)
        stage = nil
    }

    /// Ends a bar left on screen (call before printing results to the same terminal).
    public func finishBar() {
        if mode == .bar { console.finishStatus() }
    }

    // MARK: - Formatting

    /// The plain line for line mode: `stage 1 output-distill: step 50/200 (25%) 3.21 steps/s ETA 0:47 loss 0.4213`.
    private func progressLine(_ s: StageState, now: Double) -> String {
        var line = "stage \(s.index) \(s.kind): step \(s.step)"
        if let total = s.totalSteps { line += "/\(total) (\(percent(s.step, total))%)" }
        return line + " " + rateAndETA(s, now: now) + valuesText(s.values)
    }

    /// The status line for bar mode, fitted to the terminal width (a wrapped line cannot be redrawn).
    private func bar(_ s: StageState, now: Double) -> String {
        let head = "stage \(s.index) \(s.kind) "
        var tail = " \(s.step)"
        if let total = s.totalSteps { tail += "/\(total) \(percent(s.step, total))%" }
        tail += " " + rateAndETA(s, now: now) + valuesText(s.values)
        let width = console.width
        let barWidth = min(40, max(10, width - 1 - head.count - tail.count - 2))
        var filled = 0
        if let total = s.totalSteps { filled = min(barWidth, max(0, barWidth * s.step / total)) }
        let text = head + "|" + String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled) + "|" + tail
        return text.count < width ? text : String(text.prefix(max(1, width - 1)))
    }

    private func rate(_ s: StageState, now: Double) -> Double? {
        guard let r = s.reference, s.step > r.step, now > r.time else { return nil }
        return Double(s.step - r.step) / (now - r.time)
    }

    private func rateAndETA(_ s: StageState, now: Double) -> String {
        guard let rate = rate(s, now: now) else { return "-- steps/s" + (s.totalSteps == nil ? "" : " ETA --") }
        guard let total = s.totalSteps else { return Self.rateText(rate) }
        return Self.rateText(rate) + " ETA " + Self.duration(Double(max(0, total - s.step)) / rate)
    }

    private func valuesText(_ values: [String: Double]) -> String {
        ["loss", "reward"].compactMap { key in values[key].map { " \(key) " + String(format: "%.4g", $0) } }.joined()
    }

    private func percent(_ step: Int, _ total: Int) -> Int { min(100, max(0, 100 * step / total)) }

    /// A rate: `3.21 steps/s`, or `0.052 steps/s` for slow stages.
    public static func rateText(_ stepsPerSecond: Double) -> String {
        String(format: stepsPerSecond >= 1 ? "%.2f steps/s" : "%.3g steps/s", stepsPerSecond)
    }

    /// A duration as `m:ss` or `h:mm:ss` (`--` when not finite).
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "--" }
        let t = Int(seconds.rounded())
        let (h, m, s) = (t / 3600, (t % 3600) / 60, t % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
