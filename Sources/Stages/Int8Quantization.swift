import Checkpoint
import Data
import Eval
import Foundation
import Model
import Tensor
import Tokenizers

/// Why a quantization could not run, in words that say what to change (`distill quantize` prints it as its error).
public struct Int8QuantizationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// INT8 post-training quantization of one checkpoint's model (`distill quantize`): calibration traces (a trace file
/// or the run's own training rows, from the curriculum stored in the checkpoint), the quantized checkpoint, and the
/// FP32-versus-INT8 comparison (greedy accuracy and step validity on a suite, KV-cache decoding speed).
public struct Int8Quantization {
    /// The FP32 checkpoint.
    public let checkpoint: String
    /// Which model role to quantize.
    public let role: String
    /// How many training traces calibrate the activation ranges.
    public let calibrationCount: Int
    /// A JSONL trace file to calibrate on; nil: the run's training rows.
    public let calibrationData: String?
    /// Parts kept in FP32: `embed`, `lm_head`, `layers.N`, or a weight name prefix.
    public let keepFP32: [String]
    /// How a layer's input range is set.
    public let range: ActivationRange

    /// The open checkpoint (its tokenizer, curriculum and run records go into the quantized file).
    public let reader: CheckpointReader
    /// The model being quantized: FP32 until `quantize(keeping:calibration:)`, int8 in place after it.
    public let model: Transformer
    /// The model's codec, from the checkpoint's stored tokenizer.
    public let codec: TraceCodec
    /// The run's curriculum stored in the checkpoint (nil for an imported model, which has none).
    public let curriculum: Curriculum?

    /// Opens the checkpoint's `role` (refusing one that is already int8) and its stored curriculum.
    public init(checkpoint: String, role: String, calibrationCount: Int, calibrationData: String?, keepFP32: [String],
                range: ActivationRange) throws {
        self.checkpoint = checkpoint
        self.role = role
        self.calibrationCount = calibrationCount
        self.calibrationData = calibrationData
        self.keepFP32 = keepFP32
        self.range = range
        reader = try CheckpointReader(path: checkpoint)
        (model, codec) = try reader.loadModel(role: role)
        guard model.quantizedLinears.isEmpty else {
            throw Int8QuantizationError("\(checkpoint): the \(role) is already int8; quantize its FP32 checkpoint")
        }
        curriculum = reader.curriculum.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            ? nil : try reader.storedCurriculum(file: checkpoint + ":/curriculum")
    }

    /// The first `calibrationCount` training traces as token sequences (prompt and completion), cut to the context.
    public func calibrationTraces() throws -> [[Int32]] {
        let context = model.config.maxPositionEmbeddings
        let tokens: [[Int32]]
        if let calibrationData {
            let records = try TraceDataset.load(calibrationData).records.prefix(calibrationCount)
            guard !records.isEmpty else { throw Int8QuantizationError("--calibration-data \(calibrationData) has no rows") }
            tokens = try records.enumerated().map { i, record in
                let ids = try TokenizedTrace(record, codec: codec).tokens
                guard ids.count <= context else {
                    throw Int8QuantizationError("--calibration-data \(calibrationData): row \(i + 1) is \(ids.count) tokens, longer than the model's "
                                            + "context of \(context); give traces that fit")
                }
                return ids
            }
        } else if let curriculum {
            tokens = try RunData(curriculum: curriculum, codec: codec).trainTokens.prefix(calibrationCount).map(\.tokens)
        } else {
            throw Int8QuantizationError("\(checkpoint) holds no run curriculum to take training traces from; give --calibration-data FILE.jsonl")
        }
        return tokens.map { Array($0.prefix(context)) }
    }

    /// The suite the FP32 and INT8 models are compared on: `run` (the run's held-out questions), `math-proof`, or a
    /// suite file.
    public func comparisonSuite(_ suite: String, perDomain: Int?, limit: Int?) throws -> EvalSuite {
        if suite == "run" {
            guard let curriculum else {
                throw Int8QuantizationError("--suite run needs the run's curriculum, and \(checkpoint) has none; give --suite math-proof or a JSONL file")
            }
            return try EvalSuite.heldOut(curriculum: curriculum, perDomain: perDomain).limited(to: limit)
        }
        let mathProof = MathProofSuite(countPerDomain: perDomain ?? MathProofSuite.defaultCountPerDomain)
        return try EvalSuite.resolve(suite, mathProof: mathProof).limited(to: limit)
    }

    /// The Linear weights the `keepFP32` selectors name.
    public func keptWeights() throws -> Set<String> {
        var keep = Set<String>()
        for selector in keepFP32.map({ $0.trimmingCharacters(in: .whitespaces) }) where !selector.isEmpty {
            keep.formUnion(try model.linearWeights(selectedBy: selector))
        }
        return keep
    }

    /// Quantizes `model` in place, calibrated on `traces`, keeping `keep` (and the embedding) in FP32.
    public func quantize(keeping keep: Set<String>, calibration traces: [[Int32]]) throws {
        try model.quantize(keeping: keep, calibration: traces, range: range)
    }

    /// Writes the quantized model to the new checkpoint `out`: only the model, its tokenizer and the run's
    /// curriculum, with how it was calibrated (`calibrationRows` traces).
    public func write(calibrationRows: Int, to out: String) throws {
        let record = QuantizationRecord(activationRange: range.description, calibrationRows: calibrationRows, keptFP32: keepFP32)
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

    /// The FP32 and the INT8 model side by side: greedy evaluation on the suite and KV-cache decoding tokens/s.
    public struct Comparison {
        /// Each model's greedy evaluation on the suite.
        public let fp32: ModelReport
        public let int8: ModelReport
        /// KV-cache decoding speed, new tokens/s (`decodingSpeed`).
        public let fp32TokensPerSecond: Double
        public let int8TokensPerSecond: Double
    }

    /// Greedy accuracy and step validity of both models on the suite, and their KV-cache decoding speed.
    public func compare(fp32: Transformer, int8: Transformer, suite problems: EvalSuite) throws -> Comparison {
        let evaluator = try Evaluator(config: EvalConfig(maxNewTokens: 320, batchSize: 16, samples: 0))
        let a = try evaluator.evaluate(model: fp32, codec: codec, suite: problems, label: "fp32", role: role)
        let b = try evaluator.evaluate(model: int8, codec: codec, suite: problems, label: "int8", role: role)
        let speed = Self.decodingSpeed([fp32, int8], codec: codec, questions: problems.problems.map(\.question))
        return Comparison(fp32: a, int8: b, fp32TokensPerSecond: speed[0], int8TokensPerSecond: speed[1])
    }

    /// KV-cache decoding tokens/s of each model: 16 prompts x 64 new tokens, greedy, no stop token; three rounds
    /// with the models interleaved, the median round of each.
    public static func decodingSpeed(_ models: [Transformer], codec: TraceCodec, questions: [String]) -> [Double] {
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
                let d = clock.now - start
                let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
                rounds[i].append(Double(g.tokens.reduce(0) { $0 + $1.count }) / max(seconds, 1e-9))
            }
        }
        return rounds.map { $0.sorted()[$0.count / 2] }
    }
}
