import Foundation
import Model
import Tensor

/// Throughput and peak memory at the scale of a real small language model, the shapes of
/// ../shared/anchors/torch_anchor_lm.py: SmolLM2-135M's architecture (30 layers, d 576, 9 / 3 heads, MLP 1536,
/// vocabulary 49,152, tied embeddings, RoPE theta 100,000), randomly initialised; the student is the teacher cut
/// to every third layer (10 layers); batch 8 x 256. Each phase runs in a child process of its own (`distill bench
/// --lm-phase NAME`), so its peak RSS (VmHWM) is the phase's alone, as the anchor measures its phases.
struct LMBench {
    let reps: Int
    static let phases = ["score", "train", "distill", "distill_topk", "generate"]
    /// Parts `--lm-phase` runs that the lm phase does not: `products` (`FewRowProductBench`) and `generate_split`
    /// (the generate shape as one batch against `splitParts` fixed batches one after the other).
    static let extraPhases = ["products", "generate_split"]
    /// The fixed batches of `generate_split`: the shipped curricula's `run.gradient_shards`.
    static let splitParts = 4
    static let batch = 8, length = 256, studentLayers = 10
    static let prompts = 16, promptLength = 64, newTokens = 64
    static let teacher = TransformerConfig(vocabSize: 49_152, hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30,
                                           numAttentionHeads: 9, numKeyValueHeads: 3, rmsNormEps: 1e-5, ropeTheta: 100_000,
                                           maxPositionEmbeddings: 8192, tieWordEmbeddings: true)

