import ArgumentParser
import FileErrors
import Foundation
import Model
import Tensor

/// `distill bench`: measures this machine's kernels and training steps; one flat JSON object last.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm, elementwise kernels and training throughput on this machine.",
        discussion: """
            Prints one figure per line, then (with --json) one flat JSON object as the last line. Key names \
            match ../shared/anchors/torch_anchor.py where both measure the same thing. Timings are medians \
            over --reps samples; compare ratios within one run, the machine is shared and noisy.
            """)

    @Flag(help: "Print the figures as one JSON object on the last line.")
    var json = false

    // parsing: .unconditional on numeric options: `--count -5` reaches validation ("must be at least 1, got -5")
    // instead of being taken for an unknown option `-5` ("Missing value for '--count'").
    @Option(parsing: .unconditional, help: "Timed samples per figure (the median is reported).")
    var reps = 10

    @Option(parsing: .unconditional, help: "Worker threads for products and row kernels (OpenBLAS itself runs single-threaded).")
    var threads = 2

    @Option(parsing: .unconditional, help: "Let OpenBLAS thread products itself with this many threads instead of splitting them (0: split).")
    var blasThreads = 0

    @Option(help: "Comma-separated phases to run: kernels, model, checkpoint, ppo, tokenize, topk-cache (model needs kernels' sgemm peak); lm (SmolLM2-135M's shape, each part in a child process, not run by default); mpi (gradient sums across 2 ranks under mpirun, on this host and, as root, across two network namespaces; not run by default).")
    var phases = "kernels,model,checkpoint,ppo,tokenize"

    // The child process of one lm part (score, train, distill, generate): prints its figures as JSON and exits.
    @Option(help: .hidden)
    var lmPhase: String?

    // A rank of the mpi phase's mpirun job: rank 0 prints its figures as JSON.
    @Flag(help: .hidden)
    var mpiWorker = false

    @Option(help: "For tokenize: a tokenizer.json or GGUF file (default: SmolLM2's GGUF from `make smollm2`, else the SmolLM-style test tokenizer).")
    var tokenizer: String?

    @Option(help: "For tokenize: GSM8K's train.jsonl.")
    var text = "../shared/data/gsm8k/train.jsonl"

    @Option(help: "For tokenize: also write the tokenizer as tokenizer.json here (scripts/compare_tokenizers.py loads it in the library).")
    var tokenizerExport: String?

    @Option(help: "Folder for the checkpoint save/load measurement (same disk as your checkpoints).")
    var scratch = "checkpoints"

    @Option(help: "Also write the JSON object to this file.")
    var out: String?

    var selectedPhases: [String] { phases.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1, got \(reps)") }
        guard (0...64).contains(blasThreads) else { throw ValidationError("--blas-threads must be in 0...64, got \(blasThreads)") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be in 1...64, got \(threads)") }
        let known: Set<String> = ["kernels", "model", "checkpoint", "ppo", "tokenize", "topk-cache", "lm", "mpi"]
        for p in selectedPhases where !known.contains(p) {
            throw ValidationError("--phases: unknown phase \"\(p)\"; choose from kernels, model, checkpoint, ppo, tokenize, topk-cache, lm, mpi")
        }
        if let lmPhase, !(LMBench.phases + LMBench.extraPhases).contains(lmPhase) {
            throw ValidationError("--lm-phase: unknown part \"\(lmPhase)\"; choose from \((LMBench.phases + LMBench.extraPhases).joined(separator: ", "))")
        }
        if selectedPhases.contains("model") && !selectedPhases.contains("kernels") {
            throw ValidationError("--phases: model needs kernels (MFU is measured against the sgemm peak of the same run)")
        }
    }

    func run() throws {
        try reportingErrors { try measure() }
    }

    private func measure() throws {
        Parallel.threads = threads
        if blasThreads > 0 { BLAS.useOpenBLASThreading(blasThreads) } else { BLAS.useSingleThread() }
        if let lmPhase {
            try printJSON(try LMBench(reps: reps).runPhase(lmPhase))
            return
        }
        if mpiWorker {
            if let figures = try MPIBench.worker(reps: reps) { try printJSON(figures) }
            return
        }
        var report = BenchReport()
        report["blas_core"] = .string(BLAS.coreName)
        // threads a product runs on: ours when sgemm splits products, OpenBLAS's own otherwise
        report["blas_threads"] = .int(Parallel.splitProducts ? Parallel.threads : BLAS.threads)
        report["openblas_internal_threads"] = .int(BLAS.threads)
        report["threads"] = .int(Parallel.threads)
        report["openblas_coretype_env"] = .string(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "")
        report["openblas_num_threads_env"] = .string(ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "")
        report["blas_version"] = .string(BLAS.version)
        report["blas_library"] = .string(BLAS.libraryPath)
        // which few-row kernel a decoding step's products take here (wideChains, wide, chains or narrow: FewRowKernel)
        report["few_row_kernel"] = .string("\(FewRowKernel.native)")
        // whether decoding loops over weights under 256 KB pack them for the `panels` kernel (AVX-512 builds)
        report["few_row_panels"] = .bool(FewRowPanels.isAvailable)
        let log: (String) -> Void = { line in
            FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
        }
        let say: (String) -> Void = json ? log : { print($0) }
        say("OpenBLAS \(BLAS.version), \(BLAS.coreName) core (\(BLAS.libraryPath))")
        if selectedPhases.contains("kernels") { KernelBench(reps: reps).run(into: &report, log: say) }
        if selectedPhases.contains("model"), case .double(let peak)? = report["sgemm_peak_gflops"] {
            try ModelBench(reps: reps).run(into: &report, sgemmPeak: peak, log: say)
        }
        if selectedPhases.contains("checkpoint") {
            try CheckpointBench(reps: reps, folder: scratch).run(into: &report, log: say)
        }
        if selectedPhases.contains("ppo") { try PPOBench(reps: reps).run(into: &report, log: say) }
        if selectedPhases.contains("topk-cache") { try TopKCacheBench(reps: reps, folder: scratch).run(into: &report, log: say) }
        if selectedPhases.contains("lm") {
            try LMBench(reps: reps).run(into: &report, threads: threads, blasThreads: blasThreads, log: say)
        }
        if selectedPhases.contains("mpi") { try MPIBench(reps: reps).run(into: &report, log: say) }
        if selectedPhases.contains("tokenize") {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
            try TokenizeBench(reps: min(reps, 5), tokenizerPath: tokenizer ?? TokenizeBench.defaultTokenizer(packageRoot: root),
                              textPath: text, export: tokenizerExport).run(into: &report, log: say)
        }
        let text = report.json()
        if json { print(text) }
        if let out {
            do { try (text + "\n").write(toFile: out, atomically: false, encoding: .utf8) } catch {
                throw ValidationError("cannot write --out \(out): "
                                      + WriteFailure.diagnose(path: out, target: .file, error: error, exampleName: "bench.json").reason)
            }
        }
    }
}

