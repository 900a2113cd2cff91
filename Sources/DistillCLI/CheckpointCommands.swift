import ArgumentParser
import Checkpoint
import FileErrors
import Foundation
import Tokenizers
import Model
import StrictConfig
import Tensor

/// A typed library error printed as the command's failure, with exit code 1 (no stack trace).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ error: Error) { description = "\(error)" }
    init(message: String) { description = message }
}

/// Runs `body`, turning library errors into a clean message for the user.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ValidationError { throw e } catch let e as ExitCode { throw e } catch { throw CommandFailure(error) }
}

/// Prints a JSON-compatible value as one line with sorted keys (`JSONText.line`: a non-finite number is `null`).
func printJSON(_ value: Any) throws {
    print(try JSONText.line(value))
}

/// `distill inspect FILE`: what a checkpoint holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's format, run position, stages, model roles and controller states.",
        discussion: """
            Every dataset's checksum is verified first (a damaged file exits 1 naming the damaged dataset); \
            --no-verify skips that and says so in the output.
            """)

    @Argument(help: "The checkpoint file (.h5).")
    var file: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "Add a SHA-256 over each role's parameters (equal hashes mean bit-identical weights).")
    var hash = false

    @Flag(name: .customLong("no-verify"),
          help: "Do not verify every dataset's checksum first (the report then says the file was not verified).")
    var noVerify = false

    @Flag(name: .customLong("resolved-curriculum"),
          help: "Print only the resolved curriculum stored in the checkpoint: every default filled in, YAML that `distill run` reads back to the same run.")
    var resolvedCurriculum = false

    func run() throws {
        try reportingErrors {
            let r = try CheckpointReader(path: file)
            if resolvedCurriculum {
                guard let text = r.resolvedCurriculum else {
                    throw CommandFailure(message: "\(file) stores no resolved curriculum (it was written before checkpoints stored one); "
                                         + "its curriculum as written is the `curriculum` attribute (h5dump -a /curriculum \(file))")
                }
                print(text)
                return
            }
            if !noVerify {
                do { try r.verify() } catch let e as CheckpointError {
                    throw CommandFailure(message: "\(e)\n(inspect verifies every dataset's checksum; `distill inspect \(file) --no-verify` "
                                         + "shows the rest of the report without the check)")
                }
            }
            let run = try r.run()
            let stages = try r.stages()
            var roles: [[String: Any]] = []
            for role in try r.roles() {
                let params = try r.parameters(role: role)
                let count = params.reduce(0) { $0 + $1.shape.reduce(1, *) }
                var entry: [String: Any] = ["role": role, "tensors": params.count, "parameters": count, "bytes": count * 4]
                if let cfg = try r.configJSON(role: role) { entry["config"] = cfg }
                if let (record, _) = try r.quantization(role: role) {
                    let int8 = try r.quantizedLinears(role: role)
                    let values = int8.values.reduce(0) { $0 + $1.weight.values.count }
                    entry["tensors"] = params.count + int8.count
                    entry["parameters"] = count + values
                    entry["bytes"] = count * 4 + int8.values.reduce(0) { $0 + $1.byteCount }
                    entry["quantization"] = ["scheme": QuantizationRecord.scheme(activationRange: record.activationRange),
                                             "activation_range": record.activationRange,
                                             "calibration_rows": record.calibrationRows, "kept_fp32": record.keptFP32,
                                             "int8_layers": int8.keys.sorted(), "int8_parameters": values] as [String: Any]
                }
                if hash { entry["sha256"] = try r.parameterHash(role: role) }
                roles.append(entry)
            }
            let tokenizer = try r.tokenizer()
            if json {
                try printJSON([
                    "file": file, "checksums_verified": !noVerify, "format": checkpointFormat, "format_version": r.formatVersion, "created_utc": r.createdUTC,
                    "library_version": r.libraryVersion, "curriculum_sha256": r.curriculumSHA256,
                    "stage_index": run.stageIndex, "global_step": run.globalStep,
                    "validation_metric": run.validationMetric.map { $0 as Any } ?? NSNull(),
                    "stages": stages.map { s -> [String: Any] in
                        ["kind": s.kind, "state": s.state, "step": s.step, "data_epoch": s.data.epoch, "data_index": s.data.index,
                         "failure_reason": s.failureReason.map { $0 as Any } ?? NSNull(), "controllers": s.controllers]
                    },
                    "roles": roles, "tokenizer_symbols": tokenizer?.vocabularySize ?? 0,
                ] as [String: Any])
                return
            }
            print("file:        \(file)")
            print("format:      \(checkpointFormat) v\(r.formatVersion) (library \(r.libraryVersion))")
            print("created:     \(r.createdUTC)")
            print("checksums:   " + (noVerify ? "not verified (--no-verify)" : "verified (every dataset)"))
            print("curriculum:  sha256 \(r.curriculumSHA256)")
            print("run:         stage \(run.stageIndex), global step \(run.globalStep)"
                  + (run.validationMetric.map { ", validation metric \($0)" } ?? ""))
            for (i, s) in stages.enumerated() {
                var line = "stage \(i):     \(s.kind) \(s.state), step \(s.step), data epoch \(s.data.epoch) index \(s.data.index)"
                if let reason = s.failureReason { line += ", failed: \(reason)" }
                print(line)
                for (name, values) in s.controllers.sorted(by: { $0.key < $1.key }) {
                    print("  controller \(name): " + values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                }
            }
            for e in roles {
                let mb = Double(e["bytes"] as! Int) / 1e6
                var line = String(format: "role %-12@ %4d tensors %12d parameters %9.2f MB", e["role"] as! String, e["tensors"] as! Int, e["parameters"] as! Int, mb)
                if let h = e["sha256"] as? String { line += "  sha256 \(h)" }
                print(line)
                if let q = e["quantization"] as? [String: Any] {
                    let layers = q["int8_layers"] as! [String]
                    print("  int8:      \(layers.count) Linear layers, \(q["int8_parameters"] as! Int) parameters (\(q["scheme"] as! String))")
                    print("  calibrated: \(q["activation_range"] as! String) on \(q["calibration_rows"] as! Int) traces; FP32 kept: "
                          + (q["kept_fp32"] as! [String]).joined(separator: ", "))
                }
            }
            print("tokenizer:   \(tokenizer.map { "\($0.vocabularySize) symbols" } ?? "none")")
        }
    }
}

