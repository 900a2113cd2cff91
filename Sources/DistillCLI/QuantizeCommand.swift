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
            do { try quantize() } catch let e as Int8QuantizationError { throw ValidationError(e.description) }
        }
    }

    private func quantize() throws {
        let range: ActivationRange = activationRange == "minmax" ? .minMax : activationRange == "dynamic" ? .dynamic : .percentile(percentile)
        let job = try Int8Quantization(checkpoint: checkpoint, role: role, calibrationCount: calibration, calibrationData: calibrationData,
                                       keepFP32: keepFp32.split(separator: ",").map(String.init), range: range)
        let model = job.model
        let traces = try job.calibrationTraces()
        let comparison = noEval ? nil : try job.comparisonSuite(suite, perDomain: perDomain, limit: limit)  // a bad --suite fails before the work
        let keep = try job.keptWeights()
        let fp32Bytes = model.weightBytes
        let reference = comparison == nil ? nil : try job.reader.loadTransformer(role: role)  // the FP32 model, for the comparison
        let clock = ContinuousClock(), start = clock.now
        try job.quantize(keeping: keep, calibration: traces)
        let seconds = (clock.now - start).seconds
        print("quantized \(model.quantizedLinears.count) of \(model.linearWeights.count) Linear layers to int8 "
              + "(calibrated on \(traces.count) traces, \(range), \(String(format: "%.1f", seconds)) s); FP32: "
              + (keep.isEmpty ? "embedding" : "embedding, " + keep.sorted().joined(separator: ", ")))
        try job.write(calibrationRows: traces.count, to: out)
        print("wrote \(out): model \(fp32Bytes) -> \(model.weightBytes) bytes "
              + String(format: "(%.1f%% smaller)", 100 * (1 - Double(model.weightBytes) / Double(fp32Bytes))))
        guard let comparison, let reference else { return }
        let int8 = try CheckpointReader(path: out).loadTransformer(role: role)  // what eval and score will run
        let c = try job.compare(fp32: reference, int8: int8, suite: comparison)
        print("\(comparison.name): \(comparison.problems.count) problems (\(comparison.source)); greedy decoding")
        func percent(_ x: Double?) -> String { x.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
        print("model   bytes        accuracy  step validity  decode tokens/s")
        for (name, r, s) in [("FP32", c.fp32, c.fp32TokensPerSecond), ("INT8", c.int8, c.int8TokensPerSecond)] {
            print(name.padding(toLength: 8, withPad: " ", startingAt: 0) + String(r.modelBytes).padding(toLength: 13, withPad: " ", startingAt: 0)
                  + percent(r.greedy.accuracy).padding(toLength: 10, withPad: " ", startingAt: 0)
                  + percent(r.greedy.stepValidity).padding(toLength: 15, withPad: " ", startingAt: 0) + String(format: "%.0f", s))
        }
        print(String(format: "int8 - fp32: accuracy %+.1f points, step validity %+.1f points, decoding %.2fx",
                     100 * (c.int8.greedy.accuracy - c.fp32.greedy.accuracy),
                     100 * ((c.int8.greedy.stepValidity ?? 0) - (c.fp32.greedy.stepValidity ?? 0)),
                     c.int8TokensPerSecond / max(c.fp32TokensPerSecond, 1e-9)))
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
