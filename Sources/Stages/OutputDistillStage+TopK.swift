import Checkpoint
import Foundation
import Model
import Tensor

/// The teacher's side of a distillation stage's divergence.
public enum DistillationTargets: String, Sendable, Codable, CaseIterable {
    /// The teacher runs on every batch and its full distribution is the target.
    case full
    /// The top-k cache of the nearest earlier `teacher-logits` stage, read as the batches come; the teacher does
    /// not run for the output terms (feature-align still runs it for hidden states and attention maps).
    case topk
}

extension OutputDistillConfiguration {
    /// The index of the `teacher-logits` stage whose cache the stage at `index` reads: the nearest one before it.
    static func cacheStage(in curriculum: Curriculum, index: Int) -> Int? {
        curriculum.stages.prefix(index).last { $0.kind == TeacherLogitsStage.kindName }?.index
    }

    /// `targets: topk` needs a `teacher-logits` stage before this one, over the same data.
    func checkTargets(in curriculum: Curriculum, index: Int) throws {
        guard targets == .topk else { return }
        guard let source = Self.cacheStage(in: curriculum, index: index),
              let cache = curriculum.stages[source].configuration as? TeacherLogitsConfiguration else {
            throw curriculum.stageError(index, "targets", "targets: topk reads the cache of a teacher-logits stage earlier in the curriculum; "
                + "add `- kind: teacher-logits` before this stage, or use targets: full")
        }
        if curriculum.models.teacherCheckpoint == nil,
           let sft = curriculum.stages[(source + 1)..<index].first(where: { $0.kind == TeacherSFTStage.kindName }) {
            throw curriculum.stageError(index, "targets", "teacher-sft (stages[\(sft.index)]) trains the teacher after the teacher-logits stage "
                + "(stages[\(source)]) cached it, so the cache would be refused; move the teacher-logits stage after teacher-sft")
        }
        let cached = cache.resolvedData(in: curriculum, index: source), mine = resolvedData(in: curriculum, index: index)
        guard cached == mine else {
            throw curriculum.stageError(index, "targets", "the teacher-logits stage (stages[\(source)]) caches the data: \(cached.rawValue) rows, "
                + "but this stage trains on data: \(mine.rawValue); give both stages the same data")
        }
    }
}

/// The top-k targets a distillation stage reads: the checked cache, and the targets of the batch in hand (read
/// before the step's shards run). While a step runs, the next batch's rows (known from the data cursor) are
/// read on a background thread, so the step does not wait for the file (HDF5 here is built thread-safe).
final class TopKTargetsSource {
    typealias Loaded = (logProbs: [Float], ids: [Int32], leftover: [Float], counts: [Int])
    let reader: TopKTargetsReader
    let examples: [TokenizedTrace]
    private var rows: [Int] = []
    private var loaded: Loaded?
    /// The read under way for the batch expected next.
    private var prefetch: (rows: [Int], read: PendingRead)?
    /// Seconds the last `load` waited for the file (0 when the prefetched read had finished).
    private(set) var lastWait: Double = 0

    /// A read running on another thread: its result once `done` is signalled.
    final class PendingRead: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var result: Result<Loaded, Error>?
    }

    /// Opens the cache of the `teacher-logits` stage `config` reads and refuses it unless it was made from this
    /// run's teacher and `examples` at that stage's k and T.
    init(_ config: OutputDistillConfiguration, context: RunContext, index: Int, examples: [TokenizedTrace]) throws {
        let curriculum = context.curriculum
        guard let source = OutputDistillConfiguration.cacheStage(in: curriculum, index: index),
              let cache = curriculum.stages[source].configuration as? TeacherLogitsConfiguration else {
            preconditionFailure("targets: topk without a teacher-logits stage passed the curriculum check")
        }
        let path = context.runDirectory + "/" + TeacherLogitsStage.fileName(index: source)
        do {
            reader = try TopKTargetsReader(path: path)
        } catch let e as HDF5Error {
            throw TopKTargetsError.unusable(file: path, reason: "\(e.message); it is written by the teacher-logits stage (stages[\(source)]): "
                + "run it again (delete the file and the run's checkpoints from that stage on, or start the run anew)")
        }
        let expected = TopKTargetsPlan.header(examples: examples, teacher: context.teacher, k: cache.effectiveK(vocabulary: context.teacher.config.vocabSize),
                                              temperature: cache.temperature, chunkTargets: cache.chunkTargets)
        try reader.check(against: expected)
        self.examples = examples
    }

    /// Makes the targets of the batch of these example rows current (from the read started for them, or read now),
    /// then starts reading `next`, the rows the following step will draw.
    func load(rows: [Int], next: [Int]?) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        self.rows = rows
        if let p = prefetch, p.rows == rows {
            p.read.done.wait()
            loaded = try p.read.result!.get()
        } else {
            if let p = prefetch { p.read.done.wait() }  // never leave a read running on a batch not taken
            loaded = try reader.read(rows: rows)
        }
        prefetch = nil
        lastWait = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        guard let next else { return }
        let pending = PendingRead(), reader = self.reader
        DispatchQueue.global(qos: .userInitiated).async {
            pending.result = Result { try reader.read(rows: next) }
            pending.done.signal()
        }
        prefetch = (next, pending)
    }

    /// The targets of shard `shard` of `shards` (as `TraceBatch.shards`) of the loaded batch, positioned on
    /// `batch`, that shard's rows.
    func targets(shard: Int, of shards: Int, batch: TraceBatch) -> TopKTargets {
        guard let loaded else { preconditionFailure("TopKTargetsSource: no batch loaded") }
        let parts = shardRanges(rows.count, shards: shards)
        precondition(shard < parts.count && parts[shard].count == batch.batch, "shard \(shard) of \(rows.count) rows is not \(batch.batch) rows")
        let k = reader.header.k
        let local = Array(parts[shard])
        let start = loaded.counts[..<local.first!].reduce(0, +)
        var positions: [Int] = []
        for (b, global) in local.enumerated() {
            let range = TopKTargetsPlan.targetPositions(examples[rows[global]])
            precondition(range.count == loaded.counts[global], "row \(rows[global]): \(range.count) targets, the cache has \(loaded.counts[global])")
            positions += range.map { b * batch.length + $0 }
        }
        let n = positions.count
        precondition(n == batch.targetCount, "shard \(shard): \(n) cached targets for \(batch.targetCount) target tokens")
        return TopKTargets(k: k, temperature: reader.header.temperature, positions: positions,
                           logProbs: Array(loaded.logProbs[(start * k)..<((start + n) * k)]),
                           ids: Array(loaded.ids[(start * k)..<((start + n) * k)]),
                           leftover: Array(loaded.leftover[start..<(start + n)]))
    }
}

extension OutputDistillObjective {
    /// alpha * T^2 * (divergence over the top-k buckets) + (1 - alpha) * CE, the cached counterpart of `outputLoss`.
    func outputLoss(student: Tensor, targets: TopKTargets, batch: TraceBatch) -> ShardLoss {
        let t = temperature, a = alpha
        let kd = topKDistillationLoss(student: student, targets: targets, temperature: t, divergence: distill.divergence)
        let ce = crossEntropy(student, targets: batch.targets, ignoreIndex: TraceBatch.ignoreIndex, labelSmoothing: settings.labelSmoothing)
        let loss = add(scale(kd, a), scale(ce, 1 - a))
        return ShardLoss(perTarget: loss, metrics: ["kd": (Double(kd.toArray()[0]), .target), "ce": (Double(ce.toArray()[0]), .target),
                                                    "alpha": (Double(a), .target), "temperature": (Double(t), .target)])
    }
}
