import Checkpoint
import Data
import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing
import Tokenizers

// Int8Quantization: `distill quantize`'s steps as calls a script makes (the command tests, in CheckpointTests, run the
// binary). The tiny preset has 2 layers x 7 Linear weights plus the output head: 15, of which the default selectors
// (embed, lm_head) keep the head in FP32.

@Suite("Int8Quantization: quantize a checkpoint's model from Swift")
struct Int8QuantizationTests {
    /// A tiny FP32 student with the math tokenizer and no run curriculum, and `rows` generated addition traces.
    private func setUp(_ dir: String, rows: Int) throws {
        let config = TransformerConfig.preset(.tiny, vocab: Tokenizer.math.vocabularySize)
        var rng = RandomGenerator(seed: 3)
        let model = try Transformer(config: config, rng: &rng)
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(), store: model.parameters)],
                                                     tokenizer: Tokenizer.math), to: dir + "/fp32.h5")
        let records = try DatasetGenerator(config: GenerationConfig(domains: [.addition], count: rows, split: .train, seed: 5)).generate()
        try TraceDataset.write(records, to: dir + "/traces.jsonl")
    }

    private func job(_ dir: String, file: String = "fp32.h5", data: String? = "traces.jsonl") throws -> Int8Quantization {
        try Int8Quantization(checkpoint: dir + "/" + file, role: "student", calibrationCount: 6, calibrationData: data.map { dir + "/" + $0 },
                             keepFP32: ["embed", "lm_head"], range: .minMax)
    }

    @Test("calibrated on a trace file: 14 of 15 Linear layers int8, the file records how, and a second quantization of it is refused")
    func quantizeFromTraceFile() throws {
        try withTemporaryFolder("int8-library") { dir in
            try setUp(dir, rows: 10)
            let q = try job(dir)
            let traces = try q.calibrationTraces()
            // the first 6 rows, each BOS + prompt + completion + EOS as the codec encodes them
            let records = try TraceDataset.load(dir + "/traces.jsonl").records
            #expect(traces == (try records.prefix(6).map { try TokenizedTrace($0, codec: q.codec).tokens }))
            let keep = try q.keptWeights()
            #expect(keep == ["lm_head.weight"], "\(keep)")  // embed is a lookup: only the untied head is a Linear kept
            try q.quantize(keeping: keep, calibration: traces)
            #expect(q.model.quantizedLinears.count == 14)
            try q.write(calibrationRows: traces.count, to: dir + "/int8.h5")
            let stored = try #require(try CheckpointReader(path: dir + "/int8.h5").quantization(role: "student"))
            #expect(stored.record.calibrationRows == 6 && stored.record.keptFP32 == ["embed", "lm_head"] && stored.layers.count == 14)
            #expect(try CheckpointReader(path: dir + "/int8.h5").loadTransformer(role: "student").quantizedLinears.count == 14)
            #expect(throws: Int8QuantizationError("\(dir)/int8.h5: the student is already int8; quantize its FP32 checkpoint")) {
                _ = try job(dir, file: "int8.h5")
            }
        }
    }

    @Test("without a trace file or a run curriculum there is nothing to calibrate on, and --suite run has no questions: both say what to give")
    func nothingToCalibrateOn() throws {
        try withTemporaryFolder("int8-library-none") { dir in
            try setUp(dir, rows: 2)
            let q = try job(dir, data: nil)
            #expect(q.curriculum == nil)
            #expect(throws: Int8QuantizationError("\(dir)/fp32.h5 holds no run curriculum to take training traces from; give --calibration-data FILE.jsonl")) {
                _ = try q.calibrationTraces()
            }
            #expect(throws: Int8QuantizationError("--suite run needs the run's curriculum, and \(dir)/fp32.h5 has none; give --suite math-proof or a JSONL file")) {
                _ = try q.comparisonSuite("run", perDomain: nil, limit: nil)
            }
        }
    }
}
