import ArgumentParser
import Checkpoint
import Foundation
import Model
import Tensor

// OpenBLAS picks its kernels and starts its worker threads when the library loads, before any Swift code runs:
// 0.3.21 mis-detects the AVX-512 machines as a slow "Prescott", and an unused worker would spin on the other core
// for the first 0.13 s. Re-execute once with OPENBLAS_CORETYPE set to the core this CPU runs and
// OPENBLAS_NUM_THREADS=1 (BLASEnvironment); a user's own values win.
BLASEnvironment.reexecIfNeeded()

// Standard output line by line even into a file or pipe: the resolved curriculum printed at the start of a run
// must land before the stage logs (on standard error), and survive a SIGKILL.
setvbuf(stdout, nil, _IOLBF, 0)

// A file-size limit (`ulimit -f`) must make a write fail with EFBIG, which the writers report with the path and the
// cause, instead of killing the process with SIGXFSZ in the middle of a checkpoint.
signal(SIGXFSZ, SIG_IGN)

// The vocabulary from which the training stages use the fused output layer (`OutputChunking.minimumVocabulary`);
// tests set 0 to run the fused path on small models.
if let text = ProcessInfo.processInfo.environment["TRACEDISTILL_FUSED_MIN_VOCAB"] {
    guard let n = Int(text), n >= 0 else {
        FileHandle.standardError.write(Data("Error: TRACEDISTILL_FUSED_MIN_VOCAB=\(text): give a whole number >= 0 (0: always fused)\n".utf8))
        exit(64)
    }
    OutputChunking.minimumVocabulary = n
}

/// The `distill` command: staged reasoning distillation on a CPU.
struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distill step-by-step reasoning from a teacher transformer into a small student, on a CPU.",
        // the OpenBLAS it runs too: the scipy-openblas32 wheel's or Debian's, as the build chose (README, "Build facts")
        version: "\(libraryVersion) (OpenBLAS \(BLAS.version), \(BLAS.coreName) core, \(BLAS.libraryPath))",
        subcommands: [BenchCommand.self, InitCommand.self, ImportCommand.self, ExportCommand.self, QuantizeCommand.self, GenerateCommand.self, InspectCommand.self, ScoreCommand.self,
                      GenerateDataCommand.self, VerifyCommand.self, RunCommand.self, ResumeCommand.self,
                      StatusCommand.self, EvalCommand.self, ReportCommand.self, PlotCommand.self])
}

Distill.main()
