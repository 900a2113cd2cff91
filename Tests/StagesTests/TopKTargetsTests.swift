import Checkpoint
import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Tokenizers
import Testing

// Issue 23, "top-k teacher targets, computed once": the teacher-logits stage's cache (values against a float64
// top-k of the teacher's own logits, chunked/deflated/checksummed file, the hash that ties it to the teacher and
// the data), output-distill / feature-align with `targets: topk` and the curriculum checks. The tests that run the
// built binary (a swapped cache in a run folder, SIGKILL/resume of the stage) are DistillCLITests'
// TopKTargetsCommandTests.

@Suite("top-k teacher targets cache", .serialized)
struct TopKTargetsTests {
    /// teacher-logits over the reference rows, then output-distill and feature-align reading the cache
    /// (`TestCurricula.topK`, which the command tests run too).
    static func curriculum(k: Int = 8, temperature: String = "2.0", extra: String = "") -> String {
        TestCurricula.topK(k: k, temperature: temperature, extra: extra)
    }

    /// Every target's (log-probs, ids, leftover) in the cache, in file order.
    static func contents(_ path: String) throws -> (header: TopKTargetsHeader, logProbs: [Float], ids: [Int32], leftover: [Float]) {
        let r = try TopKTargetsReader(path: path)
        let all = try r.read(rows: Array(0..<r.header.rows))
        return (r.header, all.logProbs, all.ids, all.leftover)
    }

