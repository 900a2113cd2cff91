import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// `distill quantize` as a user runs it (issue 24): an int8 checkpoint whose size is the hand-counted bytes,
// that inspect describes and eval, score and generate run; and each bad request refused with what to do.

@Suite("distill quantize")
struct QuantizeCommandTests {
    /// A tiny student (`init --preset tiny`) and 24 generated training traces to calibrate on.
    private func setUp(_ distill: String, _ dir: String) throws {
        for args in [["init", "--preset", "tiny", "--seed", "3", "--out", dir + "/fp32.h5"],
                     ["generate-data", "--domain", "addition", "--count", "24", "--difficulty", "1", "--out", dir + "/traces.jsonl"]] {
            let r = try runDistill(distill, args)
            guard r.succeeded else { throw SetupFailure("distill \(args[0]): \(r)") }
        }
    }

    @Test("quantize writes an int8 student of the hand-counted size; inspect, eval, score and generate read it")
    func quantizeAndUse() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("quantize-cli") { dir in
            try setUp(distill, dir)
            let q = try runDistill(distill, ["quantize", dir + "/fp32.h5", "--out", dir + "/int8.h5", "--calibration-data", dir + "/traces.jsonl",
                                             "--calibration", "16", "--suite", "math-proof", "--limit", "8"], timeout: 300)
            #expect(q.succeeded, "\(q)")
            // tiny preset: 2 layers x 32, MLP 64, 4 heads (2 kv) of 8: q 32x32, k 16x32, v 16x32, o 32x32, gate/up 64x32, down 32x64
            let fp32 = try CheckpointReader(path: dir + "/fp32.h5").loadTransformer(role: "student")
            let c = fp32.config
            let rowsPerLayer = 32 + 16 + 16 + 32 + 64 + 64 + 32
            let valuesPerLayer = 32 * 32 + 16 * 32 + 16 * 32 + 32 * 32 + 64 * 32 + 64 * 32 + 32 * 64
            let int8Bytes = 2 * (valuesPerLayer + 4 * rowsPerLayer + 4 * 7)
            let floatBytes = 4 * (fp32.parameterCount - 2 * valuesPerLayer)
            #expect(!c.tieWordEmbeddings)  // the tiny preset's head is its own Linear layer, kept FP32 by default
            #expect(q.stdout.contains("quantized 14 of 15 Linear layers"), "\(q.stdout)")
            #expect(q.stdout.contains("model \(4 * fp32.parameterCount) -> \(int8Bytes + floatBytes) bytes"), "\(q.stdout)")
            for part in ["FP32", "INT8", "accuracy", "step validity", "decode tokens/s", "int8 - fp32"] {
                #expect(q.stdout.contains(part), "missing \(part): \(q.stdout)")
            }
            let inspect = try runDistill(distill, ["inspect", dir + "/int8.h5", "--json"])
            #expect(inspect.succeeded, "\(inspect)")
            let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
            let role = (json?["roles"] as? [[String: Any]])?.first
            let quantization = role?["quantization"] as? [String: Any]
            #expect((quantization?["int8_layers"] as? [String])?.count == 14)
            #expect(quantization?["calibration_rows"] as? Int == 16)
            #expect(role?["bytes"] as? Int == int8Bytes + floatBytes)
            #expect(role?["parameters"] as? Int == fp32.parameterCount)
            let text = try runDistill(distill, ["inspect", dir + "/int8.h5"])
            #expect(text.stdout.contains("int8:") && text.stdout.contains("14 Linear layers"), "\(text.stdout)")
            let eval = try runDistill(distill, ["eval", "--checkpoint", dir + "/int8.h5", "--suite", "math-proof", "--limit", "4",
                                                "--out", dir + "/eval", "--quiet"], timeout: 300)
            #expect(eval.succeeded, "\(eval)")
            let score = try runDistill(distill, ["score", "--checkpoint", dir + "/int8.h5", "--text", "12+30=42"])
            #expect(score.succeeded, "\(score)")
            let generate = try runDistill(distill, ["generate", "--checkpoint", dir + "/int8.h5", "--prompt", "What is 2+2?",
                                                    "--max-new-tokens", "8", "--temperature", "0"])
            #expect(generate.succeeded && generate.stderr.contains("tokens/s"), "\(generate)")
        }
    }

    @Test("refused with what to do: existing --out, the input as --out, unknown layer, bad range, int8 input, no calibration data, export of int8")
    func badRequests() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("quantize-bad") { dir in
            try setUp(distill, dir)
            let base = ["quantize", dir + "/fp32.h5", "--calibration-data", dir + "/traces.jsonl", "--calibration", "4", "--no-eval"]
            let made = try runDistill(distill, base + ["--out", dir + "/int8.h5"])
            #expect(made.succeeded, "\(made)")
            let cases: [([String], String)] = [
                (base + ["--out", dir + "/int8.h5"], "exists"),
                (base + ["--out", dir + "/fp32.h5"], "new file"),
                (base + ["--out", dir + "/x.h5", "--keep-fp32", "layers.5"], "0...1"),
                (base + ["--out", dir + "/x.h5", "--activation-range", "mean"], "minmax, percentile or dynamic"),
                (base + ["--out", dir + "/x.h5", "--calibration", "-3"], "at least 1"),
                (["quantize", dir + "/int8.h5", "--out", dir + "/x.h5", "--calibration-data", dir + "/traces.jsonl"], "already int8"),
                (["quantize", dir + "/fp32.h5", "--out", dir + "/x.h5"], "--calibration-data"),
                (["quantize", dir + "/fp32.h5", "--out", dir + "/x.h5", "--calibration-data", dir + "/traces.jsonl"], "--suite run needs"),
                (["export", dir + "/int8.h5", "--format", "hf", "--out", dir + "/hf"], "FP32 checkpoint"),
            ]
            for (args, expected) in cases {
                let r = try runDistill(distill, args)
                #expect(!r.succeeded && !r.signaled, "\(args): \(r)")
                #expect(r.stderr.contains(expected), "\(args): expected \(expected) in \(r.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/x.h5"))
            // the files that were there are untouched
            #expect(try CheckpointReader(path: dir + "/fp32.h5").quantization(role: "student") == nil)
        }
    }
}
