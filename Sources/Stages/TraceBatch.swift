import Data
import Model
import Tensor

/// One trace as token ids: the prompt, then the completion and its end token (the layout of `TraceCodec`).
public struct TokenizedTrace: Sendable {
    /// All ids, prompt first.
    public let tokens: [Int32]
    /// How many leading ids are the prompt (they get no loss).
    public let promptLength: Int

    /// Tokenizes a record; throws when the text has a character the tokenizer lacks.
    public init(_ record: TraceRecord, codec: TraceCodec) throws {
        let prompt = try codec.prompt(question: record.question ?? "")
        let completion = try codec.completion(TraceFormat.completion(of: record))
        tokens = prompt + completion
        promptLength = prompt.count
    }

    /// Tokenizes a record in the character tokenizer's plain layout (`<bos>QUESTION\n`, trace, `<eos>`).
    public init(_ record: TraceRecord, tokenizer: Tokenizer) throws {
        try self.init(record, codec: TraceCodec(characters: tokenizer))
    }
}

/// A padded (B, T) batch of traces with next-token targets on completion positions only.
public struct TraceBatch {
    /// (B, T) ids, right-padded with `Tokenizer.pad`.
    public let tokens: [Int32]
    public let batch: Int
    public let length: Int
    /// (B*T) next-token targets; `ignoreIndex` on prompt and padding positions.
    public let targets: [Int32]
    /// (B*T) true where a target exists: the rows the distillation terms average over.
    public let rowMask: [Bool]
    /// Ids that carry a target (the tokens the step learns from).
    public let targetCount: Int

    /// The id that marks positions without a target.
    public static let ignoreIndex: Int32 = -100

    /// Pads `traces` to the longest one.
    public init(_ traces: [TokenizedTrace]) {
        precondition(!traces.isEmpty, "a batch needs at least one trace")
        let t = traces.map(\.tokens.count).max()!
        var tokens = [Int32](repeating: Tokenizer.pad, count: traces.count * t)
        var targets = [Int32](repeating: Self.ignoreIndex, count: traces.count * t)
        for (b, trace) in traces.enumerated() {
            for (j, id) in trace.tokens.enumerated() { tokens[b * t + j] = id }
            // position j predicts token j+1; only completion tokens (j+1 >= promptLength) are targets
            for j in max(0, trace.promptLength - 1)..<(trace.tokens.count - 1) { targets[b * t + j] = trace.tokens[j + 1] }
        }
        self.init(tokens: tokens, batch: traces.count, length: t, targets: targets)
    }

    /// Rows `rows` of this batch, padded to this batch's length (so a per-position mean over them counts the
    /// same positions per row as over the whole batch).
    public func rows(_ rows: Range<Int>) -> TraceBatch {
        precondition(!rows.isEmpty && rows.clamped(to: 0..<batch) == rows, "rows \(rows) of a batch of \(batch)")
        let span = rows.lowerBound * length..<rows.upperBound * length
        return TraceBatch(tokens: Array(tokens[span]), batch: rows.count, length: length, targets: Array(targets[span]))
    }

    /// The first and the second half of the rows (the first longer by one when the count is odd), or the
    /// batch alone when it has one row: the shares a training step runs one per core (`Parallel.halves`).
    public var halves: [TraceBatch] {
        guard batch >= 2 else { return [self] }
        return Parallel.halves(Array(0..<batch)).map { rows($0.first!..<($0.last! + 1)) }
    }

    /// The rows cut into `count` contiguous shards (`shardRanges`: for 2 the same as `halves`), or the batch
    /// alone when it has one row: the shards a `TrainingStep` runs.
    public func shards(_ count: Int) -> [TraceBatch] {
        guard batch >= 2 && count >= 2 else { return [self] }
        return shardRanges(batch, shards: count).map { rows($0) }
    }

    /// A batch of these padded rows; the mask and count follow from the targets.
    private init(tokens: [Int32], batch: Int, length: Int, targets: [Int32]) {
        self.tokens = tokens
        self.batch = batch
        self.length = length
        self.targets = targets
        self.rowMask = targets.map { $0 != Self.ignoreIndex }
        self.targetCount = rowMask.reduce(0) { $0 + ($1 ? 1 : 0) }
    }
}
