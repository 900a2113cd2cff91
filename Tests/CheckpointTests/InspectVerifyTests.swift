import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// `distill inspect` checks every dataset's checksum before it reports (issue #27, item 1): a flipped byte in a
// weight it does not otherwise read (gate_proj, lm_head) makes it exit non-zero naming that dataset, and
// `--no-verify` skips the check only when asked, saying so in its text and JSON output.

@Suite("distill inspect verifies checksums")
struct InspectVerifyTests {
    /// A tiny checkpoint from `distill init` whose `tensor` starts with `distinctivePattern`, and the file offset of
    /// that pattern's element 17 (a byte inside the tensor's data).
    private func checkpointWithMarkedTensor(_ distill: String, _ path: String, tensor: String) throws -> Int {
        let made = try runDistill(distill, ["init", "--preset", "tiny", "--seed", "4", "--out", path])
        guard made.succeeded else { throw SetupFailure("distill init: \(made)") }
        let model = try CheckpointReader(path: path).loadTransformer(role: "student")
        let w = model.parameters[tensor].ptr
        for (i, x) in distinctivePattern.enumerated() { w[i] = x }
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: model.config.jsonString(),
                                                                            store: model.parameters)], tokenizer: .math), to: path)
        let found = offsets(of: littleEndianBytes(distinctivePattern), in: try Data(contentsOf: URL(fileURLWithPath: path)))
        guard found.count == 1, let at = found.first else { throw SetupFailure("pattern of \(tensor) found at \(found)") }
        return at + 4 * 17 + 2
    }

    @Test("a flipped byte in gate_proj or lm_head: inspect (text and --json) exits non-zero naming the dataset",
          arguments: ["model.layers.1.mlp.gate_proj.weight", "lm_head.weight"])
    func damagedWeightFails(tensor: String) throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("inspect-verify") { dir in
            let path = dir + "/step-3.h5"
            let at = try checkpointWithMarkedTensor(distill, path, tensor: tensor)
            let clean = try runDistill(distill, ["inspect", path])
            #expect(clean.succeeded, "the undamaged file inspects: \(clean)")
            #expect(clean.stdout.contains("verified"), "the report says the checksums were verified: \(clean.stdout)")
            try flipByte(in: path, at: at)

            for extra in [[], ["--json"], ["--hash"]] {
                let r = try runDistill(distill, ["inspect", path] + extra)
                #expect(!r.signaled && !r.timedOut && r.status != 0, "inspect \(extra) of a damaged file must fail: \(r)")
                #expect(r.stderr.contains(path), "names the file: \(r.stderr)")
                #expect(r.stderr.contains("/models/student/\(tensor)"), "names the damaged dataset: \(r.stderr)")
                #expect(r.stderr.lowercased().contains("checksum"), "says the checksum failed: \(r.stderr)")
                #expect(r.stderr.contains("--no-verify"), "says how to see the rest anyway: \(r.stderr)")
                #expect(r.stdout.isEmpty, "no report for a damaged file: \(r.stdout)")
            }
        }
    }

    @Test("--no-verify prints the report of a damaged file and says the checksums were not verified (text and JSON)")
    func noVerifySaysSo() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("inspect-no-verify") { dir in
            let path = dir + "/step-3.h5"
            let at = try checkpointWithMarkedTensor(distill, path, tensor: "model.layers.0.mlp.gate_proj.weight")
            let verifiedJSON = try runDistill(distill, ["inspect", path, "--json"])
            let before = try #require(try JSONSerialization.jsonObject(with: Data(verifiedJSON.stdout.utf8)) as? [String: Any],
                                      "not JSON: \(verifiedJSON)")
            #expect(before["checksums_verified"] as? Bool == true, "\(before)")
            try flipByte(in: path, at: at)

            let text = try runDistill(distill, ["inspect", path, "--no-verify"])
            #expect(text.succeeded, "\(text)")
            #expect(text.stdout.contains("tracedistill-checkpoint v1") && text.stdout.contains("24800"), "\(text.stdout)")
            #expect(text.stdout.contains("not verified") && text.stdout.contains("--no-verify"), "the text says it skipped the check: \(text.stdout)")

            let json = try runDistill(distill, ["inspect", path, "--no-verify", "--json"])
            #expect(json.succeeded, "\(json)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "not JSON: \(json.stdout)")
            #expect(object["checksums_verified"] as? Bool == false, "\(object)")
        }
    }
}
