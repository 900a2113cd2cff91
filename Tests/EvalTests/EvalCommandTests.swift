import Foundation
import Model
import TestSupport
import Testing

// `distill eval` and `distill report` as a user runs them (the built binary) on tiny random checkpoints: every
// report field is present (values are not judged: the models are untrained), the table structure is right,
// and bad input of each kind ends with a message naming what and how to fix, a non-zero exit and no crash.

private let greedyKeys: Set<String> = ["problems", "attempted", "answered", "finished", "accuracy", "claims", "valid_claims",
                                       "step_validity", "fully_verified_rate", "rows_with_invalid_step", "first_invalid_step_mean",
                                       "first_invalid_step_median", "first_invalid_step_counts", "step_f1", "mean_steps", "mean_tokens"]
private let modelKeys: Set<String> = ["label", "role", "parameters", "model_bytes", "architecture", "greedy", "domains", "timing",
                                      "not_attempted", "sampling"]
private let timingKeys: Set<String> = ["batch_size", "generated_tokens", "seconds", "tokens_per_second", "latency_median_seconds",
                                       "latency_p95_seconds"]
private let samplingKeys: Set<String> = ["samples", "temperature", "top_p", "seed", "pass_at_k", "maj_at_k", "sample_accuracy",
                                         "generated_tokens", "seconds", "tokens_per_second"]
private let configKeys: Set<String> = ["max_new_tokens", "batch_size", "samples", "k", "temperature", "top_p", "seed"]
private let suiteKeys: Set<String> = ["name", "source", "format", "problems", "domains"]

/// Checks one model report object: every key, and the numbers that must hold for any model.
private func checkModel(_ m: [String: Any], label: String, problems: Int, samples: Int, ks: [Int]) {
    #expect(Set(m.keys) == modelKeys, "model keys: \(m.keys.sorted())")
    #expect(m["label"] as? String == label)
    let greedy = m["greedy"] as? [String: Any] ?? [:]
    #expect(Set(greedy.keys) == greedyKeys, "greedy keys: \(greedy.keys.sorted())")
    #expect(greedy["problems"] as? Int == problems)
    #expect((greedy["accuracy"] as? Double).map { (0...1).contains($0) } == true)
    let timing = m["timing"] as? [String: Any] ?? [:]
    #expect(Set(timing.keys) == timingKeys)
    #expect((timing["tokens_per_second"] as? Double ?? 0) > 0)
    #expect((m["parameters"] as? Int ?? 0) > 0 && m["model_bytes"] as? Int == 4 * (m["parameters"] as? Int ?? 0))
    let domains = m["domains"] as? [[String: Any]] ?? []
    #expect(!domains.isEmpty && domains.allSatisfy { Set(($0["metrics"] as? [String: Any] ?? [:]).keys) == greedyKeys })
    let sampling = m["sampling"] as? [String: Any] ?? [:]
    #expect(Set(sampling.keys) == samplingKeys, "sampling keys: \(sampling.keys.sorted())")
    #expect(sampling["samples"] as? Int == samples)
    #expect((sampling["pass_at_k"] as? [[String: Any]])?.compactMap { $0["k"] as? Int } == ks)
    #expect((sampling["maj_at_k"] as? [[String: Any]])?.compactMap { $0["k"] as? Int } == ks)
}

/// Asserts a clean failure: non-zero exit, no crash, nothing on stdout, and stderr containing every phrase.
private func expectCleanFailure(_ r: ProcessResult, _ phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!r.signaled && !r.timedOut && r.status != 0, "expected a clean failure: \(r)", sourceLocation: sourceLocation)
    for phrase in phrases { #expect(r.stderr.contains(phrase), "stderr should contain \(phrase): \(r.stderr)", sourceLocation: sourceLocation) }
    for trace in ["Fatal error", "Stack dump", "Current stack trace", "Illegal instruction"] {
        #expect(!r.stderr.contains(trace), "crash output: \(r.stderr)", sourceLocation: sourceLocation)
    }
    #expect(r.stdout.isEmpty, "nothing on stdout for a failure: \(r.stdout)", sourceLocation: sourceLocation)
}

