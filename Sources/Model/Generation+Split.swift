import Foundation
import Tensor

/// How the rows of one sampling call are shared between processes (issue 26): the rows are cut into `parts` fixed
/// batches, each decoded as one batch by one process, and the batches' results are gathered in row order on every
/// process. `parts` is fixed by the run (`run.gradient_shards` in a curriculum), not by the number of processes: which
/// rows decode together can change the last bits of their log-probabilities, so it must not depend on who decodes.
public struct RowSplit {
    /// Fixed batches a call's rows are cut into (fewer when there are fewer rows).
    public var parts: Int
    /// The block of `0 ..< count` parts this process decodes (`Collective.block(of:)`).
    public var block: (_ count: Int) -> Range<Int>
    /// `body(j)` for every part `j` in `0 ..< count`, returned in part order on every process; `body` is called only
    /// for the parts of this process's `block` (`Collective.mapInOrder`; `PPOEvaluation.BatchMap` has the same shape).
    public var map: Map
    /// `body(j)` for every item `j` in `0 ..< count`, returned in item order (`Collective.mapInOrder` under mpirun).
    public typealias Map = (_ count: Int, _ body: (Int) throws -> [UInt8]) throws -> [[UInt8]]

    /// Every item in this process, in order: the `Map` of one process.
    public static func mapInOneProcess(_ count: Int, _ body: (Int) throws -> [UInt8]) rethrows -> [[UInt8]] {
        try (0 ..< count).map(body)
    }

    /// A split over processes: `block` and `map` as `Collective.block(of:)` and `Collective.mapInOrder` give them.
    public init(parts: Int, block: @escaping (Int) -> Range<Int>, map: @escaping Map) {
        precondition(parts >= 1, "a row split needs at least one part, got \(parts)")
        self.parts = parts
        self.block = block
        self.map = map
    }

    /// Every part decoded in this process.
    public static func inOneProcess(parts: Int) -> RowSplit {
        RowSplit(parts: parts, block: { 0 ..< $0 }, map: mapInOneProcess)
    }

    /// The rows of part `j` of `rows` rows cut into `count` parts: `j * rows / count ..< (j + 1) * rows / count`.
    public static func rows(of j: Int, count: Int, rows: Int) -> Range<Int> { j * rows / count ..< (j + 1) * rows / count }
}

extension Transformer {
    /// `generate(prompts:options:streams:)` with the rows cut into `split.parts` fixed batches (`RowSplit.rows(of:)`),
    /// each decoded as one batch by the process whose block holds it (this process's batches at once, one per core; for
    /// a model of 64 MB and more in one decoding loop when `decodesRowsIndependently`, else one after the other),
    /// and every batch's rows gathered in row order: the same `Generation`, to the bit, for any number of processes,
    /// because each row draws from its own stream and each batch is the same rows whoever decodes it.
    /// - Throws: what `split.map` throws; `GenerationSplitError` when a part comes back unreadable or with the wrong
    ///   number of rows.
    public func generate(prompts: [[Int32]], options: SamplingOptions, streams: [RandomGenerator], split: RowSplit) throws -> Generation {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generate needs non-empty prompts")
        precondition(streams.count == prompts.count, "generate needs one stream per prompt: \(streams.count) for \(prompts.count) prompts")
        let count = min(split.parts, prompts.count)
        let ranges = (0 ..< count).map { RowSplit.rows(of: $0, count: count, rows: prompts.count) }
        let mine = split.block(count)
        let decoded = decode(parts: Array(ranges[mine]), prompts: prompts, options: options, streams: streams)
        let bytes = try split.map(count) { j in
            guard mine.contains(j) else { throw GenerationSplitError.notInBlock(part: j, block: mine) }
            return decoded[j - mine.lowerBound].bytes
        }
        guard bytes.count == count else { throw GenerationSplitError.unreadablePart(part: bytes.count, rows: 0, bytes: 0) }
        var parts: [Generation] = []
        for (j, b) in bytes.enumerated() {
            guard let g = Generation(bytes: b), g.tokens.count == ranges[j].count else {
                throw GenerationSplitError.unreadablePart(part: j, rows: ranges[j].count, bytes: b.count)
            }
            parts.append(g)
        }
        return Generation(concatenating: parts)
    }
}

