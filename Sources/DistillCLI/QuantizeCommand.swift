import ArgumentParser
import Checkpoint
import Data
import Eval
import Foundation
import Model
import Stages
import Tensor
import Tokenizers

/// `distill quantize`: INT8 post-training quantization of a checkpoint's model, calibrated on training traces,
/// with the size, accuracy and decoding speed it costs or gains against the FP32 model.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "INT8 post-training quantization of a checkpoint's model, calibrated layer by layer on training traces.",
        discussion: """
            Linear weights become int8 with one symmetric scale per output channel. Each layer's input activations \
            are rounded to int8 at one static scale, its range read from --calibration training traces (the run's \
            own training rows, rebuilt from the curriculum stored in the checkpoint, or --calibration-data) block by \
            block: a block is calibrated with the blocks before it already int8, so its ranges see their rounding. \
            --activation-range minmax takes the largest magnitude seen; percentile takes --percentile of them and \
            clips rarer outliers; dynamic rounds each token's input at its own largest magnitude, found at run time \
            (for models with rare huge activations at a few tokens, such as SmolLM2's first token). The first and last layers (the embedding and the output head) stay FP32 by default \
            (--keep-fp32); the embedding is a lookup and always does. Products run in int8 with exact int32 sums; \
            the int8 weights are never expanded to floats (eval, score and generate read the file as it is).

            The new checkpoint holds only the model, its tokenizer and the run's curriculum. Then, unless \
            --no-eval, the FP32 and the INT8 model are evaluated greedily on the run's held-out suite (--suite) \
            and their KV-cache decoding speed measured back to back; the table shows bytes, accuracy, step \
            validity and tokens/s.
            """)

    @Argument(help: "The FP32 checkpoint (.h5).")
    var checkpoint: String

    @Option(help: "The quantized checkpoint to write (a new file).")
    var out: String

    @Option(help: "Which model role to quantize.")
    var role = "student"

    @Option(parsing: .unconditional, help: "Training traces to calibrate the activation ranges on.")
    var calibration = 128

    @Option(help: "A JSONL trace file to calibrate on (default: the run's training rows, from the checkpoint's curriculum).")
    var calibrationData: String?

    @Option(help: "Comma-separated parts kept in FP32: embed, lm_head, layers.N, or a weight name prefix such as model.layers.1.mlp.")
    var keepFp32 = "embed,lm_head"

    @Option(help: "How a layer's input range is set: minmax (largest magnitude seen), percentile (--percentile of the magnitudes) or dynamic (each token's own, at run time).")
    var activationRange = "percentile"

    @Option(parsing: .unconditional, help: "The percentile for --activation-range percentile, in (50, 100].")
    var percentile = 99.9

    @Option(help: "Suite for the FP32-versus-INT8 comparison: run (the run's held-out questions), math-proof, or a JSONL file.")
    var suite = "run"

    @Option(parsing: .unconditional, help: "Problems per domain of a built-in suite (run, math-proof); more problems, less noise. (default: 40)")
    var perDomain: Int?

    @Option(parsing: .unconditional, help: "Evaluate only the first N problems of the suite.")
    var limit: Int?

    @Flag(help: "Write the quantized checkpoint without the evaluation and speed comparison.")
    var noEval = false

    func validate() throws {
        guard calibration >= 1 else { throw ValidationError("--calibration must be at least 1 trace, got \(calibration)") }
        guard ["minmax", "percentile", "dynamic"].contains(activationRange) else {
            throw ValidationError("--activation-range \(activationRange): use minmax, percentile or dynamic")
        }
        guard percentile > 50 && percentile <= 100 else { throw ValidationError("--percentile must be in (50, 100], got \(percentile)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let perDomain, perDomain < 1 { throw ValidationError("--per-domain must be at least 1, got \(perDomain)") }
        if perDomain != nil && suite != "run" && suite != MathProofSuite.name {
            throw ValidationError("--per-domain sizes a built-in suite; a suite file has its own problems (drop --per-domain, or use --limit)")
        }
        guard URL(fileURLWithPath: out).standardizedFileURL.path != URL(fileURLWithPath: checkpoint).standardizedFileURL.path else {
            throw ValidationError("--out is the checkpoint being quantized; write the int8 model to a new file")
        }
    }

    func run() throws {
        try reportingErrors {
            if FileManager.default.fileExists(atPath: out) {
                throw ValidationError("--out \(out) exists; remove it or choose another file (quantize never overwrites a file)")
            }
            let reader = try CheckpointReader(path: checkpoint)
            let (model, codec) = try reader.loadModel(role: role)
            guard model.quantizedLinears.isEmpty else {
                throw ValidationError("\(checkpoint): the \(role) is already int8; quantize its FP32 checkpoint")
            }
            let curriculum = try storedCurriculum(reader)
            let traces = try calibrationTraces(curriculum: curriculum, codec: codec, context: model.config.maxPositionEmbeddings)
            let comparison = noEval ? nil : try comparisonSuite(curriculum: curriculum)  // a bad --suite fails before the work
            var keep = Set<String>()
            for selector in keepFp32.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !selector.isEmpty {
                keep.formUnion(try model.linearWeights(selectedBy: selector))
            }
            let range: ActivationRange = activationRange == "minmax" ? .minMax : activationRange == "dynamic" ? .dynamic : .percentile(percentile)
            let fp32Bytes = model.weightBytes
            let reference = comparison == nil ? nil : try reader.loadTransformer(role: role)  // the FP32 model, for the comparison
            let clock = ContinuousClock(), start = clock.now
            try model.quantize(keeping: keep, calibration: traces, range: range)
            let seconds = (clock.now - start).seconds
            print("quantized \(model.quantizedLinears.count) of \(model.linearWeights.count) Linear layers to int8 "
                  + "(calibrated on \(traces.count) traces, \(range), \(String(format: "%.1f", seconds)) s); FP32: "
                  + (keep.isEmpty ? "embedding" : "embedding, " + keep.sorted().joined(separator: ", ")))
            try write(model: model, reader: reader, range: range, calibrationRows: traces.count)
            print("wrote \(out): model \(fp32Bytes) -> \(model.weightBytes) bytes "
                  + String(format: "(%.1f%% smaller)", 100 * (1 - Double(model.weightBytes) / Double(fp32Bytes))))
            guard let comparison, let reference else { return }
            let int8 = try CheckpointReader(path: out).loadTransformer(role: role)  // what eval and score will run
            try compare(fp32: reference, int8: int8, codec: codec, suite: comparison)
        }
    }

    /// The run's curriculum stored in the checkpoint (nil for an imported model, which has none).
    private func storedCurriculum(_ reader: CheckpointReader) throws -> Curriculum? {
        guard !reader.curriculum.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return try reader.storedCurriculum(file: checkpoint + ":/curriculum")
    }

    /// The first `--calibration` training traces as token sequences (prompt and completion), cut to the context.
    private func calibrationTraces(curriculum: Curriculum?, codec: TraceCodec, context: Int) throws -> [[Int32]] {
        let tokens: [[Int32]]
        if let calibrationData {
            let records = try TraceDataset.load(calibrationData).records.prefix(calibration)
            guard !records.isEmpty else { throw ValidationError("--calibration-data \(calibrationData) has no rows") }
            tokens = try records.enumerated().map { i, record in
                let ids = try TokenizedTrace(record, codec: codec).tokens
                guard ids.count <= context else {
                    throw ValidationError("--calibration-data \(calibrationData): row \(i + 1) is \(ids.count) tokens, longer than the model's "
                                          + "context of \(context); give traces that fit")
                }
                return ids
            }
        } else if let curriculum {
            tokens = try RunData(curriculum: curriculum, codec: codec).trainTokens.prefix(calibration).map(\.tokens)
        } else {
            throw ValidationError("\(checkpoint) holds no run curriculum to take training traces from; give --calibration-data FILE.jsonl")
        }
        return tokens.map { Array($0.prefix(context)) }
    }

    private func write(model: Transformer, reader: CheckpointReader, range: ActivationRange, calibrationRows: Int) throws {
        let record = QuantizationRecord(activationRange: range.description, calibrationRows: calibrationRows,
                                        keptFP32: keepFp32.split(separator: ",").map(String.init))
        let snapshot = ModelSnapshot(role: role, configJSON: try reader.configJSON(role: role), store: model.floatParametersKept(),
                                     quantized: model.quantizedLinears, quantization: record)
        let base = try reader.artifacts()["curriculum_base_directory"]
        let contents = CheckpointContents(curriculum: reader.curriculum, models: [snapshot], run: try reader.run(),
                                          stages: try reader.stages(), tokenizer: try reader.tokenizer(),
                                          tokenizerJSON: try reader.tokenizerJSON(), chatTemplate: try reader.chatTemplate(),
                                          promptTemplate: try reader.promptTemplate(),
                                          artifacts: base.map { ["curriculum_base_directory": $0] } ?? [:],
                                          resolvedCurriculum: reader.resolvedCurriculum)
        try CheckpointWriter.save(contents, to: out)
    }

    /// The suite the FP32 and INT8 models are compared on.
    private func comparisonSuite(curriculum: Curriculum?) throws -> EvalSuite {
        if suite == "run" {
            guard let curriculum else {
                throw ValidationError("--suite run needs the run's curriculum, and \(checkpoint) has none; give --suite math-proof or a JSONL file")
            }
            return try EvalSuite.heldOut(curriculum: curriculum, perDomain: perDomain).limited(to: limit)
        }
        let mathProof = MathProofSuite(countPerDomain: perDomain ?? MathProofSuite.defaultCountPerDomain)
        return try EvalSuite.resolve(suite, mathProof: mathProof).limited(to: limit)
    }

    /// Greedy accuracy and step validity of both models on the suite, and their KV-cache decoding speed.
    private func compare(fp32: Transformer, int8: Transformer, codec: TraceCodec, suite problems: EvalSuite) throws {
        let evaluator = try Evaluator(config: EvalConfig(maxNewTokens: 320, batchSize: 16, samples: 0))
        let a = try evaluator.evaluate(model: fp32, codec: codec, suite: problems, label: "fp32", role: role)
        let b = try evaluator.evaluate(model: int8, codec: codec, suite: problems, label: "int8", role: role)
        let speed = decodingSpeed([fp32, int8], codec: codec, questions: problems.problems.map(\.question))
        print("\(problems.name): \(problems.problems.count) problems (\(problems.source)); greedy decoding")
        func percent(_ x: Double?) -> String { x.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
        let rows = [("FP32", a, speed[0]), ("INT8", b, speed[1])]
        print("model   bytes        accuracy  step validity  decode tokens/s")
        for (name, r, s) in rows {
            print(name.padding(toLength: 8, withPad: " ", startingAt: 0) + String(r.modelBytes).padding(toLength: 13, withPad: " ", startingAt: 0)
                  + percent(r.greedy.accuracy).padding(toLength: 10, withPad: " ", startingAt: 0)
                  + percent(r.greedy.stepValidity).padding(toLength: 15, withPad: " ", startingAt: 0) + String(format: "%.0f", s))
        }
        print(String(format: "int8 - fp32: accuracy %+.1f points, step validity %+.1f points, decoding %.2fx",
                     100 * (b.greedy.accuracy - a.greedy.accuracy), 100 * ((b.greedy.stepValidity ?? 0) - (a.greedy.stepValidity ?? 0)),
                     speed[1] / max(speed[0], 1e-9)))
    }

    /// KV-cache decoding tokens/s of each model: 16 prompts x 64 new tokens, greedy, no stop token; three rounds
    /// with the models interleaved, the median round of each.
    private func decodingSpeed(_ models: [Transformer], codec: TraceCodec, questions: [String]) -> [Double] {
        let prompts = questions.prefix(16).compactMap { try? codec.prompt(question: $0) }
        guard !prompts.isEmpty, let longest = prompts.map(\.count).max() else { return models.map { _ in 0 } }
        let newTokens = min(64, models[0].config.maxPositionEmbeddings - longest)
        guard newTokens >= 1 else { return models.map { _ in 0 } }
        let options = SamplingOptions.greedy(maxNewTokens: newTokens, stopTokens: [])
        var rounds = [[Double]](repeating: [], count: models.count)
        let clock = ContinuousClock()
        for _ in 0..<3 {
            for (i, m) in models.enumerated() {
                var rng = RandomGenerator(seed: 0)
                let start = clock.now
                let g = withNoGrad { m.generate(prompts: prompts, options: options, rng: &rng) }
                rounds[i].append(Double(g.tokens.reduce(0) { $0 + $1.count }) / max((clock.now - start).seconds, 1e-9))
            }
        }
        return rounds.map { $0.sorted()[$0.count / 2] }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
