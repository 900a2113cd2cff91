import Foundation

/// What a top-k targets cache (`teacher-logits`) was made from, and its row layout. Two caches with equal
/// headers hold the same values.
///
/// File layout (HDF5; h5py and h5dump read it):
///
///     /                attrs: format = "tracedistill-topk-targets", format_version = 1, k, temperature (float64),
///                             vocab_size, teacher_sha256, data_sha256, rows, targets, chunk_targets,
///                             targets_written (targets stored so far, in whole chunks), complete (0 or 1)
///     /row_offsets     int64 (rows + 1): row r's targets are [row_offsets[r], row_offsets[r + 1])
///     /log_probs       float32 (targets, k): the teacher's k largest log-probs at `temperature`, largest first
///     /ids             int32 (targets, k): their token ids
///     /leftover        float32 (targets): log of the probability outside the k ids (-inf when k = vocab_size)
///
/// The three target datasets are stored in chunks of `chunk_targets` targets (shuffle, deflate, fletcher32).
public struct TopKTargetsHeader: Equatable, Sendable {
    /// Entries kept per target.
    public var k: Int
    /// The teacher temperature of the stored log-probs.
    public var temperature: Float
    /// The teacher's vocabulary size.
    public var vocabularySize: Int
    /// SHA-256 of the teacher's weights (the recipe of `distill inspect --hash`).
    public var teacherHash: String
    /// SHA-256 of the data rows (each row's prompt length and token ids).
    public var dataHash: String
    /// (rows + 1) where each row's targets start; the last entry is the target count.
    public var rowOffsets: [Int]
    /// Targets per stored chunk (`defaultChunkTargets` unless given).
    public var chunkTargets: Int

    public init(k: Int, temperature: Float, vocabularySize: Int, teacherHash: String, dataHash: String, rowOffsets: [Int],
                chunkTargets: Int? = nil) {
        self.chunkTargets = chunkTargets ?? Self.defaultChunkTargets(k: k)
        self.k = k
        self.temperature = temperature
        self.vocabularySize = vocabularySize
        self.teacherHash = teacherHash
        self.dataHash = dataHash
        self.rowOffsets = rowOffsets
    }

    public var rows: Int { rowOffsets.count - 1 }
    public var targets: Int { rowOffsets.last ?? 0 }
    /// Targets per stored chunk by default: 64 KiB of log-probs (16 Ki values), at least one target.
    public static func defaultChunkTargets(k: Int) -> Int { max(1, 16_384 / k) }

    public static let format = "tracedistill-topk-targets"
    public static let formatVersion = 1
}

/// Why a top-k targets cache cannot be used.
public enum TopKTargetsError: Error, CustomStringConvertible, Equatable {
    /// The cache was made from another teacher, other data or other settings.
    case mismatch(file: String, what: String, cached: String, expected: String)
    /// The file is not a complete cache.
    case unusable(file: String, reason: String)

    public var description: String {
        switch self {
        case .mismatch(let file, let what, let cached, let expected):
            return "\(file): this top-k targets cache was made with \(what) \(cached), but this run has \(expected); "
                + "re-run the teacher-logits stage to rebuild it (delete the file and run or resume again)"
        case .unusable(let file, let reason):
            return "\(file): \(reason)"
        }
    }
}

extension TopKTargetsHeader {
    /// The first difference from `other` as (what, this value, other's value), nil when equal. Hashes first: they say
    /// which teacher or data the file came from.
    func difference(from other: TopKTargetsHeader) -> (what: String, mine: String, theirs: String)? {
        if teacherHash != other.teacherHash { return ("teacher weights of SHA-256", teacherHash, "a teacher of SHA-256 \(other.teacherHash)") }
        if dataHash != other.dataHash { return ("data rows of SHA-256", dataHash, "data rows of SHA-256 \(other.dataHash)") }
        if k != other.k { return ("k =", "\(k)", "k = \(other.k)") }
        if temperature != other.temperature { return ("temperature", "\(temperature)", "temperature \(other.temperature)") }
        if vocabularySize != other.vocabularySize { return ("a vocabulary of", "\(vocabularySize)", "a vocabulary of \(other.vocabularySize)") }
        if rowOffsets != other.rowOffsets { return ("a row layout of", "\(targets) targets in \(rows) rows", "\(other.targets) targets in \(other.rows) rows") }
        if chunkTargets != other.chunkTargets { return ("chunks of", "\(chunkTargets) targets", "chunks of \(other.chunkTargets) targets") }
        return nil
    }

