import Checkpoint
import Data
import Foundation
import Logging
import Model
import Telemetry
import Tensor
import TestSupport
import Testing

// `distill plot` as a user runs it, on run folders made here: metrics written through RunMonitor, and a tiny
// checkpoint holding a random teacher and student with the math tokenizer.
@Suite struct PlotCommandTests {
    /// Writes 12 rows over two stages into `dir`.
    static func writeMetrics(_ dir: String) throws {
        let m = try RunMonitor(runDirectory: dir, resumingAfterStep: nil, progress: .none,
                               logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, console: CapturedOutput().console())
        for s in 1...12 {
            let stage = s <= 6 ? 0 : 1
            var values = ["learning_rate": 1e-3, "grad_norm": 1 / Double(s)]
            if stage == 0 {
                values["loss"] = 3 / Double(s); values["ce"] = 2 / Double(s); values["kl"] = 1 / Double(s)
                values["temperature"] = 2; values["alpha"] = 0.9
            } else {
                values["reward"] = Double(s) / 12; values["reward/answer"] = 1; values["kl_coefficient"] = 0.05
            }
            try m.record(step: s, stageIndex: stage, stageKind: stage == 0 ? "output-distill" : "ppo-trace",
                         stageStep: stage == 0 ? s : s - 6, values: values, time: 1000 + Double(s))
        }
        try m.close()
    }

    /// A checkpoint at `dir/step-12.h5` with the given roles (tiny random models: 3-layer teacher, 2-layer student).
    static func writeCheckpoint(_ dir: String, roles: [String]) throws {
        let vocabulary = Tokenizer.math.vocabularySize
        let configs = [
            "teacher": TransformerConfig(vocabSize: vocabulary, hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 3,
                                         numAttentionHeads: 4, maxPositionEmbeddings: 64),
            "student": TransformerConfig(vocabSize: vocabulary, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                         numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64),
        ]
        var rng = RandomGenerator(seed: 5)
        var snapshots: [ModelSnapshot] = []
        for role in roles {
            let config = try #require(configs[role])
            let model = try Transformer(config: config, rng: &rng)
            // Larger weights than the 0.02 init, so attention is far from uniform.
            for i in 0..<model.parameters.count { model.parameters.values.base[i] *= 20 }
            snapshots.append(ModelSnapshot(role: role, configJSON: config.jsonString(), store: model.parameters))
        }
        try CheckpointWriter.save(CheckpointContents(models: snapshots, run: RunRecord(stageIndex: 1, globalStep: 12),
                                                     tokenizer: .math), to: dir + "/step-12.h5")
    }

    /// The (query, key, value) of every heatmap cell tooltip of one panel.
    static func cellValues(_ svg: String) throws -> [(Int, Int, Double)] {
        let pattern = try Regex(#"<title>query (\d+) .*? key (\d+) .*?: ([0-9.]+)</title>"#)
        return elements(svg, class: "cell").compactMap { line in
            guard let m = line.firstMatch(of: pattern), let i = Int(m.output[1].substring!), let j = Int(m.output[2].substring!),
                  let v = Double(m.output[3].substring!) else { return nil }
            return (i, j, v)
        }
    }

    @Test func chartsAndHeatmap() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("plot") { dir in
            try Self.writeMetrics(dir)
            try Self.writeCheckpoint(dir, roles: ["teacher", "student"])
            let out = dir + "/figures"
            let r = try runDistill(distill, ["plot", dir, "--out", out, "--problem", "3", "--layer", "1", "--log-level", "debug"])
            #expect(r.succeeded, "\(r)")
            // TELEMETRY_TESTS_KEEP_PLOTS=DIR keeps a copy of the figures, for looking at them.
            if let keep = ProcessInfo.processInfo.environment["TELEMETRY_TESTS_KEEP_PLOTS"] {
                try? FileManager.default.removeItem(atPath: keep)
                try FileManager.default.copyItem(atPath: out, toPath: keep)
            }
            #expect(folderListing(out) == ["attention-problem3-layer1.svg", "kl.svg", "learning-rate.svg", "losses.svg",
                                           "metric-grad_norm.svg", "rewards.svg", "temperature.svg"])
            #expect(r.stdout.contains("wrote \(out)/losses.svg: Loss components (loss, ce, kl)"))
            let losses = try readText(out + "/losses.svg")
            #expect(isWellFormedXML(losses))
            #expect(texts(losses, class: "stage-label") == ["output-distill", "ppo-trace"])

