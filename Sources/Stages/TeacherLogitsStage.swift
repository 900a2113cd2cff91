import Checkpoint
import Foundation
import Model
import StrictConfig
import Tensor

/// Settings of `teacher-logits`.
public struct TeacherLogitsConfiguration: StageConfiguration, Equatable {
    /// Entries kept per target token; nil: `defaultK`, or the whole vocabulary when it is smaller.
    public var k: Int?
    /// The teacher temperature of the stored log-probs (a consuming stage at another T re-tempers them; see
    /// `TopKTargets.bucketLogProbs`).
    public var temperature: Float = 1
    /// Rows per step (one unit of work), cut into `run.gradient_shards` fixed teacher forward passes (under mpirun each
    /// rank runs a block of them).
    public var batchSize = 16
    /// Targets per stored chunk; nil: 16,384 / k (64 KiB of log-probs).
    public var chunkTargets: Int?
    /// nil: teacher traces when a `teacher-traces` stage comes earlier, else the reference traces (as the
    /// distillation stages choose).
    public var data: DistillationData?

    /// Every field, each with its default.
    public init(k: Int? = nil, temperature: Float = 1, batchSize: Int = 16, chunkTargets: Int? = nil, data: DistillationData? = nil) {
        self.k = k
        self.temperature = temperature
        self.batchSize = batchSize
        self.chunkTargets = chunkTargets
        self.data = data
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: CodingKeys.allCases.map(\.rawValue))
    }

    public func check(in curriculum: Curriculum, index: Int) throws {
        let tracesBefore = curriculum.hasTeacherTraces(before: index)
        if let data, data != .reference, !tracesBefore {
            throw curriculum.stageError(index, "data", "data: \(data.rawValue) needs a teacher-traces stage earlier in the curriculum; add one or use data: reference")
        }
        // an imported teacher's vocabulary is known when the run starts (checked then)
        if let k, curriculum.models.teacherImport == nil, curriculum.models.teacherCheckpoint == nil, k > curriculum.models.teacher.vocabSize {
            throw curriculum.stageError(index, "k", "k \(k) exceeds the teacher's vocabulary of \(curriculum.models.teacher.vocabSize); use at most \(curriculum.models.teacher.vocabSize)")
        }
    }

    public static let defaultK = 64

    /// The k of a cache from a teacher with vocabulary `v`: `k` as given, else `defaultK` capped at `v`.
    func effectiveK(vocabulary v: Int) -> Int { k ?? min(Self.defaultK, v) }

    /// The data this stage reads in `curriculum` at `index`.
    func resolvedData(in curriculum: Curriculum, index: Int) -> DistillationData {
        DistillationData.resolve(data, in: curriculum, index: index)
    }

    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        var resolved = self
        resolved.data = resolvedData(in: curriculum, index: index)
        return ConfigTree.resolved(resolved)
            + (k == nil ? ["# k: \(Self.defaultK), or the teacher's vocabulary when smaller"] : [])
            + (chunkTargets == nil ? ["# chunk_targets: 16384 / k"] : [])
            + ["# cache file: RUN_DIR/\(TeacherLogitsStage.fileName(index: index))"]
    }
}

extension TeacherLogitsConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case k, temperature, batchSize = "batch_size", chunkTargets = "chunk_targets", data
    }

    /// Reads the stage's keys strictly (its `kind` is the curriculum's).
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: ["kind"] + CodingKeys.allCases.map(\.rawValue))
        k = try c.int("k", min: 1) ?? k
        temperature = try c.float("temperature", range: 1e-3...100) ?? temperature
        batchSize = try c.int("batch_size", min: 1) ?? batchSize
        chunkTargets = try c.int("chunk_targets", min: 1) ?? chunkTargets
        data = try c.choice("data", DistillationData.self) ?? data
    }
}

extension Curriculum {
    /// A `CurriculumError` at `stages[index].key`, with the key's line when the file has it.
    func stageError(_ index: Int, _ key: String, _ message: String) -> CurriculumError {
        let line = (try? ConfigNode.parse(yaml: text, file: file).child("stages").elements())
            .flatMap { index < $0.count ? (try? $0[index].child(key))?.line : nil }
        return CurriculumError(file: file, keyPath: "stages[\(index)].\(key)", line: line, message: message)
    }
}

