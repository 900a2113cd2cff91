import ArgumentParser
import Checkpoint
import Data
import FileErrors
import Foundation
import Logging
import Model
import Stages
import Telemetry
import Tensor

/// `distill plot RUN_DIR`: SVG charts of a run's metrics and teacher/student attention heatmaps.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Write SVG charts of a run: losses, rewards, temperature, KL, learning rate, and teacher/student attention.",
        discussion: """
            Metric charts come from RUN_DIR/metrics.jsonl (global step on x, stage boundaries marked). The attention \
            heatmap loads the newest valid checkpoint in RUN_DIR (or --checkpoint) holding both a teacher and a \
            student, runs both on one problem (a generated test question with its reference trace, or --text) and \
            shows each model's attention averaged over heads: student layer --layer beside the teacher layer the \
            uniform layer map pairs it with. Without such a checkpoint the heatmap is skipped (and said so) and the \
            charts are still written.
            """)

    @Argument(help: "The run folder (holds metrics.jsonl and step-<N>.h5 checkpoints), e.g. checkpoints/default.")
    var runDirectory: String

    @Option(help: "Where to write the SVG files (default: RUN_DIR/plots).")
    var out: String?

    // parsing: .unconditional on numeric options: `--count -5` reaches validation ("must be at least 1, got -5")
    // instead of being taken for an unknown option `-5` ("Missing value for '--count'").
    @Option(parsing: .unconditional, help: "Which generated test problem to show attention on (0-based; all domains, difficulty 2, seed 0).")
    var problem = 0

    @Option(parsing: .unconditional, help: "The student layer (0-based); the teacher layer is the one the uniform layer map pairs with it.")
    var layer = 0

    @Option(help: "Show attention on this text instead of a generated problem.")
    var text: String?

    @Option(help: "The checkpoint to take the models from (default: the newest valid one in RUN_DIR).")
    var checkpoint: String?

    @Option(parsing: .unconditional, help: "At most this many tokens (BOS included) of the problem text are shown.")
    var maxTokens = 48

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        // Problems are generated up to the one asked for, so a huge index would only be slow.
        guard (0..<10_000).contains(problem) else { throw ValidationError("--problem must be in 0...9999, got \(problem)") }
        guard layer >= 0 else { throw ValidationError("--layer must be 0 or more, got \(layer)") }
        guard maxTokens >= 2 else { throw ValidationError("--max-tokens must be at least 2, got \(maxTokens)") }
        if let text, text.isEmpty { throw ValidationError("--text is empty; give the text to show attention on") }
    }

    func run() throws {
        try reportingErrors {
            let logger = logging.logger("tracedistill.plot")
            guard FileManager.default.fileExists(atPath: runDirectory + "/.") else {
                throw TelemetryError.runFolderMissing(path: runDirectory)
            }
            let outDirectory = out ?? runDirectory + "/plots"
            do {
                try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
            } catch {
                throw TelemetryError.io(path: outDirectory, reason: "cannot create the output folder: "
                                        + WriteFailure.diagnose(path: outDirectory, target: .folder, error: error, createsFolders: true).reason)
            }

            var written = 0
            let metricsPath = runDirectory + "/" + MetricsLog.fileName
            let metrics = try MetricsLog.read(path: metricsPath)
            if let torn = metrics.tornLine {
                logger.notice("left out the torn last line of \(metricsPath) (the run is still writing, or crashed): \(torn.prefix(80))")
            }
            var metricsProblem: String?
            if !FileManager.default.fileExists(atPath: metricsPath) {
                metricsProblem = "no \(MetricsLog.fileName)"
                print("metric charts: skipped: \(metricsPath) does not exist")
            } else if metrics.rows.isEmpty {
                metricsProblem = "\(MetricsLog.fileName) has no rows"
                print("metric charts: skipped: \(metricsPath) has no rows yet")
            } else {
                for chart in RunCharts.charts(rows: metrics.rows) {
                    let path = outDirectory + "/" + chart.fileName
                    try write(chart.svg, to: path)
                    print("wrote \(path): \(chart.title) (\(chart.metrics.joined(separator: ", ")))")
                    written += 1
                }
            }

            switch try attentionFigure(logger: logger) {
            case .drawn(let figure):
                let path = outDirectory + "/" + figure.fileName
                try write(figure.svg, to: path)
                print("wrote \(path): \(figure.summary)")
                written += 1
            case .skipped(let reason):
                print("attention heatmap: skipped: \(reason)")
                if written == 0 {
                    throw TelemetryError.nothingToPlot(path: runDirectory, reason: "\(metricsProblem ?? "no metric rows") and \(reason)")
                }
            }
        }
    }

    /// The heatmap from --checkpoint or the run's newest valid checkpoint, or why there is none; the library's
    /// errors about the options come back as the options' errors.
    func attentionFigure(logger: Logger) throws -> AttentionFigure.Outcome {
        let file: String
        if let checkpoint {
            file = checkpoint  // asked for by name: a bad file is an error, not a skip
        } else {
            let found = try CheckpointDirectory(path: runDirectory).latestValid()
            for s in found.skipped { logger.warning("\(s)") }
            guard let path = found.path else { return .skipped(reason: "no valid checkpoint (step-<N>.h5) in \(runDirectory)") }
            file = path
        }
        let outcome: AttentionFigure.Outcome
        do {
            outcome = try AttentionFigure.draw(checkpoint: file, layer: layer, problem: text.map { .text($0) } ?? .generated(index: problem),
                                               maxTokens: maxTokens)
        } catch let e as AttentionFigureError {
            switch e {
            case .layerOutOfRange: throw ValidationError("--" + e.description)  // "--layer N: ..."
            case .unencodable: throw ValidationError((text != nil ? "--" : "") + e.description)  // "--text: ..." or "problem N: ..."
            case .noQuestion: throw ValidationError("generated problem \(problem) has no question; pass --text instead")
            }
        }
        if case .drawn(let figure) = outcome, figure.shownTokens < figure.problemTokens {
            logger.info("showing the first \(figure.shownTokens) of \(figure.problemTokens) tokens")
        }
        return outcome
    }

    /// Writes `text` to `path`.
    func write(_ text: String, to path: String) throws {
        if let inTheWay = WriteFailure.inTheWay(ofFileAt: path) { throw TelemetryError.io(path: path, reason: "cannot write: " + inTheWay.reason) }
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw TelemetryError.io(path: path, reason: "cannot write: " + WriteFailure.diagnose(path: path, target: .file, error: error).reason)
        }
    }
}