            // The heatmap: problem 3 of the generated test split, prompt and trace, at most 48 tokens.
            let records = try DatasetGenerator(config: GenerationConfig(domains: TaskDomain.allCases, count: 4, split: .test,
                                                                        seed: 0, difficulty: 2)).generate()
            let text = TraceFormat.prompt(question: try #require(records[3].question)) + TraceFormat.completion(of: records[3])
            let tokens = min(48, text.count + 1)
            let svg = try readText(out + "/attention-problem3-layer1.svg")
            #expect(isWellFormedXML(svg))
            #expect(texts(svg, class: "title") == [SVGDocument.escape("problem 3 (\(try #require(records[3].domain))): \(try #require(records[3].question)) (step-12.h5, \(tokens) tokens)")])
            #expect(elements(svg, class: "cell").count == 2 * tokens * tokens)
            // Student layer 1 of 2 meets teacher layer 2 of 3 under the uniform map.
            #expect(texts(svg, class: "panel-title") == ["teacher layer 2 (mean over heads)", "student layer 1 (mean over heads)"])
            #expect(texts(svg, class: "row-label").prefix(2) == ["&lt;bos&gt;", SVGDocument.escape(String(text.first!))])
            // Each panel is a causal attention map: nothing above the diagonal, each row sums to 1.
            let cells = try Self.cellValues(svg)
            #expect(cells.count == 2 * tokens * tokens)
            for panel in 0..<2 {
                let part = cells[(panel * tokens * tokens)..<((panel + 1) * tokens * tokens)]
                #expect(part.allSatisfy { $0.1 <= $0.0 || $0.2 == 0 }, "panel \(panel): attention above the diagonal")
                for i in 0..<tokens {
                    let sum = part.filter { $0.0 == i }.reduce(0) { $0 + $1.2 }
                    #expect(abs(sum - 1) < 5e-4 * Double(i + 1), "panel \(panel) row \(i) sums to \(sum)")
                }
            }
            // The two models differ, so their maps do too.
            #expect(cells.prefix(tokens * tokens).map(\.2) != cells.suffix(tokens * tokens).map(\.2))
        }
    }

    @Test func heatmapSkippedWithoutBothRoles() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("plot-student-only") { dir in
            try Self.writeMetrics(dir)
            try Self.writeCheckpoint(dir, roles: ["student"])
            let r = try runDistill(distill, ["plot", dir])
            #expect(r.succeeded, "\(r)")
            #expect(r.stdout.contains("attention heatmap: skipped: \(dir)/step-12.h5 holds roles [student]; it needs both teacher and student"))
            #expect(folderListing(dir + "/plots").contains("losses.svg"))
            #expect(!folderListing(dir + "/plots").contains { $0.hasPrefix("attention") })
        }
    }

    @Test func textOptionAndLayerRange() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("plot-text") { dir in
            try Self.writeCheckpoint(dir, roles: ["teacher", "student"])
            let r = try runDistill(distill, ["plot", dir, "--text", "12 + 30 = 42", "--layer", "0"])
            #expect(r.succeeded, "\(r)")
            #expect(r.stdout.contains("metric charts: skipped"))
            let svg = try readText(dir + "/plots/attention-text-layer0.svg")
            #expect(elements(svg, class: "cell").count == 2 * 13 * 13)
            #expect(texts(svg, class: "panel-title") == ["teacher layer 0 (mean over heads)", "student layer 0 (mean over heads)"])
            let bad = try runDistill(distill, ["plot", dir, "--layer", "2"])
            #expect(!bad.succeeded && bad.stderr.contains("--layer 2: the student in \(dir)/step-12.h5 has 2 layers (0...1)"), "\(bad)")
        }
    }

    @Test func badInputIsAClearError() throws {
        guard let distill = requireDistill() else { return }
        let missing = try runDistill(distill, ["plot", "/nonexistent/run-folder"])
        #expect(!missing.succeeded && !missing.signaled)
        #expect(missing.stderr.contains("run folder /nonexistent/run-folder does not exist"), "\(missing)")
        try withTemporaryFolder("plot-empty") { dir in
            let empty = try runDistill(distill, ["plot", dir])
            #expect(!empty.succeeded && !empty.signaled)
            #expect(empty.stderr.contains("nothing to plot in \(dir): no metrics.jsonl and no valid checkpoint"), "\(empty)")
            let level = try runDistill(distill, ["plot", dir, "--log-level", "loud"])
            #expect(!level.succeeded && level.stderr.contains("--log-level"), "\(level)")
            #expect(level.stderr.contains("trace") && level.stderr.contains("critical"), "\(level)")
            try "{\"step\":1}\n{\"step\":2}\n".write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
            let damaged = try runDistill(distill, ["plot", dir])
            #expect(!damaged.succeeded && damaged.stderr.contains("metrics.jsonl line 1: missing 'stage'"), "\(damaged)")
        }
    }
}