/// `teacher-logits`: runs the teacher once over the rows a later distillation stage trains on and writes, for each
/// target token, its top-k log-probs at `temperature`, their ids and the log of the mass left over, to a chunked,
/// deflated, fletcher32-checksummed HDF5 file in the run folder (`TopKTargetsHeader` has the layout). Later
/// `output-distill` / `feature-align` stages with `targets: topk` read it instead of running the teacher.
///
/// One unit of work is one batch of `batch_size` rows in data order, run through the teacher as `run.gradient_shards`
/// fixed passes (`appendTargets`; under mpirun each rank runs a block of them and rank 0 writes). The file takes whole
/// chunks as they fill; the checkpoint records the rows done and the targets the file holds. On resume the file is
/// reopened at that target count (a tail written after the checkpoint is written again) and the rows whose targets
/// were still in memory are computed again, in the same batches, so the file ends bit-identical. A file that cannot be
/// reopened (damaged by the crash, deleted) is rebuilt from the first row.
final class TeacherLogitsStage: Stage {
    static let kindName = "teacher-logits"
    static let kind = StageKind(name: kindName, reportRow: .none(note: "only writes the teacher's top-k targets cache"), parse: TeacherLogitsConfiguration.init) { c, context, index in
        try TeacherLogitsStage(c, context: context, index: index)
    }

    /// The cache file of the stage at `index`, inside the run folder.
    static func fileName(index: Int) -> String { "teacher-logits-\(index).h5" }

    let config: TeacherLogitsConfiguration
    let index: Int
    /// Entries kept per target.
    let k: Int
    let examples: [TokenizedTrace]
    let header: TopKTargetsHeader
    let path: String
    private(set) var step = 0
    /// Rows whose targets were handed to the writer.
    private var rowsDone = 0
    /// Targets the file held at the last `progress()` (restored from the checkpoint).
    private var durableTargets = 0
    private var writer: TopKTargetsWriter?
    /// Whether `openWriter` has run since the stage started or was restored (rank 0 then holds `writer`).
    private var writerReady = false

    init(_ c: TeacherLogitsConfiguration, context: RunContext, index: Int) throws {
        config = c
        self.index = index
        examples = try c.resolvedData(in: context.curriculum, index: index).examples(context, index: index)
        guard !examples.isEmpty else { throw StageError.noData(stage: index, reason: "there are no rows to run the teacher over") }
        let v = context.teacher.config.vocabSize
        k = c.effectiveK(vocabulary: v)
        guard k <= v else {
            throw context.curriculum.stageError(index, "k", "k \(k) exceeds the teacher's vocabulary of \(v); use at most \(v)")
        }
        header = TopKTargetsPlan.header(examples: examples, teacher: context.teacher, k: k, temperature: c.temperature, chunkTargets: c.chunkTargets)
        guard header.targets > 0 else { throw StageError.noData(stage: index, reason: "the rows have no target tokens") }
        guard context.writesFiles else {
            throw StageError.cannotRun(stage: index, reason: "teacher-logits writes its targets cache \(Self.fileName(index: index)) into the run folder, "
                                       + "and this run is in memory; give the runner a checkpoint directory, or leave this stage out")
        }
        path = context.runDirectory + "/" + Self.fileName(index: index)
    }

    var totalSteps: Int { (examples.count + config.batchSize - 1) / config.batchSize }
    var isEvaluationDue: Bool { false }

    func advance(_ context: RunContext) throws -> [String: Double] {
        // every rank computes its block of the step's fixed forward passes (`appendTargets`); rank 0 alone writes the
        // cache (one file in the shared run folder), and the others read it after the stage's end (the runner's barrier)
        let started = DispatchTime.now().uptimeNanoseconds
        let w = try openWriter(context)
        let rows = rowsDone..<min(rowsDone + config.batchSize, examples.count)
        let t = try appendTargets(rows: rows, context: context, to: w)
        rowsDone = rows.upperBound
        if let w { durableTargets = w.durableTargets }
        step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var metrics = ["rows_done": Double(rowsDone), "leftover_mass": t.leftoverMass, "tokens_per_second": Double(t.tokens) / max(seconds, 1e-9)]
        if let w { metrics["targets_written"] = Double(w.durableTargets) }
        return metrics
    }

