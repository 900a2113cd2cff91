import Checkpoint
import Foundation
import Model
import Stages
import Tensor

/// The top-k targets cache at the SmolLM2 shape (issue 23): written as the `teacher-logits` stage writes it, then read
/// batch by batch exactly as a `targets: topk` training step reads it (8 rows of 255 targets, in a data cursor's
/// shuffled order), doing nothing else, so the read time per batch can be set against a step's time.
///
/// The values are synthetic (sorted log-probs, uniformly random ids): real ids repeat more and compress better, so
/// the size and read time here are on the heavy side.
struct TopKCacheBench {
    let reps: Int
    let folder: String
    /// SmolLM2-135M's vocabulary, the batch (8 x 256: 255 targets per row) and the default k.
    static let vocabulary = 49_152, batchRows = 8, targetsPerRow = 255, k = 64
    /// Rows in the cache: 64 batches.
    static let rows = 512

    func run(into report: inout BenchReport, log: (String) -> Void) throws {
        let scratch = folder + "/.bench-topk-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let path = scratch + "/teacher-logits.h5", k = Self.k
        let header = TopKTargetsHeader(k: k, temperature: 1, vocabularySize: Self.vocabulary, teacherHash: "bench", dataHash: "bench",
                                       rowOffsets: (0...Self.rows).map { $0 * Self.targetsPerRow })
        var rng = RandomGenerator(seed: 23)
        let perBatch = Self.batchRows * Self.targetsPerRow
        // one batch's worth of values, reused with shifted ids for every batch
        var lp = [Float](repeating: 0, count: perBatch * k), ids = [Int32](repeating: 0, count: perBatch * k)
        var rest = [Float](repeating: 0, count: perBatch)
        for t in 0..<perBatch {
            let row = (0..<k).map { _ in -abs(rng.nextNormal()) * 4 - 0.5 }.sorted(by: >)
            for j in 0..<k { lp[t * k + j] = row[j]; ids[t * k + j] = Int32(rng.nextInt(below: Self.vocabulary)) }
            rest[t] = -abs(rng.nextNormal()) - 1
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let w = try TopKTargetsWriter.create(path: path, header: header)
        for b in 0..<(Self.rows / Self.batchRows) {
            let shifted = ids.map { ($0 + Int32(b)) % Int32(Self.vocabulary) }
            try w.append(logProbs: lp, ids: shifted, leftover: rest)
        }
        try w.finish()
        let writeSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let entries = Self.rows * Self.targetsPerRow * k
        let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0

        let reader = try TopKTargetsReader(path: path)
        var cursor = DataCursor(count: Self.rows, seed: 7)
        var samples: [Double] = []
        for _ in 0..<max(reps * 8, 32) {
            let rows = cursor.next(Self.batchRows)
            let s = DispatchTime.now().uptimeNanoseconds
            let got = try reader.read(rows: rows)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9)
            precondition(got.leftover.count == perBatch, "read \(got.leftover.count) targets for a batch of \(perBatch)")
        }
        let median = samples.sorted()[samples.count / 2]

        // the yardstick: one top-k distillation step of the SmolLM2 student (10 layers) on an 8 x 256 batch, with the
        // next batch's targets read on another thread meanwhile, as a `targets: topk` stage does; then the wait for them
        let student = try Transformer(config: TopKDistillationStep.smolLM2Student(), rng: &rng)
        let step = TopKDistillationStep(student: student, batch: Self.batchRows, length: Self.targetsPerRow + 1, k: k)
        var stepSeconds: [Double] = [], waits: [Double] = []
        for _ in 0..<max(2, min(reps, 3)) {
            let rows = cursor.next(Self.batchRows)
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                _ = try? reader.read(rows: rows)
                done.signal()
            }
            let s = DispatchTime.now().uptimeNanoseconds
            step.run()
            let w = DispatchTime.now().uptimeNanoseconds
            done.wait()
            stepSeconds.append(Double(w - s) / 1e9)
            waits.append(Double(DispatchTime.now().uptimeNanoseconds - w) / 1e9)
        }
        let stepMedian = stepSeconds.sorted()[stepSeconds.count / 2]
        report["topk_cache_step_s"] = .double(stepMedian)
        report["topk_cache_wait_ms"] = .double(waits.max()! * 1e3)
        log(String(format: "top-k distillation step (SmolLM2 student, 10 layers, 8x256, k %d, cache not read in it): %.2f s median "
                   + "(%.0f tokens/s); the next batch's targets, read meanwhile on another thread, kept it waiting at most %.3f ms",
                   k, stepMedian, Double(step.tokensPerStep) / stepMedian, waits.max()! * 1e3))
        report["topk_cache_bytes_per_entry"] = .double(Double(bytes) / Double(entries))
        report["topk_cache_write_entries_s"] = .double(Double(entries) / writeSeconds)
        report["topk_cache_batch_read_ms"] = .double(median * 1e3)
        report["topk_cache_read_tok_s"] = .double(Double(perBatch) / median)
        log(String(format: "top-k cache (k %d, %d rows x %d targets, vocab %d): %.2f bytes per kept entry, written at %.2fM entries/s; "
                   + "one %dx256 batch read in %.2f ms median (%.0f target tokens/s)",
                   k, Self.rows, Self.targetsPerRow, Self.vocabulary, Double(bytes) / Double(entries), Double(entries) / writeSeconds / 1e6,
                   Self.batchRows, median * 1e3, Double(perBatch) / median))
    }
}
