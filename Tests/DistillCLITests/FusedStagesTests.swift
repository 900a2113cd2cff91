import Foundation
import Stages
import TestSupport
import Testing

// The training stages on the fused output layer (forced with TRACEDISTILL_FUSED_MIN_VOCAB=0 on a small model, whose
// vocabulary is below the threshold the stages use by default): the same run as on the unfused path up to float
// rounding, and a run killed in output-distill resumes bit-identically.
@Suite("training stages on the fused output layer")
struct FusedStagesTests {
    /// Global steps: teacher-sft 1-4, output-distill 5-8, baseline-ce 9-12; checkpoints every 2 steps.
    static let curriculum = """
    \(tinyRunHead)
    stages:
      - kind: teacher-sft
        steps: 4
        batch_size: 2
      - kind: output-distill
        steps: 4
        batch_size: 2
        temperature: 2.0
        alpha: 0.5
        label_smoothing: 0.1
        data: reference
      - kind: baseline-ce
        steps: 4
        batch_size: 2

    """

    private func run(_ exe: String, _ args: [String], minimumVocabulary: Int?, fault: String? = nil) throws -> ProcessResult {
        var env = childEnvironment()
        if let minimumVocabulary { env["TRACEDISTILL_FUSED_MIN_VOCAB"] = String(minimumVocabulary) }
        if let fault { env["TRACEDISTILL_FAULT"] = fault }
        return try runProcess(exe, args, environment: env, timeout: 300)
    }

    /// Every training row's loss of metrics.jsonl, in order.
    private func losses(_ folder: String) throws -> [Double] {
        try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["loss"] as? Double
        }
    }

    @Test("fused and unfused stages give the same losses within float rounding; a fused run killed mid-stage resumes bit-identically")
    func fusedMatchesUnfusedAndResumes() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("fused-stages") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml"
            try Self.curriculum.write(toFile: yaml, atomically: true, encoding: .utf8)
            let unfused = try run(exe, ["run", yaml, "--run-dir", dir + "/unfused"], minimumVocabulary: nil)
            let fused = try run(exe, ["run", yaml, "--run-dir", dir + "/fused"], minimumVocabulary: 0)
            #expect(unfused.succeeded && fused.succeeded, "\(unfused)\n\(fused)")
            let a = try losses(dir + "/unfused"), b = try losses(dir + "/fused")
            #expect(a.count == 12 && b.count == 12, "\(a.count) and \(b.count) loss rows")
            allClose(b.map { Float($0) }, a, rtol: 1e-4, atol: 1e-5, "per-step losses, fused against unfused")
            // the two paths sum in other orders: different bits show the variable really switched the path
            let file = "/stage-2-baseline-ce.h5"
            #expect(try roleHashes(exe, dir + "/fused" + file)["student"] != roleHashes(exe, dir + "/unfused" + file)["student"])

            let killed = try run(exe, ["run", yaml, "--run-dir", dir + "/killed"], minimumVocabulary: 0, fault: "kill-after-step:7")
            #expect(killed.signaled, "the run should have been killed: \(killed)")
            let resumed = try run(exe, ["resume", dir + "/killed"], minimumVocabulary: 0)
            #expect(resumed.succeeded, "\(resumed)")
            for file in ["stage-1-output-distill.h5", "stage-2-baseline-ce.h5"] {
                #expect(try roleHashes(exe, dir + "/killed/" + file) == roleHashes(exe, dir + "/fused/" + file), "\(file) differs")
            }

            let bad = try run(exe, ["inspect", dir + "/fused/stage-2-baseline-ce.h5"], minimumVocabulary: -1)
            #expect(bad.status != 0 && bad.stderr.contains("TRACEDISTILL_FUSED_MIN_VOCAB=-1"), "\(bad)")
        }
    }

    @Test("top-k targets through the fused layer: output-distill and feature-align give the unfused losses within float rounding; a run killed in output-distill resumes bit-identically")
    func topKFusedMatchesUnfusedAndResumes() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("fused-topk") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml"
            try TestCurricula.topK().write(toFile: yaml, atomically: true, encoding: .utf8)
            let unfused = try run(exe, ["run", yaml, "--run-dir", dir + "/unfused"], minimumVocabulary: nil)
            let fused = try run(exe, ["run", yaml, "--run-dir", dir + "/fused"], minimumVocabulary: 0)
            #expect(unfused.succeeded && fused.succeeded, "\(unfused)\n\(fused)")
            let a = try losses(dir + "/unfused"), b = try losses(dir + "/fused")
            #expect(a.count == b.count && a.count >= 5, "\(a.count) and \(b.count) loss rows")
            allClose(b.map { Float($0) }, a, rtol: 1e-4, atol: 1e-5, "per-step losses, fused against unfused")
            let file = "/stage-2-feature-align.h5"
            #expect(try roleHashes(exe, dir + "/fused" + file)["student"] != roleHashes(exe, dir + "/unfused" + file)["student"])

            // teacher-logits takes the first 6 steps (12 rows, 2 a step): step 7 is output-distill's first
            let killed = try run(exe, ["run", yaml, "--run-dir", dir + "/killed"], minimumVocabulary: 0, fault: "kill-after-step:7")
            #expect(killed.signaled, "the run should have been killed: \(killed)")
            let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/killed")
            #expect(files.contains("stage-0-teacher-logits.h5") && !files.contains("stage-1-output-distill.h5"), "killed in output-distill: \(files)")
            let resumed = try run(exe, ["resume", dir + "/killed"], minimumVocabulary: 0)
            #expect(resumed.succeeded, "\(resumed)")
            for file in ["stage-1-output-distill.h5", "stage-2-feature-align.h5"] {
                #expect(try roleHashes(exe, dir + "/killed/" + file) == roleHashes(exe, dir + "/fused/" + file), "\(file) differs")
            }
        }
    }
}
