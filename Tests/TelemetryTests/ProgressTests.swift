import Logging
import Telemetry
import TestSupport
import Testing

// Progress output with a hand-set clock: the plain-line format (not a terminal), when lines appear, and the
// bar's in-place redraw on a terminal.
@Suite struct ProgressTests {
    @Test func plainLinesEveryNStepsAndAtTheEnd() {
        let out = CapturedOutput()
        let clock = ManualClock(100)
        let p = ProgressReporter(options: .lines(every: 2), console: out.console(), clock: clock.function)
        #expect(p.mode == .lines)
        p.stageStarted(index: 0, kind: "output-distill", totalSteps: 6)
        for step in 1...6 {
            clock.now = 100 + 0.5 * Double(step)
            p.update(stageIndex: 0, stageKind: "output-distill", stageStep: step, values: ["loss": 3 - 0.25 * Double(step), "kl": 0.1])
        }
        p.stageFinished(index: 0, kind: "output-distill", outcome: "completed")
        #expect(out.lines == [
            "stage 0 output-distill: step 1/6 (16%) -- steps/s ETA -- loss 2.75",
            "stage 0 output-distill: step 2/6 (33%) 2.00 steps/s ETA 0:02 loss 2.5",
            "stage 0 output-distill: step 4/6 (66%) 2.00 steps/s ETA 0:01 loss 2",
            "stage 0 output-distill: step 6/6 (100%) 2.00 steps/s ETA 0:00 loss 1.5",
            "stage 0 output-distill completed: 6/6 steps in 0:03 (2.00 steps/s) loss 1.5",
        ])
    }

    @Test func rewardShownAndUnknownTotal() {
        let out = CapturedOutput()
        let clock = ManualClock(0)
        let p = ProgressReporter(options: .lines(every: 100), console: out.console(), clock: clock.function)
        // No stageStarted: the stage starts implicitly, with no total.
        clock.now = 10
        p.update(stageIndex: 3, stageKind: "ppo-trace", stageStep: 40, values: ["reward": 0.6125])
        clock.now = 3710
        p.update(stageIndex: 3, stageKind: "ppo-trace", stageStep: 100, values: ["reward": 0.75, "loss": 0.01])
        #expect(out.lines == [
            "stage 3 ppo-trace: step 40 -- steps/s reward 0.6125",
            "stage 3 ppo-trace: step 100 0.0162 steps/s loss 0.01 reward 0.75",
        ])
        #expect(ProgressReporter.duration(3725) == "1:02:05")
        #expect(ProgressReporter.duration(.infinity) == "--")
    }

    @Test func automaticFallsBackToLinesWithoutATerminal() {
        #expect(ProgressReporter(options: .automatic, console: CapturedOutput().console(isTerminal: false)).mode == .lines)
        #expect(ProgressReporter(options: .automatic, console: CapturedOutput().console(isTerminal: true)).mode == .bar)
        #expect(ProgressReporter(options: .none, console: CapturedOutput().console(isTerminal: true)).mode == .none)
    }

    @Test func barRedrawsInPlaceAndKeepsLogLinesAbove() {
        let out = CapturedOutput()
        let console = out.console(isTerminal: true, width: 80)
        let clock = ManualClock(0)
        let p = ProgressReporter(options: .automatic, console: console, clock: clock.function)
        p.stageStarted(index: 1, kind: "feature-align", totalSteps: 10)
        clock.now = 1
        p.update(stageIndex: 1, stageKind: "feature-align", stageStep: 1, values: ["loss": 1])
        clock.now = 1.01  // within the redraw interval: not drawn
        p.update(stageIndex: 1, stageKind: "feature-align", stageStep: 2, values: ["loss": 0.9])
        clock.now = 3
        p.update(stageIndex: 1, stageKind: "feature-align", stageStep: 5, values: ["loss": 0.5])
        let logger = Logger(label: "run") { TelemetryLogHandler(label: $0, console: console, timestamps: false) }
        logger.info("checkpoint saved")
        let draws = out.text.components(separatedBy: "\r\u{1B}[2K").dropFirst()
        #expect(draws.count == 3)  // two bar draws, then the log line (which redraws the bar under it)
        // The bar takes the width the text leaves (80 columns minus one): 21 cells, then 15.
        #expect(draws.first == "stage 1 feature-align |" + String(repeating: "█", count: 2) + String(repeating: "░", count: 19)
            + "| 1/10 10% -- steps/s ETA -- loss 1")
        #expect(draws.dropFirst().first == "stage 1 feature-align |" + String(repeating: "█", count: 7) + String(repeating: "░", count: 8)
            + "| 5/10 50% 2.00 steps/s ETA 0:03 loss 0.5")
        #expect(draws.last?.hasPrefix("info [run] checkpoint saved\nstage 1 feature-align |") == true)
        #expect(draws.allSatisfy { $0.split(separator: "\n").allSatisfy { $0.count < 80 } })
    }
}