/// A split generation whose parts did not come back whole.
public enum GenerationSplitError: Error, CustomStringConvertible, Equatable {
    /// Part `part` (of `rows` rows) came back as `bytes` bytes that are not its rows.
    case unreadablePart(part: Int, rows: Int, bytes: Int)
    /// The split's `map` asked this process for a part outside its block.
    case notInBlock(part: Int, block: Range<Int>)

    public var description: String {
        switch self {
        case let .unreadablePart(part, rows, bytes):
            return "sampled batch \(part) (\(rows) rows) came back as \(bytes) bytes that are not its rows: the process that decoded it "
                + "sent something else (a different build of distill on some rank?); run every rank from the same binary"
        case let .notInBlock(part, block):
            return "sampled batch \(part) was asked of a process that decodes batches \(block.lowerBound)..<\(block.upperBound): the split's "
                + "map and block disagree (pass Collective.mapInOrder with Collective.block(of:))"
        }
    }
}

extension Generation {
    /// `parts` one after another, rows in order.
    public init(concatenating parts: [Generation]) {
        self.init(tokens: parts.flatMap(\.tokens), logProbs: parts.flatMap(\.logProbs), entropies: parts.flatMap(\.entropies),
                  finishReasons: parts.flatMap(\.finishReasons), nonFiniteLogitsAt: parts.flatMap(\.nonFiniteLogitsAt))
    }

    /// The rows as bytes (what a process sends for its part of a split generation), exact to the bit: per row its token
    /// count, finish reason (0 stop, 1 length), first non-finite step + 1 (0: none), then per token the token, its
    /// log-probability's and its entropy's bit patterns (8-byte little-endian words, `WordWriter`).
    public var bytes: [UInt8] {
        var out = WordWriter()
        for r in tokens.indices {
            out.word(UInt64(tokens[r].count))
            out.word(finishReasons[r] == .stop ? 0 : 1)
            out.word(nonFiniteLogitsAt.isEmpty ? 0 : nonFiniteLogitsAt[r].map { UInt64($0) + 1 } ?? 0)
            for k in tokens[r].indices {
                out.word(UInt64(UInt32(bitPattern: tokens[r][k])))
                out.word(UInt64(logProbs[r][k].bitPattern))
                out.word(UInt64(entropies[r][k].bitPattern))
            }
        }
        return out.bytes
    }

    /// The rows `bytes` wrote; nil when the bytes are not such rows (cut, or a count that claims more than is left).
    public init?(bytes: [UInt8]) {
        self.init(tokens: [], logProbs: [], entropies: [], finishReasons: [], nonFiniteLogitsAt: [])
        var reader = WordReader(bytes)
        while !reader.atEnd {
            guard let n = reader.count(), let finish = reader.word(), finish <= 1, let nonFinite = reader.word() else { return nil }
            var t: [Int32] = [], lp: [Float] = [], e: [Float] = []
            for _ in 0 ..< n {
                guard let token = reader.word(), token <= UInt64(UInt32.max), let l = reader.word(), l <= UInt64(UInt32.max),
                      let h = reader.word(), h <= UInt64(UInt32.max) else { return nil }
                t.append(Int32(bitPattern: UInt32(token)))
                lp.append(Float(bitPattern: UInt32(l)))
                e.append(Float(bitPattern: UInt32(h)))
            }
            tokens.append(t); logProbs.append(lp); entropies.append(e)
            finishReasons.append(finish == 0 ? .stop : .length)
            nonFiniteLogitsAt.append(nonFinite == 0 ? nil : Int(exactly: nonFinite - 1))
        }
    }
}