    static func read(_ f: HDF5Object) throws -> TopKTargetsHeader {
        guard f.hasAttribute("format"), try f.stringAttribute("format") == format else {
            throw TopKTargetsError.unusable(file: f.file, reason: "not a top-k targets cache (no format attribute \"\(format)\")")
        }
        let version = try f.intAttribute("format_version")
        guard version == formatVersion else {
            throw TopKTargetsError.unusable(file: f.file, reason: "cache format version \(version), this build reads \(formatVersion); rebuild it with the teacher-logits stage")
        }
        let offsets = try f.readArray("row_offsets", .int64, as: Int64.self).map(Int.init)
        let header = TopKTargetsHeader(k: try f.intAttribute("k"), temperature: Float(try f.doubleAttribute("temperature")),
                                       vocabularySize: try f.intAttribute("vocab_size"), teacherHash: try f.stringAttribute("teacher_sha256"),
                                       dataHash: try f.stringAttribute("data_sha256"), rowOffsets: offsets,
                                       chunkTargets: try f.intAttribute("chunk_targets"))
        guard header.k > 0, header.chunkTargets > 0, header.rows > 0, offsets.first == 0, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw TopKTargetsError.unusable(file: f.file, reason: "damaged header: k \(header.k), \(header.rows) rows, row offsets not increasing from 0")
        }
        return header
    }
}

/// Writes a top-k targets cache target by target: whole chunks go to the file as soon as they fill (flushed, and
/// `targets_written` moved on), the last partial chunk at `finish`. After a crash the file holds every whole chunk
/// flushed before it; `resume` reopens it at a chunk boundary and whatever was written past it is written again.
public final class TopKTargetsWriter {
    public let path: String
    public let header: TopKTargetsHeader
    private let file: HDF5Object
    private let logProbs: ChunkedDataset
    private let ids: ChunkedDataset
    private let leftover: ChunkedDataset
    /// Targets stored in the file in whole chunks (or all of them after `finish`).
    public private(set) var durableTargets: Int
    private var pendingLogProbs: [Float] = []
    private var pendingIDs: [Int32] = []
    private var pendingLeftover: [Float] = []

    /// The index of the next target `append` expects.
    public var nextTarget: Int { durableTargets + pendingLeftover.count }

    private init(path: String, header: TopKTargetsHeader, file: HDF5Object, create: Bool, durable: Int) throws {
        self.path = path
        self.header = header
        self.file = file
        let m = header.targets, k = header.k, c = header.chunkTargets
        if create {
            logProbs = try file.createChunkedDataset("log_probs", .float32, rows: m, width: k, chunkRows: c)
            ids = try file.createChunkedDataset("ids", .int32, rows: m, width: k, chunkRows: c)
            leftover = try file.createChunkedDataset("leftover", .float32, rows: m, width: nil, chunkRows: c)
        } else {
            logProbs = try file.openChunkedDataset("log_probs", .float32, rows: m, width: k)
            ids = try file.openChunkedDataset("ids", .int32, rows: m, width: k)
            leftover = try file.openChunkedDataset("leftover", .float32, rows: m, width: nil)
        }
        durableTargets = durable
    }

    /// Creates (replaces) the cache file at `path` for `header`, empty.
    public static func create(path: String, header: TopKTargetsHeader) throws -> TopKTargetsWriter {
        precondition(header.targets > 0, "a top-k targets cache needs at least one target")
        let f = try HDF5Object.create(path)
        try f.setAttribute("format", TopKTargetsHeader.format)
        try f.setAttribute("format_version", TopKTargetsHeader.formatVersion)
        try f.setAttribute("k", header.k)
        try f.setAttribute("temperature", Double(header.temperature))
        try f.setAttribute("vocab_size", header.vocabularySize)
        try f.setAttribute("teacher_sha256", header.teacherHash)
        try f.setAttribute("data_sha256", header.dataHash)
        try f.setAttribute("rows", header.rows)
        try f.setAttribute("targets", header.targets)
        try f.setAttribute("chunk_targets", header.chunkTargets)
        try f.setAttribute("targets_written", 0)
        try f.setAttribute("complete", 0)
        try f.writeDataset("row_offsets", .int64, shape: [header.rows + 1], values: header.rowOffsets.map(Int64.init))
        let w = try TopKTargetsWriter(path: path, header: header, file: f, create: true, durable: 0)
        try f.flush()
        return w
    }

    /// Reopens the cache at `path` to continue after `durableTargets` targets (a multiple of the chunk size, or all).
    /// Throws when the file is not this header's cache or holds fewer targets.
    public static func resume(path: String, header: TopKTargetsHeader, durableTargets: Int) throws -> TopKTargetsWriter {
        precondition(durableTargets % header.chunkTargets == 0 || durableTargets == header.targets,
                     "resume at target \(durableTargets), not a chunk boundary of \(header.chunkTargets)")
        let f = try HDF5Object.openForUpdate(path)
        let found = try TopKTargetsHeader.read(f)
        if let d = found.difference(from: header) { throw TopKTargetsError.mismatch(file: path, what: d.what, cached: d.mine, expected: d.theirs) }
        let written = try f.intAttribute("targets_written")
        guard written >= durableTargets else {
            throw TopKTargetsError.unusable(file: path, reason: "holds \(written) targets, the checkpoint counts \(durableTargets) written")
        }
        // anything past the checkpoint's count is written again, identically
        try f.replaceAttribute("targets_written", durableTargets)
        try f.replaceAttribute("complete", durableTargets == header.targets ? 1 : 0)
        try f.flush()
        return try TopKTargetsWriter(path: path, header: header, file: f, create: false, durable: durableTargets)
    }