    /// Runs the teacher over `rows` (one step's batch) and, on the rank that writes (`w` non-nil), appends their targets,
    /// skipping those the writer already has. The rows are cut into `run.gradient_shards` fixed forward passes
    /// (`RowSplit.rows(of:)`), each rank computing its block of them (`RunContext.samplingSplit`), and the passes' targets
    /// are gathered in row order: the passes are fixed by the curriculum, not by the number of ranks (which rows share a
    /// pass can change the last bits of their logits), so the cache is the same bytes for any number of ranks. Every
    /// rank calls it for the same rows.
    /// - Returns: the padded tokens of the step's passes and the mean leftover mass of its targets (the same on every rank).
    private func appendTargets(rows: Range<Int>, context: RunContext, to w: TopKTargetsWriter?) throws -> (tokens: Int, leftoverMass: Double) {
        let split = context.samplingSplit
        let count = min(split.parts, rows.count)
        let parts: [Range<Int>] = (0..<count).map { j in
            let r = RowSplit.rows(of: j, count: count, rows: rows.count)
            return rows.lowerBound + r.lowerBound ..< rows.lowerBound + r.upperBound
        }
        let k = self.k
        let sent = try split.map(count) { j in
            let traces = Array(examples[parts[j]])
            let batch = TraceBatch(traces)
            let logits = withNoGrad { context.teacher.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length).logits }
            let positions = (0..<traces.count).flatMap { b in TopKTargetsPlan.targetPositions(traces[b]).map { b * batch.length + $0 } }
            let top = TopKTargetsPlan.topK(logits: logits, rows: positions, k: k, temperature: config.temperature)
            var out: [UInt8] = []
            out.reserveCapacity(positions.count * (2 * k + 1) * 4)
            top.logProbs.withUnsafeBytes { out += $0 }
            top.ids.withUnsafeBytes { out += $0 }
            top.leftover.withUnsafeBytes { out += $0 }
            return out
        }
        var logProbs: [Float] = [], ids: [Int32] = [], leftover: [Float] = []
        for (j, part) in parts.enumerated() {
            let n = header.rowOffsets[part.upperBound] - header.rowOffsets[part.lowerBound]
            let bytes = j < sent.count ? sent[j] : []
            let expected = n * (2 * k + 1) * 4
            guard sent.count == count, bytes.count == expected else {
                throw TeacherLogitsError.unreadablePart(stage: index, rows: part, bytes: bytes.count, expected: expected)
            }
            var lp = [Float](repeating: 0, count: n * k), id = [Int32](repeating: 0, count: n * k), lo = [Float](repeating: 0, count: n)
            lp.withUnsafeMutableBytes { $0.copyBytes(from: bytes[0 ..< n * k * 4]) }
            id.withUnsafeMutableBytes { $0.copyBytes(from: bytes[n * k * 4 ..< 2 * n * k * 4]) }
            lo.withUnsafeMutableBytes { $0.copyBytes(from: bytes[2 * n * k * 4 ..< bytes.count]) }
            logProbs += lp; ids += id; leftover += lo
        }
        if let w {
            let first = header.rowOffsets[rows.lowerBound]
            let skip = max(0, w.nextTarget - first)  // targets a resumed writer already holds
            precondition(first + skip == w.nextTarget && skip <= leftover.count, "teacher-logits: rows \(rows) do not continue target \(w.nextTarget)")
            try w.append(logProbs: Array(logProbs[(skip * k)...]), ids: Array(ids[(skip * k)...]), leftover: Array(leftover[skip...]))
        }
        let mass = leftover.reduce(0.0) { $0 + Foundation.exp(Double($1)) } / Double(max(leftover.count, 1))
        let tokens = parts.reduce(0) { $0 + TraceBatch(Array(examples[$1])).tokens.count }
        return (tokens, mass)
    }

    /// The writer on rank 0 (nil on the others): created at the first step; after a resume reopened where the checkpoint
    /// left it, with the rows since then computed again (or rebuilt from row 0 when the file cannot be reopened). Every
    /// rank calls it at the same steps: rank 0 tells the others from which target the rows are computed again, and every
    /// rank computes its block of those passes.
    private func openWriter(_ context: RunContext) throws -> TopKTargetsWriter? {
        if writerReady { return writer }
        let group = context.group
        var w: TopKTargetsWriter?
        if group.isWriter {
            if rowsDone == 0 {
                w = try TopKTargetsWriter.create(path: path, header: header)
            } else {
                do {
                    w = try TopKTargetsWriter.resume(path: path, header: header, durableTargets: durableTargets)
                } catch {
                    context.logger.warning("teacher-logits: cannot continue \(path) (\(error)); rebuilding it from the first row")
                    w = try TopKTargetsWriter.create(path: path, header: header)
                }
            }
        }
        if rowsDone > 0 {
            // the batches from the one holding the writer's next target up to where the checkpoint stood, again
            var from = WordWriter()
            from.word(UInt64(w?.nextTarget ?? 0))
            var reader = WordReader(try group.broadcast(from.bytes, from: 0))
            guard let next = reader.int(), next <= header.targets else {
                throw TeacherLogitsError.unreadablePart(stage: index, rows: 0..<rowsDone, bytes: 8, expected: 8)
            }
            var start = 0
            while start < rowsDone {
                let rows = start..<min(start + config.batchSize, examples.count)
                if header.rowOffsets[rows.upperBound] > next { _ = try appendTargets(rows: rows, context: context, to: w) }
                start = rows.upperBound
            }
        }
        writer = w
        writerReady = true
        return w
    }

    func evaluate(_ context: RunContext) throws -> StageEvaluation { StageEvaluation(metrics: [:]) }

    func progress() -> StageProgress {
        StageProgress(step: step, data: DataPosition(epoch: 0, index: rowsDone),
                      controllers: ["cache": ["durable_targets": Double(writer?.durableTargets ?? durableTargets)]])
    }

    func restore(_ progress: StageProgress, context: RunContext) throws {
        step = progress.step
        rowsDone = progress.data.index
        durableTargets = Int(progress.controllers["cache"]?["durable_targets"] ?? 0)
        writer = nil
        writerReady = false
    }

    func finish(_ context: RunContext) throws {
        // every rank: a resumed stage computes its unwritten tail again, together
        let w = try openWriter(context)
        writer = nil
        writerReady = false
        durableTargets = header.targets
        guard let w else { return }
        if w.durableTargets < header.targets { try w.finish() }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        context.logger.info("teacher-logits: \(header.targets) targets of \(header.rows) rows, top \(k) at T = \(config.temperature), in \(path) (\(bytes) bytes, \(String(format: "%.2f", Double(bytes) / Double(header.targets * k))) bytes per kept entry)")
    }
}

