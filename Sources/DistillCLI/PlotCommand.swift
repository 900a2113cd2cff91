import ArgumentParser
import Checkpoint
import Data
import FileErrors
import Foundation
import Logging
import Model
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
            case .success(let (fileName, svg, summary)):
                let path = outDirectory + "/" + fileName
                try write(svg, to: path)
                print("wrote \(path): \(summary)")
                written += 1
            case .failure(let skipped):
                print("attention heatmap: skipped: \(skipped.reason)")
                if written == 0 {
                    throw TelemetryError.nothingToPlot(path: runDirectory, reason: "\(metricsProblem ?? "no metric rows") and \(skipped.reason)")
                }
            }
        }
    }

    /// Why the heatmap was not drawn (the charts are still written).
    struct Skipped: Error {
        let reason: String
    }

    /// The heatmap file name, its SVG and a one-line summary, or why it cannot be drawn from this run.
    func attentionFigure(logger: Logger) throws -> Result<(String, String, String), Skipped> {
        let file: String
        if let checkpoint {
            file = checkpoint  // asked for by name: a bad file is an error, not a skip
        } else {
            let found = try CheckpointDirectory(path: runDirectory).latestValid()
            for s in found.skipped { logger.warning("\(s)") }
            guard let path = found.path else { return .failure(Skipped(reason: "no valid checkpoint (step-<N>.h5) in \(runDirectory)")) }
            file = path
        }
        let reader = try CheckpointReader(path: file)
        let roles = try reader.roles()
        guard roles.contains("teacher"), roles.contains("student") else {
            return .failure(Skipped(reason: "\(file) holds roles [\(roles.joined(separator: ", "))]; it needs both teacher and student"))
        }
        guard let tokenizer = try reader.tokenizer() else {
            return .failure(Skipped(reason: "\(file) stores no tokenizer, so the problem text cannot be encoded"))
        }
        let teacher = try reader.loadTransformer(role: "teacher")
        let student = try reader.loadTransformer(role: "student")
        for (role, model) in [("teacher", teacher), ("student", student)] where tokenizer.vocabularySize > model.config.vocabSize {
            throw CheckpointError.corrupt(file: file, object: "/tokenizer/symbols",
                                          reason: "\(tokenizer.vocabularySize) symbols but role \(role) has vocab_size \(model.config.vocabSize); the tokenizer does not belong to this model")
        }
        let studentLayers = student.config.numHiddenLayers, teacherLayers = teacher.config.numHiddenLayers
        guard layer < studentLayers else {
            throw ValidationError("--layer \(layer): the student in \(file) has \(studentLayers) layers (0...\(studentLayers - 1))")
        }
        let teacherLayer = HiddenProjection.uniformLayerMap(studentLayers: studentLayers, teacherLayers: teacherLayers)[layer].teacher

        let (problemText, caption) = try problemText()
        var ids: [Int32]
        do { ids = try tokenizer.encode(problemText) } catch {
            throw ValidationError("\(text != nil ? "--text" : "problem \(problem)"): \(error)")
        }
        let limit = min(maxTokens, teacher.config.maxPositionEmbeddings, student.config.maxPositionEmbeddings)
        if ids.count > limit {
            logger.info("showing the first \(limit) of \(ids.count) tokens")
            ids = Array(ids.prefix(limit))
        }
        let labels = ids.map { id -> String in
            let i = Int(id)
            guard i >= 0, i < tokenizer.symbols.count else { return "?" }
            return AttentionHeatmap.tokenLabel(tokenizer.symbols[i])
        }
        let teacherMap = meanAttention(teacher, ids: ids, layer: teacherLayer)
        let studentMap = meanAttention(student, ids: ids, layer: layer)
        let figure = AttentionHeatmap(
            title: "\(caption) (\((file as NSString).lastPathComponent), \(ids.count) tokens)",
            panels: [
                .init(title: "teacher layer \(teacherLayer) (mean over heads)", matrix: teacherMap, rowLabels: labels, columnLabels: labels),
                .init(title: "student layer \(layer) (mean over heads)", matrix: studentMap, rowLabels: labels, columnLabels: labels),
            ])
        let name = (text == nil ? "attention-problem\(problem)" : "attention-text") + "-layer\(layer).svg"
        return .success((name, figure.svg(),
                         "attention of teacher layer \(teacherLayer) and student layer \(layer) on \(caption), \(ids.count) tokens, from \(file)"))
    }

    /// The text to run the models on and a caption for the figure: --text, or a generated test problem's prompt
    /// followed by its reference trace (the layout the models are trained on).
    func problemText() throws -> (String, String) {
        if let text { return (text, "text \(String(reflecting: text))") }
        let config = GenerationConfig(domains: TaskDomain.allCases, count: problem + 1, split: .test, seed: 0, difficulty: 2)
        let records = try DatasetGenerator(config: config).generate()
        let record = records[problem]
        guard let question = record.question else {
            throw ValidationError("generated problem \(problem) has no question; pass --text instead")
        }
        return (TraceFormat.prompt(question: question) + TraceFormat.completion(of: record),
                "problem \(problem)" + (record.domain.map { " (\($0))" } ?? "") + ": \(question)")
    }

    /// A layer's attention probabilities averaged over heads, `[query][key]`, with no autograd recording.
    func meanAttention(_ model: Transformer, ids: [Int32], layer: Int) -> [[Float]] {
        let t = ids.count
        let probabilities = withNoGrad { model.forward(tokens: ids, batch: 1, length: t, options: .attentions).attentions[layer] }
        let heads = probabilities.shape[1]  // (B, H, T, T)
        precondition(probabilities.shape == [1, heads, t, t], "attention of layer \(layer) has shape \(probabilities.shape), expected [1, H, \(t), \(t)]")
        let p = probabilities.ptr
        var mean = [[Float]](repeating: [Float](repeating: 0, count: t), count: t)
        for h in 0..<heads {
            for i in 0..<t {
                for j in 0..<t { mean[i][j] += p[(h * t + i) * t + j] }
            }
        }
        let scale = 1 / Float(heads)
        return mean.map { $0.map { $0 * scale } }
    }

    /// Writes `text` to `path`.
    func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw TelemetryError.io(path: path, reason: "cannot write: " + WriteFailure.diagnose(path: path, target: .file, error: error).reason)
        }
    }
}
