import ArgumentParser
import Checkpoint
import Distributed
import Foundation
import Logging
import Stages
import Telemetry
import Tensor

/// The signal that asked the run to stop (0: none). Set from the signal handler, read between steps.
nonisolated(unsafe) private var pendingSignal: Int32 = 0

/// What a rank prints when mpirun ends the job with SIGTERM (made before the handler is installed: a handler may
/// only write(2) bytes that exist).
nonisolated(unsafe) private var endedByMPIRun: [CChar] = []

/// SIGINT and SIGTERM finish the current step, write a checkpoint and exit instead of killing the process.
/// Under mpirun (several ranks) SIGUSR1 does that instead, on every rank at the same step (mpirun forwards SIGUSR1
/// and SIGUSR2 to every rank): mpirun itself answers SIGINT and SIGTERM, and a rank's death, by sending SIGTERM to
/// the ranks, which then cannot finish a step together, so each says how to resume and exits at once.
private func installStopHandlers(group: any Collective, runDirectory: String) {
    var set = sigset_t()
    sigemptyset(&set)
    var graceful = [SIGINT, SIGTERM]
    if group.size > 1 {
        graceful = [SIGUSR1, SIGUSR2]
        endedByMPIRun = Array(("rank \(group.rank) of \(group.size): stopped by mpirun (a rank ended or the job was interrupted: "
            + "mpirun's message names the rank). The newest checkpoint in \(runDirectory) is whole; continue with: "
            + "mpirun -np N distill resume \(runDirectory)\n").utf8CString)
        for s in [SIGINT, SIGTERM] {
            signal(s) { sig in
                if getenv("OMPI_COMM_WORLD_RANK").map({ strcmp($0, "0") == 0 }) ?? false {
                    endedByMPIRun.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
                }
                _exit(128 + sig)
            }
            sigaddset(&set, s)
        }
    }
    for s in graceful {
        signal(s) { pendingSignal = $0 }
        sigaddset(&set, s)
    }
    // a parent may have started us with these blocked (the mask survives exec); a blocked signal would wait forever
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}