    @Test("the cache holds, for every target token, the teacher's top-k log-probs at T, their ids and the log of the rest (against a float64 log-softmax of the teacher's logits)")
    func cacheValues() throws {
        let c = try Curriculum(text: Self.curriculum())
        try withRunFolder("topk-values") { dir in
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir)
            let teacher0 = snapshot(runner.context.teacher.parameters)
            let student0 = snapshot(runner.context.student.parameters)
            #expect(try runner.run() == .completed)
            #expect(snapshot(runner.context.teacher.parameters) == teacher0)
            #expect(snapshot(runner.context.student.parameters) != student0, "the topk stages did not train the student")
            let (header, lp, ids, rest) = try Self.contents(dir + "/teacher-logits-0.h5")
            let rows = runner.context.data.referenceTokens
            #expect(header.k == 8 && header.temperature == 2 && header.rows == rows.count && header.chunkTargets == 32)
            #expect(header.teacherHash == (try CheckpointReader(path: dir + "/stage-2-feature-align.h5").parameterHash(role: "teacher")),
                    "the cache's teacher hash is not distill inspect --hash of the teacher")
            var m = 0
            for row in rows {
                let batch = TraceBatch([row])
                let logits = runner.context.teacher.forward(tokens: batch.tokens, batch: 1, length: batch.length).logits.toArray()
                let v = logits.count / batch.length
                for j in max(0, row.promptLength - 1)..<(row.tokens.count - 1) {
                    let z = logits[(j * v)..<(j * v + v)].map { Double($0) / 2 }
                    let top = z.max()!, lse = top + log(z.reduce(0) { $0 + exp($1 - top) })
                    let order = (0..<v).sorted { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }
                    let kept = Array(order.prefix(8))
                    #expect(ids[(m * 8)..<(m * 8 + 8)].map(Int.init) == kept, "target \(m): ids")
                    allClose(Array(lp[(m * 8)..<(m * 8 + 8)]), kept.map { z[$0] - lse }, rtol: 1e-5, atol: 1e-5, "target \(m)")
                    let left = log(order.dropFirst(8).reduce(0.0) { $0 + exp(z[$1] - lse) })
                    allClose(rest[m], left, rtol: 1e-4, atol: 1e-5, "target \(m): leftover")
                    m += 1
                }
            }
            #expect(m == header.targets)
        }
    }

    @Test("the file: chunked, deflated, fletcher32 on every target dataset; at most 8 bytes per kept entry; h5dump reads it")
    func fileLayout() throws {
        let dir = NSTemporaryDirectory() + "topk-layout-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/c.h5"
        // 3,000 targets of k = 64 in uneven rows: every chunk boundary case (a row across two chunks, a partial last chunk)
        let counts = (0..<40).map { 40 + ($0 * 37) % 70 }
        var offsets = [0]
        for n in counts { offsets.append(offsets.last! + n) }
        let header = TopKTargetsHeader(k: 64, temperature: 1, vocabularySize: 49_152, teacherHash: "t", dataHash: "d", rowOffsets: offsets)
        let n = offsets.last!
        var rng = RandomGenerator(seed: 5)
        let lp = (0..<(n * 64)).map { _ in -abs(rng.nextNormal()) * 4 }
        let ids = (0..<(n * 64)).map { _ in Int32(rng.nextInt(below: 49_152)) }
        let rest = (0..<n).map { _ in -abs(rng.nextNormal()) }
        let w = try TopKTargetsWriter.create(path: path, header: header)
        var at = 0
        for step in stride(from: 0, to: n, by: 100) {  // appends that do not line up with the 256-target chunks
            let end = min(step + 100, n)
            try w.append(logProbs: Array(lp[(at * 64)..<(end * 64)]), ids: Array(ids[(at * 64)..<(end * 64)]), leftover: Array(rest[at..<end]))
            at = end
            #expect(w.durableTargets % header.chunkTargets == 0 && w.durableTargets <= at)
        }
        #expect(throws: TopKTargetsError.self) { _ = try TopKTargetsReader(path: path) }  // not finished: refused as incomplete
        try w.finish()
        let back = try Self.contents(path)
        #expect(back.logProbs == lp && back.ids == ids && back.leftover == rest)
        let r = try TopKTargetsReader(path: path)
        let some = try r.read(rows: [7, 3, 39])
        #expect(some.counts == [counts[7], counts[3], counts[39]])
        #expect(Array(some.ids.prefix(counts[7] * 64)) == Array(ids[(offsets[7] * 64)..<(offsets[8] * 64)]))
        let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(Double(bytes) / Double(n * 64) <= 8, "\(bytes) bytes for \(n * 64) entries")
        let dump = try runProcess("/usr/bin/h5dump", ["-p", "-H", path], environment: ProcessInfo.processInfo.environment, timeout: 60)
        #expect(dump.succeeded, "\(dump)")
        for name in ["log_probs", "ids", "leftover"] {
            let section = dump.stdout.components(separatedBy: "DATASET \"\(name)\"").dropFirst().first ?? ""
            #expect(section.contains("CHUNKED") && section.contains("COMPRESSION DEFLATE") && section.contains("CHECKSUM FLETCHER32"),
                    "\(name): \(section.prefix(600))")
        }
    }

    @Test("a cache from another teacher or other data is refused, naming both hashes and how to fix it")
    func mismatchRefused() throws {
        let dir = NSTemporaryDirectory() + "topk-mismatch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = TopKTargetsHeader(k: 2, temperature: 1, vocabularySize: 5, teacherHash: "aaaa", dataHash: "dddd", rowOffsets: [0, 1])
        let w = try TopKTargetsWriter.create(path: dir + "/c.h5", header: made)
        try w.append(logProbs: [-0.5, -1], ids: [1, 2], leftover: [-2])
        try w.finish()
        let r = try TopKTargetsReader(path: dir + "/c.h5")
        try r.check(against: made)
        var other = made
        other.teacherHash = "bbbb"
        do {
            try r.check(against: other)
            Issue.record("another teacher's cache was accepted")
        } catch let e as TopKTargetsError {
            let text = "\(e)"
            #expect(text.contains("aaaa") && text.contains("bbbb") && text.contains("teacher") && text.contains("re-run the teacher-logits stage"), "\(text)")
        }
        other = made
        other.dataHash = "eeee"
        #expect(throws: TopKTargetsError.mismatch(file: dir + "/c.h5", what: "data rows of SHA-256", cached: "dddd", expected: "data rows of SHA-256 eeee")) {
            try r.check(against: other)
        }
    }

    @Test("curriculum checks: targets: topk needs a teacher-logits stage before it, over the same data, with no teacher-sft between; k within the vocabulary")
    func curriculumChecks() throws {
        let noCache = curriculumError(CurriculumTests.tiny + "\nstages:\n  - kind: output-distill\n    data: reference\n    targets: topk\n")
        #expect(noCache?.keyPath == "stages[0].targets" && noCache?.line == 9 && noCache?.message.contains("teacher-logits") == true,
                "\(String(describing: noCache))")
        let otherData = curriculumError(CurriculumTests.tiny + """

        stages:
          - kind: teacher-traces
          - kind: teacher-logits
            data: reference
          - kind: feature-align
            data: both
            targets: topk
        """)
        #expect(otherData?.keyPath == "stages[2].targets" && otherData?.message.contains("data: reference") == true
                && otherData?.message.contains("data: both") == true, "\(String(describing: otherData))")
        let bigK = curriculumError(CurriculumTests.tiny + "\nstages:\n  - kind: teacher-logits\n    k: 100000\n    data: reference\n")
        #expect(bigK?.keyPath == "stages[0].k" && bigK?.line == 8 && bigK?.message.contains("vocabulary") == true, "\(String(describing: bigK))")
        let sftAfter = curriculumError(CurriculumTests.tiny + """

        stages:
          - kind: teacher-logits
            data: reference
          - kind: teacher-sft
          - kind: output-distill
            data: reference
            targets: topk
        """)
        #expect(sftAfter?.keyPath == "stages[2].targets" && sftAfter?.message.contains("teacher-sft (stages[1])") == true,
                "\(String(describing: sftAfter))")
        let badTargets = curriculumError(CurriculumTests.tiny + "\nstages:\n  - kind: output-distill\n    targets: sparse\n")
        #expect(badTargets?.keyPath == "stages[0].targets", "\(String(describing: badTargets))")
        // the default stays full, and the resolved configuration reads back
        let plain = try Curriculum(text: CurriculumTests.tiny + "\nstages:\n  - kind: output-distill\n")
        #expect(plain.resolvedDescription.contains("targets: full"))
        let topk = try Curriculum(text: Self.curriculum())
        let again = try Curriculum(text: topk.resolvedDescription)
        #expect(again.resolvedDescription == topk.resolvedDescription)
    }

    @Test("prune's fine-tuning distills from the unpruned student, not the cached teacher: targets: topk there stops the stage, saying why")
    func pruneRefusesTopK() throws {
        let text = CurriculumTests.tiny.replacingOccurrences(of: "student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}",
                                                             with: "student: {layers: 2, hidden_size: 32, heads: 4, kv_heads: 2, intermediate_size: 48}") + """

        stages:
          - kind: teacher-logits
            data: reference
          - kind: prune
            target: 0.8
            fraction_per_round: 0.1
            steps_per_round: 2
            batch_size: 2
            validation_problems: 2
            max_new_tokens: 8
            data: reference
            targets: topk
        """
        let c = try Curriculum(text: text)
        try withRunFolder("topk-prune") { dir in
            let runner = try CurriculumRunner(curriculum: c, runDirectory: dir)
            do {
                _ = try runner.run()
                Issue.record("prune with targets: topk ran")
            } catch {
                #expect("\(error)".contains("targets: topk reads the run teacher's cache") && "\(error)".contains("stages[1].targets"), "\(error)")
            }
        }
    }
}
