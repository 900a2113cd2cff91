import Foundation
import Stages
import TestSupport
import Tokenizers
import Testing

// `distill run / resume / status` as a user runs them. The resume test is the one the issue asks for: the smoke
// curriculum uninterrupted, then killed with SIGKILL mid-stage, at a stage boundary and during a checkpoint
// write, each time resumed; the final weights must be bit-identical (`distill inspect --hash`).

@Suite("distill run / resume / status", .serialized)
struct RunCommandTests {
    private func hashes(_ distill: String, _ file: String) throws -> [String: String] { try roleHashes(distill, file) }

    private func run(_ distill: String, _ args: [String], fault: String? = nil) throws -> ProcessResult {
        var env = childEnvironment()
        if let fault { env["TRACEDISTILL_FAULT"] = fault }
        return try runProcess(distill, args, environment: env, currentDirectory: packageRoot, timeout: 300)
    }

    @Test("rows longer than max_length are counted: said at the start, stored in every checkpoint, shown by status")
    func droppedRowsCounted() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("dropped-rows") { dir in
            try FileManager.default.createDirectory(atPath: dir + "-data", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir + "-data") }
            let train = dir + "-data/train.jsonl"
            #expect(try runDistill(distill, ["generate-data", "--domain", "addition", "--count", "8", "--split", "train", "--seed", "3",
                                             "--difficulty", "1", "--out", train]).succeeded)
            // three rows get a long extra step (same questions, so the same split): they no longer fit in 128 tokens
            let lines = try String(contentsOfFile: train, encoding: .utf8).split(separator: "\n").enumerated().map { i, line -> String in
                guard i < 3 else { return String(line) }
                return line.replacingOccurrences(of: "\"steps\": [", with: "\"steps\": [\"" + String(repeating: "1 + 1 = 2, ", count: 12) + "\", ")
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: train, atomically: true, encoding: .utf8)
            let curriculum = dir + "-data/c.yaml"
            try (CurriculumTests.tiny.replacingOccurrences(of: "max_length: 96}", with: "max_length: 128, train_file: \(train)}")
                 + "\nstages:\n  - kind: teacher-sft\n    steps: 1\n    batch_size: 2\n").write(toFile: curriculum, atomically: true, encoding: .utf8)
            // the three lengthened rows are over 128 tokens whatever the others are; the run's own count must say as much
            let data = try RunData(curriculum: try Curriculum.load(path: curriculum), codec: .math)
            #expect(data.droppedForLength >= 3 && data.train.count <= 5)
            let r = try runDistill(distill, ["run", curriculum, "--run-dir", dir])
            #expect(r.succeeded, "\(r)")
            let said = "\(data.train.count) training and \(data.validation.count) validation rows; \(data.droppedForLength) longer than max_length 128 tokens left out"
            #expect(r.stderr.contains(said), "\(r.stderr)")
            let status = try runDistill(distill, ["status", dir, "--json"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            #expect(object["rows_dropped_for_length"] as? Int == data.droppedForLength, "\(status.stdout)")
            #expect(try runDistill(distill, ["status", dir]).stdout.contains("data: \(data.droppedForLength) rows longer than max_length left out"))
        }
    }

    @Test("the resolved curriculum reaches a pipe or file before the first stage's log lines (standard output is line buffered)")
    func resolvedConfigurationFirst() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("stdout-order") { dir in
            let curriculum = dir + ".yaml"
            try (CurriculumTests.tiny + "\nstages:\n  - kind: teacher-sft\n    steps: 2\n    batch_size: 2\n")
                .write(toFile: curriculum, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: curriculum) }
            // one pipe for both streams, as `distill run ... > log 2>&1` gives
            let r = try runProcess("/bin/sh", ["-c", "\"$0\" run \"$1\" --run-dir \"$2\" 2>&1", distill, curriculum, dir],
                                   environment: childEnvironment(), timeout: 120)
            #expect(r.succeeded, "\(r)")
            let resolved = try #require(r.stdout.range(of: "resolved curriculum:"), "\(r.stdout.prefix(400))")
            let stage = try #require(r.stdout.range(of: "teacher-sft started"))
            #expect(resolved.lowerBound < stage.lowerBound, "the resolved curriculum came after the stage log")
        }
    }

    @Test("SIGKILL mid-stage, at a stage boundary and while writing a checkpoint: resumed runs end bit-identical")
    func killAndResume() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("kill") { dir in
            let clean = try run(distill, ["run", "curricula/smoke.yaml", "--run-dir", dir + "/clean"])
            #expect(clean.succeeded, "\(clean)")
            #expect(clean.stdout.contains("resolved curriculum:") && clean.stdout.contains("learning_rate:"))
            let final = "stage-6-baseline-ce.h5"
            let want = try hashes(distill, dir + "/clean/" + final)
            #expect(Set(want.keys) == ["teacher", "student", "projection", "value_head", "baseline"])

            // mid teacher-sft (global step 25), the stage boundary after temperature-search, mid output-distill
            // (150), mid ppo-trace (210), and inside the 9th checkpoint save (temporary file written, not renamed)
            for fault in ["kill-after-step:25", "kill-after-stage:2", "kill-after-step:150", "kill-after-step:210", "kill-in-save:9"] {
                let d = dir + "/" + fault.replacingOccurrences(of: ":", with: "-")
                let killed = try run(distill, ["run", "curricula/smoke.yaml", "--run-dir", d], fault: fault)
                #expect(killed.signaled, "\(fault): the run should have been killed: \(killed)")
                let resumed = try run(distill, ["resume", d])
                #expect(resumed.succeeded, "\(fault): \(resumed)")
                #expect(resumed.stderr.contains("resuming from"))
                #expect(try hashes(distill, d + "/" + final) == want, "\(fault): weights differ from the uninterrupted run")
                // the metric files hold each step exactly as often as the uninterrupted run's
                #expect(try metricRowKeys(d) == metricRowKeys(dir + "/clean"), "\(fault): metrics.jsonl rows differ")
            }
        }
    }

    @Test("SIGINT finishes the step, writes a checkpoint, exits 130 saying how to resume; status shows where it stands")
    func interruptAndStatus() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("sigint") { dir in
            let errPath = dir + ".err"
            FileManager.default.createFile(atPath: errPath, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: errPath) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: distill)
            p.arguments = ["run", "curricula/smoke.yaml", "--run-dir", dir]
            p.environment = childEnvironment()
            p.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            try p.run()
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                let text = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
                if text.contains("step 10/") { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            kill(p.processIdentifier, SIGINT)
            p.waitUntilExit()
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            #expect(p.terminationReason == .exit && p.terminationStatus == 130, "status \(p.terminationStatus): \(err)")
            #expect(!err.contains("Error:"), "an interrupted run is not an error: \(err)")
            #expect(err.contains("distill resume \(dir)"))

            let status = try runDistill(distill, ["status", dir, "--json"])
            #expect(status.succeeded, "\(status)")
            let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let stages = json?["stages"] as? [[String: Any]] ?? []
            #expect(stages.count == 7)
            #expect(stages.first?["kind"] as? String == "teacher-sft")
            #expect(["running", "evaluating"].contains(stages.first?["state"] as? String ?? ""))
            #expect((stages.first?["step"] as? Int ?? 0) >= 10 && stages.first?["total_steps"] as? Int == 120)
            #expect(stages.dropFirst().allSatisfy { $0["state"] as? String == "pending" })
            #expect((json?["newest_checkpoint"] as? String)?.hasSuffix(".h5") == true)
            let text = try runDistill(distill, ["status", dir])
            #expect(text.stdout.contains("teacher-sft: running") || text.stdout.contains("teacher-sft: evaluating"))

            let again = try runDistill(distill, ["run", "curricula/smoke.yaml", "--run-dir", dir])
            #expect(!again.succeeded && again.stderr.contains("distill resume"), "a second run into the same folder must refuse: \(again)")
        }
    }

    @Test("bad curriculum and missing run folder: clean message with the location, exit 1, no crash")
    func badInput() throws {
        guard let distill = requireDistill() else { return }
        try withRunFolder("bad") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let path = dir + "/bad.yaml"
            try (CurriculumTests.tiny + "\nstages:\n  - kind: teacher-sft\n    steps: -3\n").write(toFile: path, atomically: true, encoding: .utf8)
            let r = try runDistill(distill, ["run", path, "--run-dir", dir + "/run"])
            #expect(r.status == 1 && !r.signaled)
            #expect(r.stderr.contains("bad.yaml:8: stages[0].steps: must be at least 0"), "\(r.stderr)")
            let resume = try runDistill(distill, ["resume", dir + "/nothing"])
            #expect(resume.status == 1 && resume.stderr.contains("no valid checkpoint"), "\(resume)")
            let status = try runDistill(distill, ["status", dir + "/nothing"])
            #expect(status.status == 1 && !status.signaled)
        }
    }
}