    /// Runs each phase in a child process of this executable and adds its figures under `lm_` names.
    func run(into report: inout BenchReport, threads: Int, blasThreads: Int, log: (String) -> Void) throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        for phase in Self.phases {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: exe)
            child.arguments = ["bench", "--lm-phase", phase, "--reps", String(reps), "--threads", String(threads), "--blas-threads", String(blasThreads)]
            let pipe = Pipe()
            child.standardOutput = pipe
            try child.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            child.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            guard child.terminationStatus == 0, let line = text.split(separator: "\n").last,
                  let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw BenchFailure(message: "lm phase \(phase) failed (exit status \(child.terminationStatus)); its output ended: \(text.suffix(500))")
            }
            var figures: [String: Double] = [:]
            for (key, value) in object { figures[key] = (value as? NSNumber)?.doubleValue ?? (value as? Double) }
            for key in figures.keys.sorted() { report["lm_" + key] = .double(figures[key]!) }
            log(String(format: "lm %@: %.1f tok/s, peak RSS %.0f MB", phase, figures.first { $0.key.hasSuffix("tok_s") }?.value ?? 0,
                       figures["peak_rss_mb_" + phase] ?? 0))
        }
    }

    /// One phase in this process; returns its figures (the anchor's names, without `lm_`), peak RSS included.
    func runPhase(_ phase: String) throws -> [String: Double] {
        var rng = RandomGenerator(seed: 0)
        let b = Self.batch, t = Self.length, v = Self.teacher.vocabSize
        var data = RandomGenerator(seed: 1)
        let x = (0..<(b * t)).map { _ in Int32(data.nextInt(below: v)) }
        // position j predicts token j + 1; the last position of each row has no target (as the anchor's [:, :-1])
        let y = (0..<(b * t)).map { $0 % t == t - 1 ? Int32(-100) : x[$0 + 1] }
        var out: [String: Double] = [:]
        switch phase {
        case "score":
            let teacher = try Transformer(config: Self.teacher, rng: &rng)
            let s = medianSeconds(reps: reps, warmup: 1, minSample: 0) { _ = Self.score(teacher, x: x, y: y) }
            out["score_tok_s"] = Double(b * t) / s
            out["score_ms"] = s * 1e3
        case "train":
            var config = Self.teacher
            config.numHiddenLayers = Self.studentLayers  // built directly, as the anchor's student: no teacher in memory
            let student = try Transformer(config: config, rng: &rng)
            let opt = AdamW(store: student.parameters, weightDecay: 0.01)
            let models = ReplicaSet(student) { $0.replica() }
            let step = TrainingStep(BenchObjective(length: t, stores: { [models[$0].parameters] }) { r, shard in
                let m = models[r]
                let h = m.forwardHidden(tokens: shard.x, batch: shard.rows, length: t).finalHidden
                return fusedOutputLoss(hidden: h, weight: m.fusedOutputWeight!, targets: shard.y, terms: .crossEntropy()).loss
            })
            let s = medianSeconds(reps: reps, warmup: 1, minSample: 0) {
                step.benchGradients(BenchObjective.Batch(x: x, y: y, rows: b))
                opt.step(learningRate: 1e-4)
            }
            out["train_student_tok_s"] = Double(b * t) / s
            out["train_student_ms"] = s * 1e3
        case "distill":
            let teacher = try Transformer(config: Self.teacher, rng: &rng)
            let student = try teacher.cut(layers: Self.studentLayerList)
            let opt = AdamW(store: student.parameters, weightDecay: 0.01)
            let students = ReplicaSet(student) { $0.replica() }
            let terms = OutputLossTerms(distillationWeight: 0.5, crossEntropyWeight: 0.5, temperature: 2)
            let step = TrainingStep(BenchObjective(length: t, stores: { [students[$0].parameters] }) { r, shard in
                let th = withNoGrad { teacher.forwardHidden(tokens: shard.x, batch: shard.rows, length: t).finalHidden }
                let m = students[r]
                let h = m.forwardHidden(tokens: shard.x, batch: shard.rows, length: t).finalHidden
                // the KL over the rows with a target, as the anchor's [:, :-1]
                return fusedOutputLoss(hidden: h, weight: m.fusedOutputWeight!, teacherHidden: th, teacherWeight: teacher.fusedOutputWeight!,
                                       targets: shard.y, rowMask: shard.y.map { $0 >= 0 }, terms: terms).loss
            })
            let s = medianSeconds(reps: reps, warmup: 1, minSample: 0) {
                step.benchGradients(BenchObjective.Batch(x: x, y: y, rows: b))
                opt.step(learningRate: 1e-4)
            }
            out["distill_tok_s"] = Double(b * t) / s
            out["distill_ms"] = s * 1e3
        case "distill_topk":
            // the student's step alone on cached top-k targets (k 64, T 2, 0.5 KL + 0.5 CE; synthetic targets, see
            // `TopKDistillationStep`): the teacher does not run, so it is compared with the anchor's full distill
            var config = Self.teacher
            config.numHiddenLayers = Self.studentLayers
            let student = try Transformer(config: config, rng: &rng)
            // the synthetic inputs of `TopKDistillationStep`, run as the stages run a top-k step: TrainingStep's shards,
            // each shard's rows' cached targets sliced out as `TopKTargetsSource` does
            let data = TopKDistillationStep(student: student, batch: b, length: t, k: 64, temperature: 2, alpha: 0.5)
            let k = data.targets.k
            let students = ReplicaSet(student) { $0.replica() }
            let step = TrainingStep(BenchObjective(length: t, stores: { [students[$0].parameters] }) { r, shard in
                let n = shard.rows * t, lo = shard.first * t
                let targets = TopKTargets(k: k, temperature: data.targets.temperature, positions: Array(0..<n),
                                          logProbs: Array(data.targets.logProbs[(lo * k)..<((lo + n) * k)]),
                                          ids: Array(data.targets.ids[(lo * k)..<((lo + n) * k)]),
                                          leftover: Array(data.targets.leftover[lo..<(lo + n)]))
                return TopKDistillationStep.loss(student: students[r], tokens: shard.x, batch: shard.rows, length: t, labels: shard.y,
                                                 targets: targets, temperature: data.temperature, alpha: data.alpha)
            })
            let opt = AdamW(store: student.parameters, weightDecay: 0.01)
            let s = medianSeconds(reps: reps, warmup: 1, minSample: 0) {
                step.benchGradients(BenchObjective.Batch(x: data.tokens, y: data.labels, rows: b))
                opt.step(learningRate: 1e-4)
            }
            out["distill_topk_tok_s"] = Double(data.tokensPerStep) / s
            out["distill_topk_ms"] = s * 1e3
        case "generate":
            let teacher = try Transformer(config: Self.teacher, rng: &rng)
            let prompts = (0..<Self.prompts).map { _ in (0..<Self.promptLength).map { _ in Int32(data.nextInt(below: v)) } }
            let options = SamplingOptions.greedy(maxNewTokens: Self.newTokens, stopTokens: [])
            var none = RandomGenerator(seed: 2)
            let s = medianSeconds(reps: max(2, reps / 2), warmup: 1, minSample: 0) {
                _ = teacher.generate(prompts: prompts, options: options, rng: &none)
            }
            out["generate_tok_s"] = Double(Self.prompts * Self.newTokens) / s
            out["generate_ms"] = s * 1e3
        case "generate_split":
            // What a RowSplit costs one process on a model that decodes as one batch (540 MB of weights): the same 16
            // prompts as `generate`, decoded as one batch and as 4 fixed batches one after the other (each reading the
            // weights once per token), in interleaved rounds; and whether every row came out the same bits both ways.
            let teacher = try Transformer(config: Self.teacher, rng: &rng)
            let prompts = (0..<Self.prompts).map { _ in (0..<Self.promptLength).map { _ in Int32(data.nextInt(below: v)) } }
            let options = SamplingOptions.greedy(maxNewTokens: Self.newTokens, stopTokens: [])
            let streams = Array(repeating: RandomGenerator(seed: 2), count: prompts.count)
            let split = RowSplit.inOneProcess(parts: Self.splitParts)
            var one = teacher.generate(prompts: prompts, options: options, streams: streams)
            var parts = try teacher.generate(prompts: prompts, options: options, streams: streams, split: split)
            out["generate_split_same_bits"] = one.tokens == parts.tokens && one.logProbs.map { $0.map(\.bitPattern) } == parts.logProbs.map { $0.map(\.bitPattern) }
                && one.entropies.map { $0.map(\.bitPattern) } == parts.entropies.map { $0.map(\.bitPattern) } ? 1 : 0
            var oneSeconds: [Double] = [], partSeconds: [Double] = []
            for _ in 0..<max(3, reps) {
                var t0 = DispatchTime.now().uptimeNanoseconds
                one = teacher.generate(prompts: prompts, options: options, streams: streams)
                oneSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                t0 = DispatchTime.now().uptimeNanoseconds
                parts = try teacher.generate(prompts: prompts, options: options, streams: streams, split: split)
                partSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            let median = { (x: [Double]) -> Double in
                let s = x.sorted()
                return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            }
            out["generate_one_batch_ms"] = median(oneSeconds) * 1e3
            out["generate_parts\(Self.splitParts)_ms"] = median(partSeconds) * 1e3
            out["generate_one_batch_tok_s"] = Double(Self.prompts * Self.newTokens) / median(oneSeconds)
            out["generate_parts\(Self.splitParts)_tok_s"] = Double(Self.prompts * Self.newTokens) / median(partSeconds)
        case "products":
            return try FewRowProductBench(reps: reps).run()
        default:
            throw BenchFailure(message: "unknown lm phase \"\(phase)\"; one of \(Self.phases.joined(separator: ", "))")
        }
        out["peak_rss_mb_" + phase] = try Self.peakResidentMegabytes()
        return out
    }

    static var studentLayerList: [Int] { Transformer.everyKthLayer(teacher.numHiddenLayers / studentLayers, of: teacher.numHiddenLayers) }

    /// Teacher forward without gradients, then log p(next token) per position through the chunked output layer.
    static func score(_ model: Transformer, x: [Int32], y: [Int32]) -> [Float] {
        let halves = Parallel.halves(Array(0..<batch))
        var parts = [[Float]](repeating: [], count: halves.count)
        withNoGrad {
            parts.withUnsafeMutableBufferPointer { parts in
                Parallel.split(halves.count) { i in
                    let rows = halves[i], span = rows.first! * length..<(rows.last! + 1) * length
                    let h = model.forwardHidden(tokens: Array(x[span]), batch: rows.count, length: length).finalHidden
                    parts[i] = tokenLogProbs(hidden: h, weight: model.fusedOutputWeight!, targets: Array(y[span]))
                }
            }
        }
        return parts.flatMap { $0 }
    }

    /// This process's peak resident set (VmHWM of /proc/self/status) in MB (2^20 bytes, as ru_maxrss / 1024).
    static func peakResidentMegabytes() throws -> Double {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") else {
            throw BenchFailure(message: "/proc/self/status has no VmHWM line: peak RSS cannot be measured on this system")
        }
        return kb / 1024
    }
}

/// A bench phase that could not run.
struct BenchFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
