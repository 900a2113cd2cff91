import ArgumentParser
import Checkpoint
import Data
import Distributed
import Eval
import Foundation
import Model
import Stages

extension SuiteFormat: ExpressibleByArgument {}

/// The options `distill eval` and `distill report` share: the suite, decoding and sampling settings, output.
struct EvalOptions: ParsableArguments {
    @Option(help: "The suite: math-proof (built-in, held out) or a JSONL file in trace, GSM8K or MATH-500 format.")
    var suite = MathProofSuite.name

    @Option(help: "The suite file's format: auto (from the first row's fields), traces, gsm8k or math500.")
    var format: SuiteFormat = .auto

    // parsing: .unconditional on numeric options: `--count -5` reaches validation ("must be at least 1, got -5")
    // instead of being taken for an unknown option `-5` ("Missing value for '--count'").
    @Option(parsing: .unconditional, help: "Difficulty 1...5 of the built-in math-proof suite (default 1, as a curriculum's data); only with --suite math-proof.")
    var difficulty: Int?

    @Option(help: "Comma-separated domains of the built-in math-proof suite, e.g. addition,subtraction (default: all 8); only with --suite math-proof.")
    var domain: String?

    @Option(parsing: .unconditional, help: "Evaluate only the first N problems (math-proof interleaves domains, so they stay balanced).")
    var limit: Int?

    @Option(parsing: .unconditional, help: "Problems per domain of a built-in suite (math-proof, and report's run suite); more problems, less noise. (default: 40)")
    var perDomain: Int?

    @Option(parsing: .upToNextOption, help: "The k values of pass@k and maj@k, each at most --samples, e.g. --k 1 4 8 (default: 1 and --samples).")
    var k: [Int] = []

    @Option(parsing: .unconditional, help: "Sampling temperature for pass@k and maj@k (greedy decoding is always run as well).")
    var temperature: Float = 0.6

    @Option(parsing: .unconditional, help: "Nucleus sampling threshold in (0, 1]; 1 turns it off.")
    var topP: Float = 0.95

    @Option(parsing: .unconditional, help: "Most new tokens per answer (the model's context also caps it).")
    var maxNewTokens = 320

    @Option(parsing: .unconditional, help: "Problems (or samples) decoded together; latency per problem is its batch's time, so 1 gives unbatched latency.")
    var batchSize = 16

    @Option(parsing: .unconditional, help: "Seed of the sampling generator.")
    var seed: UInt64 = 0

    @Option(help: "Training data files (any suite format) the suite must not share a question with; repeatable.")
    var trainData: [String] = []

    @Option(help: "Folder for report.json, report.md and completions.jsonl.")
    var out: String?

    @Flag(help: "Do not print progress to stderr.")
    var quiet = false

    /// The evaluation settings with `samples` sampled answers per problem.
    func config(samples: Int) -> EvalConfig {
        EvalConfig(maxNewTokens: maxNewTokens, batchSize: batchSize, samples: samples, ks: k, temperature: temperature,
                   topP: topP, seed: seed)
    }

