import Checkpoint
import Foundation
import Stages
import TestSupport
import Testing
import Tokenizers

// The top-k teacher targets (issue 23) through the built `distill`: a cache from another teacher stops a resumed run,
// and SIGKILL/resume of the teacher-logits stage (the file and the final weights bit-identical to an uninterrupted
// run, as RunCommandTests does for the other stages). The library side is StagesTests' TopKTargetsTests.

@Suite("top-k teacher targets through distill", .serialized)
struct TopKTargetsCommandTests {
    /// Every target's (log-probs, ids, leftover) in the cache, in file order.
    func contents(_ path: String) throws -> (header: TopKTargetsHeader, logProbs: [Float], ids: [Int32], leftover: [Float]) {
        let r = try TopKTargetsReader(path: path)
        let all = try r.read(rows: Array(0..<r.header.rows))
        return (r.header, all.logProbs, all.ids, all.leftover)
    }

    @Test("end to end: a run folder whose cache came from another teacher stops output-distill with both hashes")
    func otherTeachersCacheInRun() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("topk-swap") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let a = dir + "/a.yaml", b = dir + "/b.yaml"
            try TestCurricula.topK().write(toFile: a, atomically: true, encoding: .utf8)
            try TestCurricula.topK().replacingOccurrences(of: "seed: 1\n", with: "seed: 2\n").write(toFile: b, atomically: true, encoding: .utf8)
            var env = childEnvironment()
            env["TRACEDISTILL_FAULT"] = "kill-after-stage:0"
            for (yaml, run) in [(a, "/ra"), (b, "/rb")] {
                let r = try runProcess(distill, ["run", yaml, "--run-dir", dir + run], environment: env, timeout: 300)
                #expect(r.signaled, "\(r)")
            }
            let theirs = try contents(dir + "/ra/teacher-logits-0.h5").header.teacherHash
            let mine = try contents(dir + "/rb/teacher-logits-0.h5").header.teacherHash
            #expect(theirs != mine)
            try FileManager.default.removeItem(atPath: dir + "/rb/teacher-logits-0.h5")
            try FileManager.default.copyItem(atPath: dir + "/ra/teacher-logits-0.h5", toPath: dir + "/rb/teacher-logits-0.h5")
            let resumed = try runDistill(distill, ["resume", dir + "/rb"], timeout: 300)
            #expect(!resumed.succeeded)
            #expect(resumed.stderr.contains(theirs) && resumed.stderr.contains(mine) && resumed.stderr.contains("re-run the teacher-logits stage"),
                    "\(resumed)")
        }
    }

    @Test("SIGKILL mid teacher-logits (cache tail in memory), at its end, inside a checkpoint write, mid output-distill, and with the cache file deleted: resumed runs end bit-identical, cache included")
    func killAndResume() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("topk-kill") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml"
            try TestCurricula.topK().write(toFile: yaml, atomically: true, encoding: .utf8)
            let clean = try runDistill(distill, ["run", yaml, "--run-dir", dir + "/clean"], timeout: 300)
            #expect(clean.succeeded, "\(clean)")
            let final = "/stage-2-feature-align.h5"
            let want = try roleHashes(distill, dir + "/clean" + final)
            let cache = try contents(dir + "/clean/teacher-logits-0.h5")
            // teacher-logits is global steps 1-n (2 rows per step), output-distill n+1 to n+3, feature-align n+4, n+5
            let rows = try RunData(curriculum: try Curriculum(text: TestCurricula.topK()), codec: .math).referenceTokens.count
            let n = (rows + 1) / 2
            #expect(n >= 4 && cache.header.rows == rows && cache.header.targets > 3 * 32, "\(rows) rows, \(cache.header.targets) targets")
            for fault in ["kill-after-step:2", "kill-after-step:\(n - 1)", "kill-after-stage:0", "kill-in-save-at-step:3",
                          "kill-after-step:\(n + 2)", "delete:2"] {
                let d = dir + "/" + fault.replacingOccurrences(of: ":", with: "-")
                var env = childEnvironment()
                env["TRACEDISTILL_FAULT"] = fault.hasPrefix("delete") ? "kill-after-step:2" : fault
                let killed = try runProcess(distill, ["run", yaml, "--run-dir", d], environment: env, timeout: 300)
                #expect(killed.signaled, "\(fault): the run should have been killed: \(killed)")
                if fault.hasPrefix("delete") { try FileManager.default.removeItem(atPath: d + "/teacher-logits-0.h5") }
                let resumed = try runDistill(distill, ["resume", d], timeout: 300)
                #expect(resumed.succeeded, "\(fault): \(resumed)")
                #expect(try roleHashes(distill, d + final) == want, "\(fault): weights differ from the uninterrupted run")
                let got = try contents(d + "/teacher-logits-0.h5")
                #expect(got.header == cache.header && got.logProbs.map(\.bitPattern) == cache.logProbs.map(\.bitPattern)
                        && got.ids == cache.ids && got.leftover.map(\.bitPattern) == cache.leftover.map(\.bitPattern),
                        "\(fault): the cache differs from the uninterrupted run's")
            }
        }
    }
}