@Suite("distill eval / distill report")
struct EvalCommandTests {
    @Test("eval --role both: report.json holds every field for teacher and student, retention for every metric; report.md and completions.jsonl written")
    func evalBoth() throws {
        guard let distill = requireDistill() else { return }
        try withScratchFolder("cli-eval") { dir in
            let teacher = try tinyModel(seed: 1, hidden: 32, layers: 2), student = try tinyModel(seed: 2)
            let path = dir + "/both.h5"
            try writeCheckpoint(path, roles: [("teacher", teacher), ("student", student)])
            let out = dir + "/out"
            let r = try runDistill(distill, ["eval", "--checkpoint", path, "--role", "both", "--limit", "8", "--samples", "2",
                                             "--max-new-tokens", "16", "--batch-size", "4", "--out", out, "--quiet"])
            #expect(r.succeeded, "distill eval: \(r)")
            #expect(r.stdout.contains("| metric") && r.stdout.contains("| teacher") && r.stdout.contains("student / teacher"), "\(r.stdout)")
            #expect(r.stdout.contains("pass@2") && r.stdout.contains("maj@1") && r.stdout.contains("step_validity"), "\(r.stdout)")

            let json = try #require(try readJSONObject(out + "/report.json"))
            #expect(Set(json.keys) == ["kind", "created_utc", "checkpoint", "suite", "config", "models", "retention"])
            #expect(json["checkpoint"] as? String == path)
            let suite = json["suite"] as? [String: Any] ?? [:]
            #expect(Set(suite.keys) == suiteKeys && suite["name"] as? String == "math-proof" && suite["problems"] as? Int == 8)
            let config = json["config"] as? [String: Any] ?? [:]
            #expect(Set(config.keys) == configKeys && config["k"] as? [Int] == [1, 2] && config["temperature"] as? Double == 0.6)
            let models = json["models"] as? [[String: Any]] ?? []
            #expect(models.count == 2)
            if models.count == 2 {
                checkModel(models[0], label: "teacher", problems: 8, samples: 2, ks: [1, 2])
                checkModel(models[1], label: "student", problems: 8, samples: 2, ks: [1, 2])
                #expect(models[0]["parameters"] as? Int == teacher.parameterCount && models[1]["parameters"] as? Int == student.parameterCount)
            }
            let retention = json["retention"] as? [[String: Any]] ?? []
            #expect(retention.allSatisfy { Set($0.keys) == ["metric", "teacher", "student", "ratio"] })
            let metrics = retention.compactMap { $0["metric"] as? String }
            for name in ["parameters", "model_bytes", "accuracy", "step_validity", "fully_verified_rate", "step_f1",
                         "first_invalid_step_mean", "mean_steps", "mean_tokens", "tokens_per_second", "latency_median_seconds",
                         "latency_p95_seconds", "pass@1", "pass@2", "maj@1", "maj@2", "sample_accuracy"] {
                #expect(metrics.contains(name), "retention lacks \(name)")
            }
            let params = retention.first { $0["metric"] as? String == "parameters" }
            // (JSON text keeps about 16 significant digits.)
            #expect(abs((params?["ratio"] as? Double ?? 0) - Double(student.parameterCount) / Double(teacher.parameterCount)) < 1e-12)

            let markdown = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
            for section in ["# Evaluation on math-proof", "## Summary", "## Per domain", "## First invalid step", "## Definitions"] {
                #expect(markdown.contains(section), "report.md lacks \(section)")
            }
            let lines = try String(contentsOfFile: out + "/completions.jsonl", encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 16)
            let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any] ?? [:]
            #expect(first["model"] as? String == "teacher" && first["completion"] is String && first["correct_samples"] is Int)

            // Without --out the report goes beside the checkpoint, in eval-<suite>.
            let plain = try runDistill(distill, ["eval", "--checkpoint", path, "--limit", "2", "--max-new-tokens", "4", "--quiet"])
            #expect(plain.succeeded, "\(plain)")
            let single = try #require(try readJSONObject(dir + "/eval-math-proof/report.json"))
            #expect((single["models"] as? [[String: Any]])?.first?["sampling"] is NSNull)
            #expect((single["retention"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("eval on a suite file (GSM8K format recognised), its name used for the output folder")
    func evalSuiteFile() throws {
        guard let distill = requireDistill() else { return }
        try withScratchFolder("cli-eval-file") { dir in
            let path = dir + "/m.h5"
            try writeCheckpoint(path, roles: [("student", try tinyModel(seed: 3))])
            let suite = try writeText(#"""
                {"question": "Tom has 3 apples and buys 4 more. How many now?", "answer": "3+4 = <<3+4=7>>7\n#### 7"}
                {"question": "A box holds 12 eggs. How many in 2 boxes?", "answer": "12*2 = <<12*2=24>>24\n#### 24"}
                """#, to: dir, "tiny-gsm.jsonl")
            let r = try runDistill(distill, ["eval", "--checkpoint", path, "--suite", suite, "--max-new-tokens", "8", "--quiet"])
            #expect(r.succeeded, "\(r)")
            let json = try #require(try readJSONObject(dir + "/eval-tiny-gsm/report.json"))
            let s = json["suite"] as? [String: Any] ?? [:]
            #expect(s["format"] as? String == "gsm8k" && s["problems"] as? Int == 2)

            // --per-domain sizes the built-in suite: 2 problems from each of its 8 domains
            let sized = try runDistill(distill, ["eval", "--checkpoint", path, "--per-domain", "2", "--max-new-tokens", "4",
                                                 "--out", dir + "/sized", "--quiet"])
            #expect(sized.succeeded, "\(sized)")
            let sizedSuite = try #require(try readJSONObject(dir + "/sized/report.json"))["suite"] as? [String: Any]
            #expect(sizedSuite?["problems"] as? Int == 16, "\(String(describing: sizedSuite))")
            let rows = try String(contentsOfFile: dir + "/sized/completions.jsonl", encoding: .utf8).split(separator: "\n")
            let domains = rows.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["domain"] as? String }
            #expect(Dictionary(grouping: domains, by: { $0 }).mapValues(\.count) == Dictionary(uniqueKeysWithValues: ["addition", "subtraction", "multiplication", "linear", "gcd", "modular", "divisibility", "parity"].map { ($0, 2) }))

            // --domain keeps the named domains only, in the order given, each still --per-domain strong
            let picked = try runDistill(distill, ["eval", "--checkpoint", path, "--domain", "parity, addition", "--per-domain", "3",
                                                  "--difficulty", "1", "--max-new-tokens", "4", "--out", dir + "/picked", "--quiet"])
            #expect(picked.succeeded, "\(picked)")
            let pickedRows = try String(contentsOfFile: dir + "/picked/completions.jsonl", encoding: .utf8).split(separator: "\n")
            let pickedDomains = pickedRows.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["domain"] as? String }
            #expect(pickedDomains == ["parity", "addition", "parity", "addition", "parity", "addition"], "\(pickedDomains)")
        }
    }

    @Test("eval: missing file, missing role, no tokenizer, bad suite name, malformed suite row, bad options: typed messages, non-zero exit")
    func evalBadInputs() throws {
        guard let distill = requireDistill() else { return }
        try withScratchFolder("cli-eval-bad") { dir in
            let path = dir + "/student.h5"
            try writeCheckpoint(path, roles: [("student", try tinyModel(seed: 4))])
            let bare = dir + "/bare.h5"
            try writeCheckpoint(bare, roles: [("student", try tinyModel(seed: 4))], tokenizer: false)
            let text = try writeText("not a checkpoint\n", to: dir, "notes.h5")
            let badSuite = try writeText("{\"question\": \"q\", \"steps\": [], \"answer\": \"1\"}\n{\"question\": \"q2\", \"steps\": 3, \"answer\": \"1\"}\n",
                                         to: dir, "bad.jsonl")
            let run = { (args: [String]) in try runDistill(distill, ["eval"] + args + ["--limit", "2", "--max-new-tokens", "4", "--quiet"]) }

            expectCleanFailure(try run(["--checkpoint", dir + "/none.h5"]), [dir + "/none.h5", "no such checkpoint file"])
            expectCleanFailure(try run(["--checkpoint", text]), [text, "HDF5"])
            expectCleanFailure(try run(["--checkpoint", path, "--role", "teacher"]), [path, "no model role 'teacher'", "has: student", "choose --role"])
            expectCleanFailure(try run(["--checkpoint", path, "--role", "both"]), ["no model role 'teacher'"])
            expectCleanFailure(try run(["--checkpoint", bare]), [bare, "no tokenizer stored"])
            expectCleanFailure(try run(["--checkpoint", path, "--suite", "math-prooof"]), ["suite 'math-prooof'", "not a built-in suite", "math-proof"])
            expectCleanFailure(try run(["--checkpoint", path, "--suite", badSuite]), [badSuite + ":2", "field 'steps'"])
            expectCleanFailure(try run(["--checkpoint", path, "--suite", badSuite, "--difficulty", "3"]), ["--difficulty"])
            expectCleanFailure(try run(["--checkpoint", path, "--suite", badSuite, "--per-domain", "3"]), ["--per-domain", "suite file"])
            expectCleanFailure(try run(["--checkpoint", path, "--per-domain", "0"]), ["--per-domain", "at least 1"])
            expectCleanFailure(try run(["--checkpoint", path, "--domain", "adition"]), ["--domain", "unknown domain 'adition'", "addition"])
            expectCleanFailure(try run(["--checkpoint", path, "--suite", badSuite, "--domain", "addition"]), ["--domain", "suite file"])
            expectCleanFailure(try run(["--checkpoint", path, "--samples", "2", "--k", "3"]), ["--k", "1...2"])
            expectCleanFailure(try run(["--checkpoint", path, "--k", "1"]), ["--k", "--samples"])
            expectCleanFailure(try run(["--checkpoint", path, "--samples", "2", "--temperature", "0"]), ["--temperature"])
            expectCleanFailure(try run(["--checkpoint", path, "--batch-size", "0"]), ["--batch-size"])
            expectCleanFailure(try runDistill(distill, ["eval", "--checkpoint", path, "--limit", "0"]), ["--limit"])
            expectCleanFailure(try run(["--checkpoint", path, "--train-data", dir + "/missing.jsonl"]), [dir + "/missing.jsonl", "no such file"])
        }
    }

    @Test("report RUN_DIR: a row per stage (teacher, student after each student stage, baseline), every field present")
    func reportRun() throws {
        guard let distill = requireDistill() else { return }
        try withScratchFolder("cli-report") { dir in
            let teacher = try tinyModel(seed: 10, hidden: 32, layers: 2)
            try writeCheckpoint(dir + "/stage-0-teacher-sft.h5", roles: [("teacher", teacher)])
            try writeCheckpoint(dir + "/stage-1-teacher-traces.h5", roles: [("teacher", teacher)])
            try writeCheckpoint(dir + "/stage-2-output-distill.h5", roles: [("teacher", teacher), ("student", try tinyModel(seed: 11))])
            try writeCheckpoint(dir + "/stage-3-feature-align.h5", roles: [("teacher", teacher), ("student", try tinyModel(seed: 12))])
            try writeCheckpoint(dir + "/stage-4-ppo-trace.h5", roles: [("student", try tinyModel(seed: 13))])
            try writeCheckpoint(dir + "/stage-5-baseline-ce.h5", roles: [("baseline", try tinyModel(seed: 14))])
            try writeCheckpoint(dir + "/step-120.h5", roles: [("student", try tinyModel(seed: 15))])
            let r = try runDistill(distill, ["report", dir, "--limit", "4", "--samples", "2", "--max-new-tokens", "12", "--batch-size", "4", "--quiet"])
            #expect(r.succeeded, "distill report: \(r)")
            let labels = ["teacher", "student after output-distill", "student after feature-align", "student after ppo-trace", "baseline (CE only)"]
            for label in labels { #expect(r.stdout.contains("| \(label)"), "table lacks \(label): \(r.stdout)") }
            for column in ["params", "accuracy", "step validity", "pass@1", "pass@2", "tokens/s", "accuracy vs teacher"] { #expect(r.stdout.contains(column), "\(column)") }
            #expect(r.stdout.contains("note: stage-1-teacher-traces.h5"), "\(r.stdout)")

            let json = try #require(try readJSONObject(dir + "/report.json"))
            #expect(Set(json.keys) == ["kind", "created_utc", "run_directory", "suite", "config", "notes", "rows"])
            let rows = json["rows"] as? [[String: Any]] ?? []
            #expect(rows.compactMap { $0["label"] as? String } == labels)
            #expect(rows.compactMap { $0["role"] as? String } == ["teacher", "student", "student", "student", "baseline"])
            #expect(rows.compactMap { $0["stage_index"] as? Int } == [0, 2, 3, 4, 5])
            #expect(rows.compactMap { ($0["file"] as? String).map { ($0 as NSString).lastPathComponent } }
                    == ["stage-0-teacher-sft.h5", "stage-2-output-distill.h5", "stage-3-feature-align.h5", "stage-4-ppo-trace.h5", "stage-5-baseline-ce.h5"])
            for (row, label) in zip(rows, labels) {
                #expect(Set(row.keys) == ["label", "role", "file", "stage_index", "stage_kind", "parameters", "model_bytes", "accuracy",
                                          "step_validity", "pass_at_k", "tokens_per_second", "accuracy_vs_teacher",
                                          "step_validity_vs_teacher", "kl_to_teacher", "model"], "row keys: \(row.keys.sorted())")
                // the teacher has no KL to itself; every other row has a finite, non-negative one
                if label == labels[0] { #expect(row["kl_to_teacher"] is NSNull) } else {
                    #expect(((row["kl_to_teacher"] as? Double) ?? -1) >= 0, "\(label): \(String(describing: row["kl_to_teacher"]))")
                }
                #expect((row["pass_at_k"] as? [[String: Any]])?.compactMap { $0["k"] as? Int } == [1, 2])
                checkModel(row["model"] as? [String: Any] ?? [:], label: label, problems: 4, samples: 2, ks: [1, 2])
            }
            #expect(rows.first?["parameters"] as? Int == teacher.parameterCount)
            let markdown = try String(contentsOfFile: dir + "/report.md", encoding: .utf8)
            #expect(markdown.contains("| row") && markdown.contains("| baseline (CE only)") && markdown.contains("## Definitions"), "\(markdown)")
            #expect(FileManager.default.fileExists(atPath: dir + "/completions.jsonl"))
        }
    }

    @Test("report: missing folder, no stage files, a baseline file without a baseline: typed messages, non-zero exit")
    func reportBadInputs() throws {
        guard let distill = requireDistill() else { return }
        try withScratchFolder("cli-report-bad") { dir in
            let run = { (folder: String) in try runDistill(distill, ["report", folder, "--limit", "2", "--samples", "0", "--max-new-tokens", "4", "--quiet"]) }
            expectCleanFailure(try run(dir + "/nothing"), [dir + "/nothing", "no such folder"])
            try writeCheckpoint(dir + "/step-10.h5", roles: [("student", try tinyModel(seed: 1))])
            expectCleanFailure(try run(dir), ["no stage checkpoints", "1 periodic step-<N>.h5", "distill resume"])
            try writeCheckpoint(dir + "/stage-0-baseline-ce.h5", roles: [("student", try tinyModel(seed: 1))])
            expectCleanFailure(try run(dir), [dir + "/stage-0-baseline-ce.h5", "no model role 'baseline'"])
        }
    }
}