func eprint(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs a runner to its end or to a stop signal, and says how to resume.
private func drive(_ runner: CurriculumRunner, runDirectory: String, reporter: RunReporter) throws {
    installStopHandlers(group: runner.group, runDirectory: runDirectory)
    runner.stopRequested = { pendingSignal == 0 ? nil : pendingSignal }
    let outcome: RunOutcome
    do {
        outcome = try runner.run()
    } catch {
        try? reporter.close()
        throw error
    }
    try reporter.close()
    switch outcome {
    case .completed:
        if runner.group.isWriter { print("run completed: \(runDirectory)") }
    case .interrupted(let signal, let checkpoint):
        if runner.group.size > 1 {
            // rank 0's checkpoint is written; no rank may exit before (mpirun ends the job at the first non-zero
            // exit), and the SIGTERM mpirun then sends is no news
            try runner.group.barrier()
            Glibc.signal(SIGTERM, SIG_IGN)
            Glibc.signal(SIGINT, SIG_IGN)
        }
        let launch = runner.group.size > 1 ? "mpirun -np N distill" : "distill"
        if runner.group.isWriter {
            eprint("stopped by signal \(signal) after a checkpoint (\(checkpoint)); continue with: \(launch) resume \(runDirectory)")
        }
        throw ExitCode(128 + signal)
    }
}

/// Runs `start` (making the runner: every rank, together, so a rank that cannot start stops all of them before the
/// first step) and then `drive`. Under mpirun an error every rank learned of together is printed by rank 0 only and
/// every rank exits; any other error on one rank ends the whole job through MPI_Abort, since the others would wait
/// for it in the next collective.
private func runAcrossRanks(_ group: any Collective,
                            start: () throws -> (runner: CurriculumRunner, runDirectory: String, reporter: RunReporter)) throws {
    guard group.size > 1 else {
        let s = try start()
        return try drive(s.runner, runDirectory: s.runDirectory, reporter: s.reporter)
    }
    var agreed = true
    var runDirectory = "DIR"
    do {
        let (runner, dir, reporter) = try group.together(start)
        runDirectory = dir
        agreed = false
        try drive(runner, runDirectory: runDirectory, reporter: reporter)
    } catch let e as ExitCode {
        throw e
    } catch {
        let together: Bool
        if agreed { together = true } else if case DistributedError.rankFailed = error { together = true }
        else if case DistributedError.curriculumMismatch = error { together = true }
        else if case DistributedError.ranksDiverged = error { together = true }
        else if error is TrainingStepError { together = true }  // every rank computes the same shard count
        else { together = false }
        if !together, let world = group as? MPIWorld {
            world.abort(1, message: "\(error). The job stopped on every rank; the newest checkpoint in \(runDirectory) is whole: "
                        + "once the cause is fixed, continue with `mpirun -np N distill resume \(runDirectory)`")
        }
        if !group.isWriter { throw ExitCode(1) }
        throw error
    }
}

/// The threads one process (one rank under mpirun) computes with.
struct ThreadOptions: ParsableArguments {
    // parsing: .unconditional: `--threads -1` reaches validation instead of being taken for an option
    @Option(parsing: .unconditional,
            help: "Worker threads of this process (of each rank under mpirun): batch halves and split products and row kernels (default 2, this machine's cores).")
    var threads = 2

    func validate() throws {
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be in 1...64, got \(threads)") }
    }
}

/// `distill run CURRICULUM.yaml`: a whole curriculum, checkpointed and resumable.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a curriculum (YAML) from the teacher to a distilled student, checkpointing as it goes.",
        discussion: """
            Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes a checkpoint and exits; `distill resume DIR` continues exactly where it stopped.

            Several processes or machines (Open MPI): `mpirun -np N distill run CURRICULUM --run-dir DIR`, and `mpirun -np N distill resume DIR`. \
            On several hosts, give mpirun a hostfile with one rank per host (`host1 slots=1`, one line each), \
            `--map-by ppr:1:node --bind-to none`, and the threads per rank with `--threads C` (C: the host's cores); \
            the run folder and the curriculum's files must be at the same path on every host (a shared folder). \
            Rank 0 writes checkpoints and metrics; a rank that cannot load its data or reads another curriculum stops every rank before the first step. \
            Under mpirun, `kill -USR1 <mpirun pid>` is the graceful stop (checkpoint, then exit on every rank); Ctrl-C ends the job at once.
            """)

    @Argument(help: "The curriculum file, e.g. curricula/smoke.yaml.")
    var curriculum: String

    @Option(help: "The run folder for checkpoints and metrics (default: checkpoints/<curriculum name>).")
    var runDir: String?

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var threading: ThreadOptions

    func run() throws {
        try reportingErrors {
            Parallel.threads = threading.threads
            var logger = logging.logger("tracedistill.run")
            let group = try Launch.world()
            if !group.isWriter { logger.logLevel = .error }  // rank 0 logs the run; the others only their errors
            try runAcrossRanks(group) {
                let c = try Curriculum.load(path: curriculum)
                let dir = runDir ?? "checkpoints/\(c.name)"
                let reporter = RunReporter(runDirectory: dir, logEvery: c.run.logEvery, logger: logger)
                return (try CurriculumRunner(curriculum: c, runDirectory: dir, logger: logger, group: group,
                                             observer: group.isWriter ? reporter.handle : { _ in }), dir, reporter)
            }
        }
    }
}

/// `distill resume DIR`: continue a run from its newest valid checkpoint.
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a run from the newest valid checkpoint in its folder (stage, step, data position, generator, optimizer and controllers restored).")

    @Argument(help: "The run folder.")
    var runDir: String

    @Flag(help: "Continue with the folder's edited curriculum.yaml (the changes are checked, then recorded in the next checkpoint and in metrics.jsonl).")
    var acceptChanges = false

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var threading: ThreadOptions

    func run() throws {
        try reportingErrors {
            Parallel.threads = threading.threads
            var logger = logging.logger("tracedistill.run")
            let group = try Launch.world()
            if !group.isWriter { logger.logLevel = .error }  // rank 0 logs the run; the others only their errors
            let reporter = RunReporter(runDirectory: runDir, logEvery: RunSettings().logEvery, logger: logger)
            try runAcrossRanks(group) {
                let runner = try CurriculumRunner(resuming: runDir, acceptChanges: acceptChanges, logger: logger, group: group,
                                                  observer: group.isWriter ? reporter.handle : { _ in })
                reporter.logEvery = runner.curriculum.run.logEvery  // before the first stage opens the monitor
                return (runner, runDir, reporter)
            }
        }
    }
}

/// `distill status DIR`: where a run stands.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each stage's state, step/total and last metrics, and the newest checkpoint of a run.")

    @Argument(help: "The run folder.")
    var runDir: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            let status = try RunStatus(runDirectory: runDir)
            if json { try printJSON(status.jsonObject) } else { print(status.lines.joined(separator: "\n")) }
        }
    }
}