/// A teacher-logits forward pass whose targets came back from the rank that computed it as bytes that are not its
/// targets (under mpirun: a rank running another build).
enum TeacherLogitsError: Error, CustomStringConvertible, Equatable {
    case unreadablePart(stage: Int, rows: Range<Int>, bytes: Int, expected: Int)

    var description: String {
        switch self {
        case let .unreadablePart(stage, rows, bytes, expected):
            return "stage \(stage) (teacher-logits): the targets of rows \(rows.lowerBound)..<\(rows.upperBound) came back as \(bytes) bytes, "
                + "not \(expected): the rank that computed them sent something else; run every rank from the same build of distill"
        }
    }
}

/// What a top-k targets cache holds for a list of rows, and how its values are made; shared by `teacher-logits`
/// (which writes) and the distillation stages (which check and read).
enum TopKTargetsPlan {
    /// The positions of `trace` that predict a target (as `TraceBatch` marks them): prompt's last token on.
    static func targetPositions(_ trace: TokenizedTrace) -> Range<Int> {
        max(0, trace.promptLength - 1)..<(trace.tokens.count - 1)
    }

    /// The header a cache of `examples` from `teacher` at k and T must have.
    static func header(examples: [TokenizedTrace], teacher: Transformer, k: Int, temperature: Float, chunkTargets: Int?) -> TopKTargetsHeader {
        var offsets = [0]
        offsets.reserveCapacity(examples.count + 1)
        var bytes = Data()
        for e in examples {
            offsets.append(offsets.last! + targetPositions(e).count)
            withUnsafeBytes(of: Int64(e.promptLength).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: Int64(e.tokens.count).littleEndian) { bytes.append(contentsOf: $0) }
            for t in e.tokens { withUnsafeBytes(of: t.littleEndian) { bytes.append(contentsOf: $0) } }
        }
        return TopKTargetsHeader(k: k, temperature: temperature, vocabularySize: teacher.config.vocabSize,
                                 teacherHash: parameterHash(teacher.parameters), dataHash: sha256Hex(bytes), rowOffsets: offsets,
                                 chunkTargets: chunkTargets)
    }

