import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Weights that are NaN or infinite but stored with valid checksums (a diverged run saves them faithfully; issue
// #27, item 8): loading the model is a typed error naming the role, the tensor and how many values, so `score`
// and `eval` stop with that message instead of a raw JSON error or a silent 0% report. Finite weights whose
// logits overflow are caught by `score` at run time, naming the position.

@Suite("non-finite weights and logits")
struct NonFiniteWeightTests {
    /// `distill init --preset tiny` at `path`, then `edit` applied to its student and saved back (checksums valid).
    private func tinyCheckpoint(_ distill: String, _ path: String, edit: (Transformer) -> Void) throws {
        let made = try runDistill(distill, ["init", "--preset", "tiny", "--seed", "2", "--out", path])
        guard made.succeeded else { throw SetupFailure("distill init: \(made)") }
        let model = try CheckpointReader(path: path).loadTransformer(role: "student")
        edit(model)
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: model.config.jsonString(),
                                                                            store: model.parameters)], tokenizer: .math), to: path)
    }

    private let tensor = "model.layers.1.mlp.gate_proj.weight"

    /// Sets 5 NaN and 2 infinite values in `tensor`.
    private func poison(_ model: Transformer) {
        let w = model.parameters[tensor].ptr
        for i in [3, 9, 100, 101, 2000] { w[i] = .nan }
        w[7] = .infinity
        w[8] = -.infinity
    }

    @Test("loadTransformer of NaN weights with valid checksums: an error naming file, role, tensor and the count")
    func loadRejectsNonFinite() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("nonfinite-load") { dir in
            let path = dir + "/nan.h5"
            try tinyCheckpoint(distill, path, edit: poison)
            let reader = try CheckpointReader(path: path)
            try reader.verify()  // the checksums are valid: the file is intact, its numbers are not
            do {
                _ = try reader.loadTransformer(role: "student")
                Issue.record("loadTransformer returned a model with NaN weights")
            } catch let e as CheckpointError {
                let message = "\(e)"
                for part in [path, "student", tensor, "7 ", "NaN"] {
                    #expect(message.contains(part), "message should contain \(part): \(message)")
                }
            }
        }
    }

    @Test("score and eval on NaN weights stop with the typed message (no JSON error, no 0% report)")
    func commandsRejectNonFinite() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("nonfinite-cli") { dir in
            let path = dir + "/nan.h5"
            try tinyCheckpoint(distill, path, edit: poison)
            let score = try runDistill(distill, ["score", "--checkpoint", path, "--text", "12+7=19"])
            let eval = try runDistill(distill, ["eval", "--checkpoint", path, "--limit", "2", "--max-new-tokens", "8",
                                                "--out", dir + "/eval", "--quiet"])
            for (name, r) in [("score", score), ("eval", eval)] {
                #expect(!r.signaled && !r.timedOut && r.status != 0, "\(name) must fail: \(r)")
                #expect(r.stderr.contains(tensor) && r.stderr.contains("student") && r.stderr.contains("non-finite"),
                        "\(name) should name the role and tensor: \(r.stderr)")
                #expect(!r.stderr.contains("JSON") && !r.stderr.contains("NSCocoaErrorDomain"), "\(name): \(r.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/eval/report.json"), "no report from a model that cannot run")
        }
    }

    @Test("score with finite weights whose logits overflow names the first position with non-finite logits")
    func scoreRejectsNonFiniteLogits() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("nonfinite-logits") { dir in
            let path = dir + "/overflow.h5"
            // Every weight is finite, but the final norm and the head multiply to far beyond Float's range.
            try tinyCheckpoint(distill, path) { model in
                let norm = model.parameters["model.norm.weight"]
                for i in 0..<norm.count { norm.ptr[i] = 3e38 }
                let head = model.parameters["lm_head.weight"]
                for i in 0..<head.count { head.ptr[i] = i % 2 == 0 ? 3e38 : -3e38 }
            }
            _ = try CheckpointReader(path: path).loadTransformer(role: "student")  // loads: the weights are finite
            let r = try runDistill(distill, ["score", "--checkpoint", path, "--text", "12+7=19"])
            #expect(!r.signaled && !r.timedOut && r.status != 0, "score must fail: \(r)")
            #expect(r.stderr.contains("position 0"), "names the position: \(r.stderr)")
            #expect(r.stderr.contains("non-finite") && r.stderr.contains(path), "\(r.stderr)")
            #expect(!r.stderr.contains("JSON") && !r.stderr.contains("NSCocoaErrorDomain"), "\(r.stderr)")
            #expect(r.stdout.isEmpty, "\(r.stdout)")
        }
    }
}