/// An insertion-ordered flat JSON object of benchmark figures.
struct BenchReport {
    enum Value {
        case string(String), int(Int), double(Double), bool(Bool)
        var json: String {
            switch self {
            case .string(let s): return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"") + "\""
            case .int(let i): return String(i)
            case .double(let d): return d.isFinite ? String(format: "%.6g", d) : "null"
            case .bool(let b): return b ? "true" : "false"
            }
        }
    }
    private(set) var keys: [String] = []
    private var values: [String: Value] = [:]

    subscript(key: String) -> Value? {
        get { values[key] }
        set {
            if values[key] == nil { keys.append(key) }
            values[key] = newValue
        }
    }

    func json() -> String {
        "{" + keys.map { "\"\($0)\": \(values[$0]!.json)" }.joined(separator: ", ") + "}"
    }
}

/// Median wall time of `body` over `reps` samples; each sample repeats the call until it lasts at
/// least `minSample` seconds so short kernels are timed above the clock's noise.
func medianSeconds(reps: Int, warmup: Int = 2, minSample: Double = 0.05, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    let once = max(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, 1e-7)
    let inner = max(1, Int(minSample / once))
    var samples: [Double] = []
    for _ in 0..<reps {
        let s = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<inner { body() }
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9 / Double(inner))
    }
    samples.sort()
    return samples.count % 2 == 1 ? samples[samples.count / 2]
        : (samples[samples.count / 2 - 1] + samples[samples.count / 2]) / 2
}

/// sgemm and the memory-bound elementwise kernels.
struct KernelBench {
    let reps: Int

    func run(into report: inout BenchReport, log: (String) -> Void) {
        var rng = RandomGenerator(seed: 0)
        var peak = 0.0
        for (m, k, n) in [(2048, 256, 768), (1024, 1024, 1024), (2048, 128, 384)] {
            let a = Tensor.randn([m, k], rng: &rng), b = Tensor.randn([k, n], rng: &rng)
            let c = Tensor.uninitialized([m, n])
            let s = medianSeconds(reps: reps) {
                sgemm(transA: false, transB: false, m: m, n: n, k: k, a: a.ptr, lda: k, b: b.ptr, ldb: n,
                      beta: 0, c: c.ptr, ldc: n)
            }
            let gflops = 2.0 * Double(m * k * n) / s / 1e9
            peak = max(peak, gflops)
            report["sgemm_\(m)x\(k)x\(n)_gflops"] = .double(gflops)
            log(String(format: "sgemm %dx%dx%d: %.1f GFLOP/s", m, k, n, gflops))
        }
        report["sgemm_peak_gflops"] = .double(peak)

        // Memory-bound kernels over a 2048x1024 tensor: bytes = one read + one write of the tensor.
        let x = Tensor.randn([2048, 1024], rng: &rng)
        let w = Tensor.full([1024], 1)
        let bytes = Double(2 * x.count * 4)
        let kernels: [(String, () -> Void)] = [
            ("softmax", { _ = withNoGrad { softmax(x) } }),
            ("rmsnorm", { _ = withNoGrad { rmsNorm(x, weight: w, eps: 1e-6) } }),
            ("silu", { _ = withNoGrad { silu(x) } }),
        ]
        for (name, body) in kernels {
            let s = medianSeconds(reps: reps, body)
            report["\(name)_gb_s"] = .double(bytes / s / 1e9)
            log(String(format: "%@ 2048x1024: %.2f GB/s", name, bytes / s / 1e9))
        }
    }
}
