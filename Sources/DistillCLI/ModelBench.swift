import Foundation
import Model
import Tensor

/// Training, distillation and sampling throughput on the shapes of ../shared/anchors/torch_anchor.py:
/// teacher 4 layers x 256 (8 heads, MLP 688), student 2 x 128 (4 heads, MLP 344), vocabulary 64,
/// batch 16 x 128, AdamW (lr 3e-4, weight decay 0.01); sampling 16 prompts of 32 tokens + 64 new.
struct ModelBench {
    let reps: Int
    static let batch = 16, length = 128, prompt = 32, newTokens = 64
    static let teacher = TransformerConfig.preset(.teacher, vocab: 64, context: 128)
    static let student = TransformerConfig.preset(.student, vocab: 64, context: 128)

    /// Matmul FLOPs per training token, the anchor's formula: 6 N_mm + 12 L (H hd) T (PaLM-style).
    static func trainFlopsPerToken(_ c: TransformerConfig, length t: Int = length) -> Double {
        let hd = c.headDim
        let nmm = c.numHiddenLayers * (c.hiddenSize * (2 * c.numAttentionHeads + 2 * c.numKeyValueHeads) * hd
                                       + 3 * c.hiddenSize * c.intermediateSize) + c.hiddenSize * c.vocabSize
        return Double(6 * nmm + 12 * c.numHiddenLayers * c.numAttentionHeads * hd * t)
    }

    func run(into report: inout BenchReport, sgemmPeak: Double, log: (String) -> Void) throws {
        var rng = RandomGenerator(seed: 0)
        let tokens = Self.batch * Self.length
        let x = (0..<tokens).map { _ in Int32(rng.nextInt(below: 64)) }
        let y = (0..<tokens).map { _ in Int32(rng.nextInt(below: 64)) }
        for (name, cfg) in [("student", Self.student), ("teacher", Self.teacher)] {
            let model = try Transformer(config: cfg, rng: &rng)
            let opt = AdamW(store: model.parameters, weightDecay: 0.01)
            let models = ReplicaSet(model) { $0.replica() }
            let step = TrainingStep(BenchObjective(length: Self.length, stores: { [models[$0].parameters] }) { r, shard in
                crossEntropy(models[r].forward(tokens: shard.x, batch: shard.rows, length: Self.length).logits, targets: shard.y)
            })
            let s = medianSeconds(reps: reps, warmup: 2, minSample: 0) {
                step.benchGradients(BenchObjective.Batch(x: x, y: y, rows: Self.batch))
                opt.step(learningRate: 3e-4)
            }
            let gflops = Self.trainFlopsPerToken(cfg) * Double(tokens) / s / 1e9
            report["train_\(name)_tok_s"] = .double(Double(tokens) / s)
            report["train_\(name)_gflops"] = .double(gflops)
            report["train_\(name)_mfu"] = .double(gflops / sgemmPeak)
            log(String(format: "train %@: %.0f tok/s, %.1f GFLOP/s, MFU %.2f", name, Double(tokens) / s, gflops, gflops / sgemmPeak))
        }
        try distill(into: &report, x: x, y: y, sgemmPeak: sgemmPeak, rng: &rng, log: log)
        try sample(into: &report, rng: &rng, log: log)
    }

    /// Teacher forward (no grad) + student forward/backward with 0.5 KL(T=2) T^2 + 0.3 hidden MSE + 0.2 CE.
    private func distill(into report: inout BenchReport, x: [Int32], y: [Int32], sgemmPeak: Double,
                         rng: inout RandomGenerator, log: (String) -> Void) throws {
        let teacher = try Transformer(config: Self.teacher, rng: &rng)
        let student = try Transformer(config: Self.student, rng: &rng)
        let map = HiddenProjection.uniformLayerMap(studentLayers: 2, teacherLayers: 4)
        let projection = HiddenProjection(layerMap: map, studentWidth: 128, teacherWidth: 256, rng: &rng)
        let optS = AdamW(store: student.parameters, weightDecay: 0.01)
        let optP = AdamW(store: projection.parameters, weightDecay: 0.01)
        let tokens = Self.batch * Self.length
        let students = ReplicaSet(student) { $0.replica() }, projections = ReplicaSet(projection) { $0.replica() }
        let objective = BenchObjective(length: Self.length, stores: { [students[$0].parameters, projections[$0].parameters] }) { r, shard in
            let t = withNoGrad { teacher.forward(tokens: shard.x, batch: shard.rows, length: Self.length, options: .hiddenStates) }
            let o = students[r].forward(tokens: shard.x, batch: shard.rows, length: Self.length, options: .hiddenStates)
            let kl = distillationLoss(student: o.logits, teacher: t.logits, temperature: 2)
            let mse = projections[r].loss(studentHidden: o.hiddenStates, teacherHidden: t.hiddenStates)
            let ce = crossEntropy(o.logits, targets: shard.y)
            return add(add(scale(kl, 0.5), scale(mse, 0.3)), scale(ce, 0.2))
        }
        let step = TrainingStep(objective)
        let s = medianSeconds(reps: reps, warmup: 2, minSample: 0) {
            step.benchGradients(BenchObjective.Batch(x: x, y: y, rows: Self.batch))
            optS.step(learningRate: 3e-4)
            optP.step(learningRate: 3e-4)
        }
        // the anchor's count: teacher forward (train / 3) + student training + the projections
        let flops = Self.trainFlopsPerToken(Self.teacher) / 3 + Self.trainFlopsPerToken(Self.student) + Double(6 * 128 * 256 * 2)
        let gflops = flops * Double(tokens) / s / 1e9
        report["distill_tok_s"] = .double(Double(tokens) / s)
        report["distill_gflops"] = .double(gflops)
        report["distill_mfu"] = .double(gflops / sgemmPeak)
        log(String(format: "distill: %.0f tok/s, MFU %.2f", Double(tokens) / s, gflops / sgemmPeak))
    }

    /// 16 prompts x 32 tokens, 64 sampled tokens each (temperature 1) with the KV cache.
    private func sample(into report: inout BenchReport, rng: inout RandomGenerator, log: (String) -> Void) throws {
        let model = try Transformer(config: Self.student, rng: &rng)
        let prompts = (0..<Self.batch).map { _ in (0..<Self.prompt).map { _ in Int32(rng.nextInt(below: 64)) } }
        let options = SamplingOptions(temperature: 1, maxNewTokens: Self.newTokens, stopTokens: [])
        var sampleRNG = RandomGenerator(seed: 1)
        let s = medianSeconds(reps: reps, warmup: 1, minSample: 0) {
            _ = model.generate(prompts: prompts, options: options, rng: &sampleRNG)
        }
        let newTokens = Double(Self.batch * Self.newTokens)
        report["sample_kv_tok_s"] = .double(newTokens / s)
        log(String(format: "sample with KV cache: %.0f new tok/s", newTokens / s))
    }
}
