import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// The checkpoint commands run as a user would run them (the built `distill` binary): `init`,
// `inspect --json --hash` (hashes equal for identically seeded models, different after one ULP),
// `inspect` on a file that is not a checkpoint (clean message, no crash), and `score` (log-probs
// checked against a log-softmax computed here from the loaded model's logits).

@Suite("distill init / inspect / score")
struct CheckpointCommandTests {
    /// Runs `distill inspect FILE --json --hash` and parses its one JSON line.
    private func inspect(_ distill: String, _ path: String) throws -> [String: Any]? {
        let r = try runDistill(distill, ["inspect", path, "--json", "--hash"])
        guard r.succeeded else { Issue.record("distill inspect \(path) failed: \(r)"); return nil }
        let line = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    private func roles(_ json: [String: Any]?) -> [[String: Any]] { json?["roles"] as? [[String: Any]] ?? [] }

    @Test("inspect --json --hash: format, version, role parameter counts; equal hashes for equal seeds, different after one weight changes")
    func inspectHashes() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("cli-inspect") { dir in
            let a = dir + "/a.h5", b = dir + "/b.h5", c = dir + "/c.h5"
            for path in [a, b] {
                let r = try runDistill(distill, ["init", "--preset", "tiny", "--seed", "5", "--out", path])
                #expect(r.succeeded, "distill init: \(r)")
            }
            guard let ja = try inspect(distill, a), let jb = try inspect(distill, b) else { return }
            #expect(ja["format"] as? String == "tracedistill-checkpoint")
            #expect(ja["format_version"] as? Int == 1)
            #expect(ja["global_step"] as? Int == 0 && ja["stage_index"] as? Int == 0)
            #expect(ja["tokenizer_symbols"] as? Int == 97)

            // The tiny preset by hand: V = 97 math symbols, d 32, MLP 64, 2 layers, 4 heads of 8, 2 kv heads.
            // Per layer q 32*32 + k 16*32 + v 16*32 + o 32*32 + 3 * 64*32 + 2 norms * 32 = 9280;
            // total 97*32 (embed) + 2 * 9280 + 32 (final norm) + 97*32 (lm_head) = 24800 in 21 tensors.
            let roleA = try #require(roles(ja).first)
            #expect(roles(ja).count == 1 && roleA["role"] as? String == "student")
            #expect(roleA["parameters"] as? Int == 24_800)
            #expect(roleA["tensors"] as? Int == 21)
            #expect(roleA["bytes"] as? Int == 24_800 * 4)
            let hashA = try #require(roleA["sha256"] as? String)
            let hashB = try #require(roles(jb).first?["sha256"] as? String)
            #expect(hashA.count == 64)
            #expect(hashA == hashB, "identically seeded models must hash equal")

            // The hash is SHA-256 over (name, shape "AxB", float32 bytes) per parameter, in stored order:
            // recompute it with coreutils' sha256sum from the values read back.
            let reader = try CheckpointReader(path: a)
            var bytes = Data()
            for p in try reader.rawParameters(role: "student") {
                bytes.append(contentsOf: Array(p.name.utf8))
                bytes.append(contentsOf: Array(p.shape.map(String.init).joined(separator: "x").utf8))
                for v in p.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            }
            #expect(try sha256sum(bytes) == hashA)

            // One weight moved by one ULP: a different hash.
            let model = try reader.loadTransformer(role: "student")
            let w = model.parameters["model.layers.1.mlp.down_proj.weight"].ptr
            w[5] = w[5].nextUp
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: model.config.jsonString(), store: model.parameters)],
                                                         tokenizer: .math), to: c)
            guard let jc = try inspect(distill, c) else { return }
            let hashC = try #require(roles(jc).first?["sha256"] as? String)
            #expect(hashC != hashA, "a one-ULP change must change the hash")
            #expect(roles(jc).first?["parameters"] as? Int == 24_800)

            // The text form names the same things.
            let text = try runDistill(distill, ["inspect", a])
            #expect(text.succeeded && text.stdout.contains("tracedistill-checkpoint v1") && text.stdout.contains("24800"), "\(text)")
        }
    }

    @Test("inspect --json writes a controller's NaN or infinity as null, where it used to fail on JSON's missing NaN")
    func inspectNonFiniteControllers() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("cli-inspect-nan") { dir in
            let path = dir + "/nan.h5"
            let stage = StageRecord(kind: "ppo-trace", state: "running", step: 3,
                                    controllers: ["temperature": ["value": 0.7, "entropy": .nan, "bound": -.infinity]])
            try CheckpointWriter.save(CheckpointContents(stages: [stage], tokenizer: .math), to: path)
            let r = try runDistill(distill, ["inspect", path, "--json"])
            #expect(r.succeeded, "inspect --json on NaN controller values: \(r)")
            let line = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let stages = try #require(json["stages"] as? [[String: Any]])
            let controller = try #require((stages.first?["controllers"] as? [String: Any])?["temperature"] as? [String: Any])
            #expect(controller["value"] as? Double == 0.7)
            #expect(controller["entropy"] is NSNull && controller["bound"] is NSNull, "\(controller)")
            // The text form still prints the numbers as Swift spells them.
            let text = try runDistill(distill, ["inspect", path])
            #expect(text.succeeded && text.stdout.contains("entropy=nan"), "\(text)")
        }
    }

    @Test("inspect on a file that is not a checkpoint exits non-zero naming the file, without a crash")
    func inspectRejectsNonCheckpoints() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("cli-inspect-bad") { dir in
            let text = dir + "/notes.txt"
            try "not a checkpoint\n".write(toFile: text, atomically: true, encoding: .utf8)
            let foreign = dir + "/foreign.h5"
            try writeHandmadeCheckpoint(foreign, format: "other-format", version: 1, store: ParameterStore([]), configJSON: "{}")
            let truncated = dir + "/truncated.h5"
            try writeModelCheckpoint(dir + "/good.h5")
            let size = try FileManager.default.attributesOfItem(atPath: dir + "/good.h5")[.size] as! Int
            try writeTruncatedCopy(of: dir + "/good.h5", to: truncated, length: size / 2)
            let missing = dir + "/missing.h5"

            for (path, words) in [(text, "HDF5"), (foreign, "not a TraceDistill checkpoint"), (truncated, "damaged"), (missing, "no such")] {
                let r = try runDistill(distill, ["inspect", path, "--json"])
                #expect(!r.signaled && !r.timedOut, "distill crashed on \(path): \(r)")
                #expect(r.status != 0, "exit status 0 for \(path)")
                #expect(r.stderr.contains(path), "message should name \(path): \(r.stderr)")
                #expect(r.stderr.contains(words), "message for \(path) should say \(words): \(r.stderr)")
                for trace in ["Fatal error", "Stack dump", "Current stack trace", "Illegal instruction", "#0 "] {
                    #expect(!r.stderr.contains(trace), "stack trace for \(path): \(r.stderr)")
                }
                #expect(r.stdout.isEmpty, "nothing on stdout for a failure: \(r.stdout)")
            }
        }
    }

    @Test("score prints BOS-first tokens and len-1 log-probs <= 0 that equal a log-softmax computed here")
    func score() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("cli-score") { dir in
            let path = dir + "/tiny.h5"
            let made = try runDistill(distill, ["init", "--preset", "tiny", "--seed", "3", "--out", path])
            #expect(made.succeeded, "distill init: \(made)")
            let text = "12+7=19"
            let r = try runDistill(distill, ["score", "--checkpoint", path, "--text", text])
            #expect(r.succeeded, "distill score: \(r)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "not JSON: \(r.stdout)")
            let tokens = try #require(json["tokens"] as? [Int])
            let logprobs = try #require((json["logprobs"] as? [NSNumber])?.map(\.doubleValue))

            #expect(tokens.first == 1, "tokens must start with BOS (1)")
            #expect(tokens.count == text.count + 1)
            #expect(tokens.map(Int32.init) == (try Tokenizer.math.encode(text)))
            #expect(logprobs.count == tokens.count - 1)
            #expect(logprobs.allSatisfy { $0 <= 0 && $0.isFinite }, "log-probs \(logprobs)")

            // Independent: the model from the file, its logits, log-softmax in Double here.
            let model = try CheckpointReader(path: path).loadTransformer(role: "student")
            let ids = tokens.map(Int32.init)
            let logits = withNoGrad { model.forward(tokens: ids, batch: 1, length: ids.count).logits }.toArray()  // (1, T, V)
            let v = model.config.vocabSize
            var expected: [Double] = []
            for t in 1..<ids.count {
                let row = logits[((t - 1) * v)..<(t * v)].map(Double.init)
                let m = row.max()!
                let lse = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
                expected.append(row[Int(ids[t])] - lse)
            }
            allClose(logprobs.map(Float.init), expected, rtol: 1e-5, atol: 2e-5, "distill score log-probs vs log-softmax of the loaded model")
        }
    }

    @Test("score with a tokenizer larger than the model's vocabulary fails with a message, not a crash")
    func scoreRejectsForeignTokenizer() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("cli-score-vocab") { dir in
            let path = dir + "/small-vocab.h5"
            var rng = RandomGenerator(seed: 1)
            let cfg = TransformerConfig(vocabSize: 20, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1, numAttentionHeads: 2)
            let model = try Transformer(config: cfg, rng: &rng)
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: cfg.jsonString(), store: model.parameters)],
                                                         tokenizer: Tokenizer.math), to: path)
            let r = try runDistill(distill, ["score", "--checkpoint", path, "--text", "z"])
            #expect(!r.signaled && r.status != 0, "expected a clean failure: \(r)")
            #expect(r.stderr.contains("vocab_size 20"), "message should name the vocabulary mismatch: \(r.stderr)")
        }
    }
}