    /// For each listed row of `logits` (N, V): the k largest log-probs at `temperature` (largest first; equal values
    /// by lower id), their ids, and log of the probability outside them (a log-sum-exp over the other ids).
    static func topK(logits: Tensor, rows: [Int], k: Int, temperature: Float) -> (logProbs: [Float], ids: [Int32], leftover: [Float]) {
        let v = logits.lastDim, n = rows.count, invT = 1 / temperature
        var lp = [Float](repeating: 0, count: n * k), ids = [Int32](repeating: 0, count: n * k)
        var leftover = [Float](repeating: 0, count: n)
        lp.withUnsafeMutableBufferPointer { lpOut in
            ids.withUnsafeMutableBufferPointer { idOut in
                leftover.withUnsafeMutableBufferPointer { loOut in
                    Parallel.forRanges(n, work: n * v * 8) { range in
                        var row = [Float](repeating: 0, count: v), scaled = row
                        var heap: [(value: Float, id: Int32)] = []
                        heap.reserveCapacity(k)
                        for m in range {
                            scaled.withUnsafeMutableBufferPointer { x in
                                row.withUnsafeMutableBufferPointer { r in
                                    vscale(v, invT, logits.ptr + rows[m] * v, x.baseAddress!)
                                    logSoftmaxRows(x.baseAddress!, r.baseAddress!, rows: 1, cols: v)
                                }
                            }
                            heap.removeAll(keepingCapacity: true)
                            for i in 0..<v { pushTop(&heap, (row[i], Int32(i)), k: k) }
                            heap.sort { $0.value > $1.value || ($0.value == $1.value && $0.id < $1.id) }
                            for (j, e) in heap.enumerated() {
                                lpOut[m * k + j] = e.value
                                idOut[m * k + j] = e.id
                                row[Int(e.id)] = -Float.infinity
                            }
                            var top = -Float.infinity
                            for x in row { top = max(top, x) }
                            if top == -Float.infinity {
                                loOut[m] = -Float.infinity
                            } else {
                                let s = row.withUnsafeBufferPointer { r in
                                    scaled.withUnsafeMutableBufferPointer { x in
                                        expShiftedSum(v, r.baseAddress!, x.baseAddress!, shift: top)
                                    }
                                }
                                loOut[m] = top + Foundation.log(s)
                            }
                        }
                    }
                }
            }
        }
        return (lp, ids, leftover)
    }

    /// Keeps the k largest (value, id) pairs in a min-heap ordered by value, then by higher id (so of equal values
    /// the lower id stays).
    @inline(__always)
    private static func pushTop(_ heap: inout [(value: Float, id: Int32)], _ e: (value: Float, id: Int32), k: Int) {
        @inline(__always) func less(_ a: (value: Float, id: Int32), _ b: (value: Float, id: Int32)) -> Bool {
            a.value < b.value || (a.value == b.value && a.id > b.id)
        }
        if heap.count < k {
            heap.append(e)
            var i = heap.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                guard less(heap[i], heap[p]) else { break }
                heap.swapAt(i, p)
                i = p
            }
            return
        }
        guard less(heap[0], e) else { return }
        heap[0] = e
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < k && less(heap[l], heap[smallest]) { smallest = l }
            if r < k && less(heap[r], heap[smallest]) { smallest = r }
            guard smallest != i else { break }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