    /// Adds the next targets, in order: (n, k) log-probs and ids and (n) leftovers. Whole chunks are written and
    /// flushed at once; a partial chunk waits for more targets or `finish`.
    public func append(logProbs lp: [Float], ids id: [Int32], leftover lo: [Float]) throws {
        let k = header.k, c = header.chunkTargets
        precondition(lp.count == lo.count * k && id.count == lo.count * k, "append: \(lo.count) targets need \(lo.count * k) log-probs and ids")
        precondition(nextTarget + lo.count <= header.targets, "append past the cache's \(header.targets) targets")
        pendingLogProbs += lp
        pendingIDs += id
        pendingLeftover += lo
        let whole = pendingLeftover.count / c * c
        guard whole > 0 else { return }
        try logProbs.write(start: durableTargets, pendingLogProbs[..<(whole * k)])
        try ids.write(start: durableTargets, pendingIDs[..<(whole * k)])
        try leftover.write(start: durableTargets, pendingLeftover[..<whole])
        pendingLogProbs.removeFirst(whole * k)
        pendingIDs.removeFirst(whole * k)
        pendingLeftover.removeFirst(whole)
        durableTargets += whole
        try file.replaceAttribute("targets_written", durableTargets)
        try file.flush()
    }

    /// Writes the last partial chunk and marks the cache complete. Every target must have been appended.
    public func finish() throws {
        precondition(nextTarget == header.targets, "finish after \(nextTarget) of \(header.targets) targets")
        try logProbs.write(start: durableTargets, pendingLogProbs[...])
        try ids.write(start: durableTargets, pendingIDs[...])
        try leftover.write(start: durableTargets, pendingLeftover[...])
        durableTargets = header.targets
        pendingLogProbs = []; pendingIDs = []; pendingLeftover = []
        try file.replaceAttribute("targets_written", durableTargets)
        try file.replaceAttribute("complete", 1)
        try file.flush()
    }
}

/// Reads a complete top-k targets cache row by row (each row's targets are one contiguous range; chunks are
/// decompressed and checksum-verified by HDF5 as they are touched, through a small chunk cache).
public final class TopKTargetsReader {
    public let path: String
    public let header: TopKTargetsHeader
    private let file: HDF5Object
    private let logProbs: ChunkedDataset
    private let ids: ChunkedDataset
    private let leftover: ChunkedDataset

    /// Opens the cache; an incomplete or foreign file throws `TopKTargetsError` saying what to do.
    public init(path: String) throws {
        self.path = path
        file = try HDF5Object.open(path)
        header = try TopKTargetsHeader.read(file)
        let written = try file.intAttribute("targets_written")
        guard try file.intAttribute("complete") == 1, written == header.targets else {
            throw TopKTargetsError.unusable(file: path, reason: "incomplete: it holds \(written) of \(header.targets) targets; "
                + "let the teacher-logits stage finish (distill resume the run) or delete the file and run it again")
        }
        logProbs = try file.openChunkedDataset("log_probs", .float32, rows: header.targets, width: header.k)
        ids = try file.openChunkedDataset("ids", .int32, rows: header.targets, width: header.k)
        leftover = try file.openChunkedDataset("leftover", .float32, rows: header.targets, width: nil)
    }

    /// Refuses a cache whose header differs from `expected` (another teacher, other data, k or T), naming both values.
    public func check(against expected: TopKTargetsHeader) throws {
        if let d = header.difference(from: expected) { throw TopKTargetsError.mismatch(file: path, what: d.what, cached: d.mine, expected: d.theirs) }
    }

    /// The targets of `rows`, concatenated in that order: (n, k) log-probs and ids, (n) leftovers, and each row's count.
    /// Callable from any thread (HDF5 is built thread-safe; one call at a time is enough for a training step).
    public func read(rows: [Int]) throws -> (logProbs: [Float], ids: [Int32], leftover: [Float], counts: [Int]) {
        HDF5Object.silenceErrors()  // per thread
        let k = header.k
        let counts = rows.map { header.rowOffsets[$0 + 1] - header.rowOffsets[$0] }
        let n = counts.reduce(0, +)
        var lp = [Float](repeating: 0, count: n * k), id = [Int32](repeating: 0, count: n * k), lo = [Float](repeating: 0, count: n)
        var at = 0
        for (r, c) in zip(rows, counts) where c > 0 {
            let start = header.rowOffsets[r]
            try lp.withUnsafeMutableBytes { try logProbs.read(start: start, count: c, into: $0.baseAddress! + at * k * 4) }
            try id.withUnsafeMutableBytes { try ids.read(start: start, count: c, into: $0.baseAddress! + at * k * 4) }
            try lo.withUnsafeMutableBytes { try leftover.read(start: start, count: c, into: $0.baseAddress! + at * 4) }
            at += c
        }
        return (lp, id, lo, counts)
    }
}