    /// Checks the options that do not need files.
    func check(samples: Int) throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let perDomain {
            guard suite == MathProofSuite.name || suite == "run" else {
                throw ValidationError("--per-domain sizes a built-in suite; a suite file has its own problems (drop --per-domain, or use --limit)")
            }
            guard perDomain >= 1 else { throw ValidationError("--per-domain must be at least 1, got \(perDomain)") }
        }
        if let difficulty {
            guard suite == MathProofSuite.name else { throw builtInOnly("--difficulty", "sets the built-in math-proof suite", runSetting: "difficulty") }
            guard TaskDomain.difficultyLevels.contains(difficulty) else { throw ValidationError("--difficulty must be in 1...5, got \(difficulty)") }
        }
        if let domain {
            guard suite == MathProofSuite.name else { throw builtInOnly("--domain", "picks domains of the built-in math-proof suite", runSetting: "domains") }
            do { _ = try TaskDomain.parseList(domain) } catch let DataError.invalidSetting(_, reason) { throw ValidationError("--domain: \(reason)") }
        }
        do { try config(samples: samples).validate() } catch let e as EvalError { throw ValidationError(e.description) }
    }

    /// The error for an option only the built-in math-proof suite takes: a suite file has its own problems,
    /// and report's run suite the run's own `runSetting`.
    private func builtInOnly(_ option: String, _ purpose: String, runSetting: String) -> ValidationError {
        ValidationError("\(option) \(purpose); "
                        + (suite == "run" ? "the run suite uses the run's own \(runSetting)" : "a suite file has its own problems") + " (drop \(option))")
    }

    /// The suite, limited and checked against the training files.
    func loadSuite() throws -> EvalSuite {
        let mathProof = MathProofSuite(domains: try domain.map(TaskDomain.parseList) ?? TaskDomain.allCases,
                                       countPerDomain: perDomain ?? MathProofSuite.defaultCountPerDomain, difficulty: difficulty ?? 1)
        let suite = try EvalSuite.resolve(self.suite, format: format, mathProof: mathProof).limited(to: limit)
        for path in trainData { try suite.checkDisjoint(from: try EvalSuite.load(path: path)) }
        return suite
    }

    /// A progress printer on stderr (every 10% and at the end), or nil with --quiet.
    func progressPrinter() -> ((EvalProgress) -> Void)? {
        guard !quiet else { return nil }
        var lastShown: [String: Int] = [:]
        return { event in
            let (label, phase, done, total): (String, String, Int, Int)
            switch event {
            case .greedy(let l, let d, let t): (label, phase, done, total) = (l, "greedy", d, t)
            case .sampling(let l, let d, let t): (label, phase, done, total) = (l, "sampling", d, t)
            }
            let key = label + phase, tenth = total > 0 ? done * 10 / total : 10
            guard tenth > lastShown[key, default: -1] || done == total else { return }
            lastShown[key] = tenth
            FileHandle.standardError.write(Data("\(label): \(phase) \(done)/\(total)\n".utf8))
        }
    }
}

/// `distill eval`: a checkpoint's model(s) on a suite, written as report.json / report.md.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint's student and/or teacher on a math/proof suite and write report.json and report.md.",
        discussion: """
            Greedy decoding gives final-answer accuracy, step validity (claims that verify exactly), rows whose every \
            claim verifies, the first invalid step, step F1 with the reference, steps and tokens per answer, per-domain \
            results, tokens/s and latency. With --samples N each problem is also sampled N times for pass@k (Chen et \
            al. 2021) and maj@k (majority answer; ties go to the answer seen first). With --role both the teacher and \
            the student are compared side by side with student / teacher for every metric. The report goes to \
            --out, by default eval-<suite> beside the checkpoint.

            Suites: math-proof is built in: 320 problems, 40 (--per-domain) from each of the 8 generated domains \
            (addition, subtraction, multiplication, linear, gcd, modular, divisibility, parity; --domain picks some) at --difficulty 1 (as a curriculum's data by default), drawn only from \
            the test split (assigned by a hash of the question, so no training file can hold them) with a reserved \
            seed, and checked again on load. A FILE.jsonl suite may be in trace, GSM8K or MATH-500 format.
            """)

    @Option(help: "The checkpoint file (.h5).")
    var checkpoint: String

    @Option(help: "The model role: student, teacher, both (teacher and student side by side), or any role in the file.")
    var role = "student"

    @Option(parsing: .unconditional, help: "Sampled answers per problem for pass@k and maj@k (0: greedy only).")
    var samples = 0

    @OptionGroup var options: EvalOptions

    func validate() throws {
        guard !role.isEmpty else { throw ValidationError("--role must name a role (student, teacher or both)") }
        try options.check(samples: samples)
    }

    func run() throws {
        try reportingErrors {
            let group = try Launch.world()
            let (evaluator, suite, folder, roles) = try group.together {
                let evaluator = try Evaluator(config: options.config(samples: samples))
                let suite = try options.loadSuite()
                let folder = options.out ?? URL(fileURLWithPath: checkpoint).deletingLastPathComponent()
                    .appendingPathComponent("eval-\(suite.name)").path
                // Before the evaluation, not after it: a report that cannot be written fails in a second, not an hour.
                if group.isWriter { try ReportFiles.checkDestination(folder) }
                let available = try CheckpointModelSource().roles(inFile: checkpoint)
                let roles = role == "both" ? ["teacher", "student"] : [role]
                for r in roles where !available.contains(r) {
                    throw EvalError.missingRole(file: checkpoint, role: r, available: available)
                }
                return (evaluator, suite, folder, roles)
            }
            let source = CheckpointModelSource()
            let progress = group.isWriter ? options.progressPrinter() : nil
            var reports: [ModelReport] = []
            for r in roles {
                let loaded = try group.together { try source.model(inFile: checkpoint, role: r) }
                reports.append(try evaluator.evaluate(model: loaded.model, codec: loaded.codec, suite: suite, label: r,
                                                      role: r, progress: progress, batches: group.evaluationBatches))
            }
            // under mpirun every rank holds the whole report (each decoded a block of the batches); rank 0 writes it
            guard group.isWriter else { return }
            let report = EvalReport(suite: suite, checkpoint: checkpoint, config: evaluator.config, models: reports)
            try report.write(to: folder)
            print("\(suite.name): \(suite.problems.count) problems (\(suite.source))")
            print(report.summaryTable.text)
            print("wrote \(ReportFiles.names.joined(separator: ", ")) to \(folder)")
        }
    }
}

