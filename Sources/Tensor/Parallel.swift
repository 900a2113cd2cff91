import Dispatch

/// Splits `0..<n` into at most `Parallel.threads` contiguous chunks and runs `body` on each, in
/// parallel when the work is large enough to pay for the hand-off. Used by the row-wise kernels and by
/// `sgemm`, which splits large products itself while OpenBLAS runs single-threaded. Work made of many small
/// ops (a decoding step, a PPO minibatch of a few sequences) splits better one level up: `split` runs
/// independent shares of it (halves of a batch) one per core, their kernels unsplit.
public enum Parallel {
    /// Number of worker chunks for row-parallel kernels and split matrix products (the machine has 2
    /// cores). Set it before any work starts (the bench's --threads does).
    public nonisolated(unsafe) static var threads = 2
    /// Below this many scalar operations a kernel runs on the calling thread.
    public static let minimumWork = 1 << 15
    /// Whether `sgemm` splits large products into its two blocks (true unless OpenBLAS threads them itself).
    public nonisolated(unsafe) static var splitProducts = true
    /// Below this many multiply-adds (m * n * k) a matrix product runs on the calling thread.
    public static let minimumProductWork = 1 << 21

    /// True on the workers of `split`: each already runs one share of independent work, so the kernels and
    /// products they call run on the calling thread instead of splitting again (task-local: set per worker).
    @TaskLocal public static var insideSplit = false

    /// Whether a kernel of `work` operations over `parts` parts should hand parts to other threads.
    @inline(__always) static func shouldSplit(parts: Int, work: Int) -> Bool {
        parts >= 2 && work >= minimumWork && threads >= 2 && !insideSplit
    }

    /// Runs `body(0)`, ..., `body(count - 1)`: independent shares of one piece of work (the two halves of a
    /// batch, two models' forward passes), concurrently when `threads` > 1, each share's kernels on its own
    /// thread. Shares must not write to the same memory, and the result must not depend on which ran where.
    /// Grad mode is carried to the workers (task-local values are not).
    public static func split(_ count: Int, _ body: (Int) -> Void) {
        let recording = GradMode.isEnabled
        func run(_ i: Int) {
            GradMode.$isEnabled.withValue(recording) { Parallel.$insideSplit.withValue(true) { body(i) } }
        }
        if count < 2 || threads < 2 || insideSplit {
            for i in 0..<count { run(i) }
            return
        }
        withoutActuallyEscaping(run) { run in DispatchQueue.concurrentPerform(iterations: count) { run($0) } }
    }

    /// `items` as the shares `split` runs for a batch: the first and second half (the first one longer by one
    /// when the count is odd), or the one item alone. Fixed by the count, not the thread count, so what the
    /// shares compute is the same with any `threads`.
    public static func halves<T>(_ items: [T]) -> [[T]] {
        guard items.count >= 2 else { return [items] }
        let cut = (items.count + 1) / 2
        return [Array(items[..<cut]), Array(items[cut...])]
    }

    /// How many parts `fixedParts`-split kernels use for `n` rows: two (one per core of this machine)
    /// whenever there are two rows, whatever `threads` is, so a reduction summed part by part gives
    /// the same bits with any thread count (resume must be bit-identical).
    @inline(__always) public static func fixedParts(_ n: Int) -> Int { n >= 2 ? 2 : 1 }

    /// Runs `body(part)` for each of `0..<parts`, concurrently when `threads` > 1 and `work` (total
    /// operations) is large enough; the result must not depend on which ran where.
    @inline(__always)
    public static func forParts(_ parts: Int, work: Int, _ body: (Int) -> Void) {
        if !shouldSplit(parts: parts, work: work) {
            for p in 0..<parts { body(p) }
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: parts) { body($0) }
        }
    }

    /// Runs `body(range)` over disjoint contiguous ranges covering `0..<n`; `work` is the total operation count. One
    /// range per thread, or with `chunksPerThread` > 1 up to that many times as many, which the threads take in turn
    /// from one counter (`concurrentPerform`'s): the caller starts on them at once, and a worker that wakes late takes
    /// fewer instead of the caller waiting for it at the end.
    @inline(__always)
    public static func forRanges(_ n: Int, work: Int, chunksPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
        if !shouldSplit(parts: n, work: work) {
            body(0..<n)
            return
        }
        let chunks = min(threads * max(chunksPerThread, 1), n)
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                body(lo..<hi)
            }
        }
    }

    /// Chunks per thread for the few-row products of a decoding step (`fewRowProducts`). On the AMD EPYC (Zen 3)
    /// machine, 16-row products over SmolLM2-135M's weights (`distill bench --lm-phase products`, interleaved in one
    /// process, 2026-12-07) took 46.7-46.9 ms a step with 32 chunks on 2 threads against 50.8-51.9 with 2, 49.5-49.7
    /// with 8; with every kernel product split as well, whole generate phases went from 178 to 191 new tokens/s (medians of
    /// 3, interleaved; README, "Fewer hand-offs"). With the fused products, 4 / 8 / 16 / 32 / 64 chunks per thread
    /// switched call by call (three runs, medians of 9 steps): 45.9-46.1 / 45.2-45.4 / 43.2-43.6 / 44.8-45.4 / 44.6-45.3 ms
    /// at M = 16, 27.0-27.5 / 25.1-25.5 / 25.4-25.6 / 25.9-27.5 / 25.3-29.7 ms at M = 1.
    public static let fewRowChunksPerThread = 16
}