/// `distill score`: token ids and per-token log-probabilities of a text under a checkpoint's model.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Print the token ids of a text and the log-probability of each token given the ones before it.",
        discussion: """
            Output: one JSON object {"tokens": [...], "logprobs": [...]}; tokens start with BOS when the \
            checkpoint's tokenizer adds one (the math tokenizer always does; a BPE tokenizer as its add_bos says), \
            and logprobs has one entry per token after the first (natural log).
            """)

    @Option(help: "The checkpoint file (.h5).")
    var checkpoint: String

    @Option(help: "The text to score (encoded with the checkpoint's tokenizer; special tokens such as <|im_start|> are matched).")
    var text: String

    @Option(help: "Which model role to score with.")
    var role = "student"

    func run() throws {
        try reportingErrors {
            let reader = try CheckpointReader(path: checkpoint)
            let (model, codec) = try reader.loadModel(role: role)
            let tokenizer = codec.tokenizer
            let ids = (tokenizer.beginningOfSequenceID.map { [$0] } ?? []) + (try tokenizer.ids(of: text))
            guard ids.count >= 1 else { throw ValidationError("--text encodes to no tokens; give a non-empty text") }
            guard ids.count <= model.config.maxPositionEmbeddings else {
                throw ValidationError("--text is \(ids.count) tokens; the model's context is \(model.config.maxPositionEmbeddings)")
            }
            let logits = withNoGrad { model.forward(tokens: ids, batch: 1, length: ids.count).logits }  // (1, T, V)
            let v = model.config.vocabSize
            // Finite weights can still overflow; NaN log-probabilities are not JSON, and not an answer either.
            if let t = (0..<ids.count).first(where: { t in (0..<v).contains { !logits.ptr[t * v + $0].isFinite } }) {
                let symbol = tokenizer.textPieces([ids[t]]).first ?? "?"
                throw CommandFailure(message: "\(checkpoint): role \(role) gives non-finite logits (NaN or infinity) at position \(t) "
                                     + "(token id \(ids[t]), \(String(reflecting: symbol))), although its weights are finite: the "
                                     + "forward pass overflows Float, so the model cannot score; use an earlier checkpoint of the run")
            }
            let logp = withNoGrad { logSoftmax(logits) }
            let scores = (1..<max(ids.count, 1)).map { Double(logp.ptr[(($0 - 1) * v) + Int(ids[$0])]) }
            try printJSON(["tokens": ids.map { Int($0) }, "logprobs": scores])
        }
    }
}

extension TransformerConfig.Preset: ExpressibleByArgument {}

/// `distill init`: a checkpoint holding a freshly initialised model and the math tokenizer.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a checkpoint with a newly initialised teacher or student (HF-style init, seeded).")

    typealias Preset = TransformerConfig.Preset

    @Option(help: "Where to write the checkpoint (.h5).")
    var out: String

    @Option(help: "Built-in architecture: teacher (4 x 256), student (2 x 128) or tiny (2 x 32).")
    var preset: Preset = .student

    @Option(help: "A Hugging Face style config.json to use instead of the preset.")
    var config: String?

    @Option(help: "The model role to store it under.")
    var role = "student"

    // parsing: .unconditional on numeric options: `--count -5` reaches validation ("must be at least 1, got -5")
    // instead of being taken for an unknown option `-5` ("Missing value for '--count'").
    @Option(parsing: .unconditional, help: "Seed for the initial weights.")
    var seed: UInt64 = 0

    func run() throws {
        try reportingErrors {
            let tokenizer = Tokenizer.math
            var cfg = TransformerConfig.preset(preset, vocab: tokenizer.vocabularySize)
            if let config {
                let text: String
                let bytes: Foundation.Data
                do { bytes = try ReadFailure.contents(of: config) } catch let e as ReadFailure {
                    throw ValidationError("cannot read --config \(config): \(e.reason)")
                }
                guard let decoded = String(data: bytes, encoding: .utf8) else {
                    throw ValidationError("cannot read --config \(config): not UTF-8 text; give a config.json (JSON is UTF-8)")
                }
                text = decoded
                do { cfg = try TransformerConfig.fromJSON(text) } catch { throw ValidationError("--config \(config): \(error)") }
                guard cfg.vocabSize == tokenizer.vocabularySize else {
                    throw ValidationError("--config \(config): vocab_size \(cfg.vocabSize) must equal the math tokenizer's \(tokenizer.vocabularySize)")
                }
            }
            var rng = RandomGenerator(seed: seed)
            let model = try Transformer(config: cfg, rng: &rng)
            let contents = CheckpointContents(models: [ModelSnapshot(role: role, configJSON: cfg.jsonString(), store: model.parameters)],
                                              run: RunRecord(rngState: rng.stateBytes), tokenizer: tokenizer)
            try CheckpointWriter.save(contents, to: out)
            print("wrote \(out): role \(role), \(model.parameterCount) parameters")
        }
    }
}