/// `distill report`: a finished run's table, a row per stage.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Evaluate every stage of a finished run and write one table: teacher, student after each stage, CE-only baseline.",
        discussion: """
            Reads the stage checkpoints the runner keeps in RUN_DIR (stage-<index>-<kind>.h5): the teacher from the \
            teacher-sft stage, the student after every other stage that holds one (output-distill, feature-align, \
            on-policy-distill, ppo-trace, prune, ...), and the baseline from the baseline-ce stage. Columns: params, \
            accuracy, step validity, pass@k, tokens/s; a prune stage's rounds follow in a table of their own. Writes report.json, report.md and completions.jsonl in RUN_DIR (or --out).
            """)

    @Argument(help: "The run folder (holding stage-<index>-<kind>.h5 checkpoints).")
    var runDirectory: String

    @Option(parsing: .unconditional, help: "Sampled answers per problem for pass@k and maj@k (0: greedy only).")
    var samples = 8

    @OptionGroup var options: EvalOptions

    func validate() throws { try options.check(samples: samples) }

    func run() throws {
        try reportingErrors {
            let group = try Launch.world()
            let source = CheckpointModelSource()
            let (evaluator, plan, suite) = try group.together {
                let evaluator = try Evaluator(config: options.config(samples: samples))
                if group.isWriter { try ReportFiles.checkDestination(options.out ?? runDirectory) }
                let plan = try RunReportPlan(runDirectory: runDirectory, source: source, rowOf: StageRegistry.standard.reportRow(ofKind:))
                let suite = options.suite == "run" ? try EvalSuite.ofRun(directory: runDirectory, perDomain: options.perDomain).limited(to: options.limit)
                    : try options.loadSuite()
                return (evaluator, plan, suite)
            }
            var report = try RunReport(runDirectory: runDirectory, plan: plan, suite: suite, evaluator: evaluator, source: source,
                                       progress: group.isWriter ? options.progressPrinter() : nil, batches: group.evaluationBatches)
            // under mpirun every rank holds the whole report (each decoded a block of the batches); rank 0 writes it
            guard group.isWriter else { return }
            report.pruning = try report.pruningRoundsFromCheckpoints()
            let folder = options.out ?? runDirectory
            try report.write(to: folder)
            print("\(suite.name): \(suite.problems.count) problems (\(suite.source))")
            print(report.table.text)
            for rounds in report.pruning { print("\npruning rounds (stage \(rounds.stageIndex)):\n" + rounds.table.text) }
            for note in report.notes { print("note: \(note)") }
            print("wrote \(ReportFiles.names.joined(separator: ", ")) to \(folder)")
        }
    }
}

extension Collective {
    /// How `distill eval` and `distill report` decode their batches: under mpirun each rank a block of them
    /// (`mapInOrder`), gathered in batch order on every rank; one process decodes them all.
    var evaluationBatches: RowSplit.Map {
        { count, body in try self.mapInOrder(count, body) }
    }
}
