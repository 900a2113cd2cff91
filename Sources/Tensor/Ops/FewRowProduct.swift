import Dispatch
import CFewRowKernels
import CPrefetch

// Products of few rows against a Linear weight: y (M, N) = x (M, K) W^T, W (N, K) row-major (PyTorch's [out, in]),
// M up to a few dozen: a decoding step's products. sgemm packs every weight panel it reads before multiplying,
// and at M = 16 that packing costs more than the arithmetic (42.6% of a SmolLM2-135M generation's samples were
// OpenBLAS's sgemm_incopy). These kernels read each weight row once, straight from the weights, and keep x in
// cache. `wide` and `narrow`: a block of 4 weight rows times a tile of x rows, one SIMD accumulator per output, fused
// multiply-adds along K, then one horizontal sum per output. `chains` (AVX2, in C): x's rows along the vector lanes
// and each weight broadcast, so each output is a single chain of fused multiply-adds with no horizontal sum; for up
// to `FewRowKernel.columnRows` rows, the weight rows transposed 8 x 8 in registers and x broadcast, with the same
// chains. `wideChains` (AVX-512, in C): the chains at 16 lanes, the native kernel of AVX-512 builds. Blocks of weight
// rows are split across the cores.
//
// Every output y[i, j] is computed by the same sequence of operations whatever M, N, the tile it falls in or the
// thread that runs it (rows missing from a tile repeat a valid row or are zero lanes, and their results are
// dropped), so a row's results do not depend on which other rows share the product: one prompt alone decodes to the
// same bits as in a batch.

/// The few-row product kernel (a machine fact, not a tuning knob: they give the same results within float rounding,
/// not bit for bit; `chains`, `panels` and `wideChains` give the same bits).
public enum FewRowKernel: Sendable {
    /// 16 lanes, 4 x rows x 4 weight rows per tile (32 registers: AVX-512), in Swift: a CPU with AVX-512 running a build
    /// that does not target it.
    case wide
    /// 8 lanes, 2 x rows x 4 weight rows per tile (16 registers), in Swift: builds without AVX2 and FMA.
    case narrow
    /// AVX2 and FMA, in C (`CFewRowKernels`): every output y[i, j] has the bits of the plain loop
    /// `s = 0; for c in 0..<K { s = fma(x[i, c], w[j, c], s) }`. 16 x rows (two vectors) x 6 weight rows per tile, or for
    /// up to `columnRows` rows 8 weight rows transposed in registers against each x entry broadcast. Where the package
    /// was built without AVX2 and FMA (a versioned checkout, a baseline build) the same functions are plain C loops.
    case chains
    /// AVX-512, in C: the weights packed once into panels of 16 outputs (`FewRowPanels`), each x entry broadcast against
    /// three panels, eight rows at a time; the bits of `chains`. For weights a decoding loop reads again and again from
    /// cache (`FewRowPanels.isWorthPacking`), where the other kernels' horizontal sums or half-empty lanes (a core
    /// decodes 8 rows) held them to a third of the multiply-add rate.
    case panels
    /// AVX-512, in C: `chains` at 16 lanes, for weights streamed from memory. Up to `wideColumnRows` rows 16 weight rows
    /// a tile, eight columns at a time transposed in registers, against each x entry broadcast (`td_fewrow_wide_columns`);
    /// above, x's rows along the lanes, each weight broadcast against one to three vectors of them, 12 weight rows a tile
    /// (8 against three vectors; `td_fewrow_wide_rows`). Either asks for the weights of the tile two on into L2, and the
    /// two threads take the blocks from the two ends (`fewRowProducts`). The bits of `chains`. It replaced `wide` on
    /// AVX-512 builds (README, "`wideChains`"): on the Sapphire Rapids machine a 16-row step's products over
    /// SmolLM2-135M's 540 MB went from 34.8-35.1 to 28.4-28.9 ms, 48 rows from 66.5-70.8 to 43.8-43.9, one row 21.7
    /// against 22.2-22.8, four rows 24.5-24.7 against 23.3.
    case wideChains

    /// `wideChains` where the CPU has AVX-512 and the build targets it (Package.swift), `wide` where only the CPU has it,
    /// else `chains` where the build has AVX2 and FMA, else `narrow`.
    public static let native: FewRowKernel = BLAS.thisCPUFlags.contains("avx512f") ? (td_fewrow_panels_available() != 0 ? .wideChains : .wide) : td_fewrow_available() != 0 ? .chains : .narrow

    /// Most rows for which `chains` takes the transposing tile (`td_fewrow_columns`): below 8 rows the lanes tile
    /// would multiply mostly padding (`TD_FEWROW_COLUMN_ROWS`, which `td_fewrow_block_width` follows too).
    public static let columnRows = Int(TD_FEWROW_COLUMN_ROWS)

    /// Most rows for which `wideChains` takes its transposing tile (`td_fewrow_wide_columns`, `TD_FEWROW_WIDE_COLUMN_ROWS`).
    public static let wideColumnRows = Int(TD_FEWROW_WIDE_COLUMN_ROWS)

    /// Floats ahead of each weight row it reads at which `chains` asks for the weights it will read next (48 KB;
    /// 12 KB to 96 KB gave the same 16-row steps on the AMD EPYC (Zen 3) machine).
    static let chainsPrefetchDistance = 12_288

    /// Outputs (weight rows) per block, the unit the cores share out.
    func blockWidth(rows m: Int) -> Int {
        switch self {
        case .wide, .narrow: 4
        case .chains: td_fewrow_block_width(m)
        case .wideChains: td_fewrow_wide_block_width(m)
        case .panels: 16
        }
    }

    /// Most rows for which the kernel beat split sgemm over SmolLM2-135M's weights on the CPU it is native to
    /// (`distill bench --lm-phase products`, README "Generation"). `wide`, on the Sapphire Rapids machine: 0.74x
    /// sgemm's time at M = 16, 0.90x at 40, 0.95x at 48, 0.99x at 64. `narrow`, on the AMD EPYC (Zen 3) machine, with
    /// the blocks in chunks taken in turn (`fewRowProducts`, 2026-12-07, two runs): 0.68x-0.69x at 16, 0.81x-0.88x at
    /// 32, 0.89x at 40, 0.97x at 48, 1.00x-1.03x at 64 (before the chunks it had stopped at 24, 1.18x at 32). `chains`,
    /// there (2026-12-07, two runs): 0.57x-0.59x at 16, 0.66x-0.67x at 24 (0.74x-0.76x before its 24 x 4 tile), 0.76x
    /// at 32, 0.94x-0.97x at 40, 0.92x-1.00x at 48, 0.96x-1.00x at 64. `wideChains`, on the Sapphire Rapids machine
    /// (2026-12-07, two runs): 0.57x-0.60x at 16, 0.62x-0.63x at 32, 0.73x-0.74x at 48, 0.86x-0.97x at 64.
    public var maximumRows: Int {
        switch self {
        case .wide: 48
        case .narrow, .chains, .panels, .wideChains: 48
        }
    }

    /// Whether every tile of x rows asks for a share of the weight rows two blocks on (`narrow`), or the first tile
    /// for all of them (`wide`). On the AMD EPYC (Zen 3) machine, interleaved in one process at M = 16, spreading
    /// took the kernel's time from 62-87 ms to 55-69 ms a step (0.79x-0.91x of it in three runs), at M = 8 and 32 to
    /// 0.85x and 0.91x, and left M = 1 alike: one tile's requests had come faster than memory could take them. The
    /// `wide` kernel keeps what was measured on the Sapphire Rapids machine, where spreading has not been measured.
    var spreadsPrefetches: Bool { self == .narrow }
}

/// Where decoding uses the few-row kernel instead of sgemm.
public enum FewRowProduct {
    /// Most rows (M) for which `linear` uses the kernel while `isEnabled`: the native kernel's `maximumRows` (48 on
    /// AVX-512 and on AVX2).
    public static let maximumRows = FewRowKernel.native.maximumRows

    /// Fewest weight bytes for which `linear` uses the kernel while `isEnabled`. Below it the weights sit in cache,
    /// sgemm pays little for packing them, and the kernel was the slower one: at the default curriculum's student
    /// (3 layers x 64, 16 KB a weight) FP32 decoding ran 8% slower with it (`distill quantize`'s decoding figure on
    /// the default run's student, 2026-12-06, Sapphire Rapids, A B B A: 60,632 / 57,501 tokens/s with the kernel
    /// against 63,593 / 66,333 without). SmolLM2-135M's smallest weight (k_proj, 576 x 192) is 442 KB.
    public static let minimumWeightBytes = 256 << 10

    /// True inside a KV-cache step (task-local): there `linear` without gradients sends products of at most
    /// `maximumRows` rows to the kernel. Off elsewhere, so training and scoring keep sgemm's results bit for bit.
    @TaskLocal public static var isEnabled = false

    /// The packed weights of the decoding loop running this step, if any (task-local, set with `isEnabled`).
    @TaskLocal public static var panels: FewRowPanelSet? = nil
}

/// y (M, N) = x (M, K) W^T for W (N, K) row-major, without packing W (see the top of this file).
/// - Parameters:
///   - x: M rows of K floats, row stride `ldx` (>= K).
///   - w: N rows of K floats, row stride `ldw` (>= K).
///   - y: M rows of N floats written (not accumulated), row stride `ldy` (>= N).
///   - kernel: the vector width; `.native` unless a test compares the two.
public func fewRowProduct(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, w: UnsafePointer<Float>, ldw: Int,
                          y: UnsafeMutablePointer<Float>, ldy: Int, kernel: FewRowKernel = .native) {
    fewRowProducts(m: m, k: k, x: x, ldx: ldx, [FewRowTarget(n: n, w: w, ldw: ldw, y: y, ldy: ldy)], kernel: kernel)
}

/// One weight of `fewRowProducts` and where its product goes: W (N, K) row-major with row stride `ldw` (>= K), y
/// (M, N) written with row stride `ldy` (>= N). For the `panels` kernel, `w` is the weight's `FewRowPanels.start`
/// (`ldw` then unused).
public struct FewRowTarget {
    public let n: Int, w: UnsafePointer<Float>, ldw: Int, y: UnsafeMutablePointer<Float>, ldy: Int

    public init(n: Int, w: UnsafePointer<Float>, ldw: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
        (self.n, self.w, self.ldw, self.y, self.ldy) = (n, w, ldw, y, ldy)
    }
}

/// y_t = x W_t^T for every target t, all over the same x (a layer's q, k and v projections; its gate and up): the
/// products' blocks of weight rows (`FewRowKernel.blockWidth`), numbered across the targets in order, are split across
/// the cores as one piece of work, so the products cost one hand-off instead of one each. Each output's bits are
/// `fewRowProduct`'s.
///
/// The blocks go out in `Parallel.fewRowChunksPerThread` chunks per thread, which the threads take in turn: the caller
/// starts at once and a worker that wakes late takes fewer chunks, where with one chunk per thread the whole product
/// waited for the later thread (a worker's wake-up takes tens of microseconds on these machines, a product 0.02-0.3 ms).
public func fewRowProducts(m: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, _ targets: [FewRowTarget],
                           kernel: FewRowKernel = .native) {
    precondition(m >= 0 && k >= 0 && ldx >= k && targets.allSatisfy { $0.n >= 0 && $0.ldw >= k && $0.ldy >= $0.n },
                 "fewRowProducts: m \(m), k \(k), x stride \(ldx), targets (n, w stride, y stride) \(targets.map { ($0.n, $0.ldw, $0.ldy) })")
    precondition(kernel != .wideChains || FewRowPanels.isAvailable, "fewRowProducts: the wideChains kernel needs a build for AVX-512")
    guard m > 0 else { return }
    let width = kernel.blockWidth(rows: m)
    var firstBlock = [0]  // target t's blocks are firstBlock[t]..<firstBlock[t + 1]
    for t in targets { firstBlock.append(firstBlock[firstBlock.count - 1] + (t.n + width - 1) / width) }
    let blocks = firstBlock[targets.count]
    guard blocks > 0 else { return }
    // `chains` with more than `columnRows` rows reads x column by column, packed once for every target and thread
    var packed: UnsafeMutablePointer<Float>? = nil
    if kernel == .chains && m > FewRowKernel.columnRows {
        packed = .allocate(capacity: td_fewrow_lanes(m) * k)
        td_fewrow_pack(m, k, x, ldx, packed)
    } else if kernel == .wideChains && m > FewRowKernel.wideColumnRows {
        packed = .allocate(capacity: td_fewrow_wide_lanes(m) * k)
        td_fewrow_wide_pack(m, k, x, ldx, packed)
    }
    defer { packed?.deallocate() }
    // `backward`: the targets and their blocks from the last (the second side of `wideChains`' split, below)
    func run(_ range: Range<Int>, backward: Bool = false) {
        for q in 0..<targets.count {
            let i = backward ? targets.count - 1 - q : q, t = targets[i]
            let lo = max(range.lowerBound, firstBlock[i]), hi = min(range.upperBound, firstBlock[i + 1])
            guard lo < hi else { continue }
            let local = (lo - firstBlock[i])..<(hi - firstBlock[i])
            switch kernel {
            case .wide: fewRowBlocks(SIMD16<Float>.self, rowsPerTile: 4, spreadsPrefetches: false, m: m, n: t.n, k: k, x: x, ldx: ldx,
                                     w: t.w, ldw: t.ldw, y: t.y, ldy: t.ldy, blocks: local)
            case .narrow: fewRowBlocks(SIMD8<Float>.self, rowsPerTile: 2, spreadsPrefetches: true, m: m, n: t.n, k: k, x: x, ldx: ldx,
                                       w: t.w, ldw: t.ldw, y: t.y, ldy: t.ldy, blocks: local)
            case .chains, .wideChains:
                let j0 = local.lowerBound * width, j1 = min(t.n, local.upperBound * width)
                if let packed, kernel == .wideChains {
                    td_fewrow_wide_rows(m, k, packed, t.w, t.ldw, j0, j1, t.y, t.ldy, backward ? 1 : 0)
                } else if kernel == .wideChains {
                    td_fewrow_wide_columns(m, k, x, ldx, t.w, t.ldw, j0, j1, t.y, t.ldy, backward ? 1 : 0)
                } else if let packed {
                    td_fewrow_rows(m, k, packed, t.w, t.ldw, j0, j1, t.y, t.ldy, FewRowKernel.chainsPrefetchDistance)
                } else {
                    td_fewrow_columns(m, k, x, ldx, t.w, t.ldw, j0, j1, t.y, t.ldy, FewRowKernel.chainsPrefetchDistance)
                }
            case .panels:
                td_fewrow_panels(m, k, x, ldx, t.w, t.n, local.lowerBound, local.upperBound, t.y, t.ldy)
            }
        }
    }
    let work = m * k * targets.reduce(0) { $0 + $1.n }
    if kernel == .wideChains && Parallel.shouldSplit(parts: blocks, work: work) {
        // Two threads from the two ends of the blocks, each in runs of `step`, the second walking down: each reads on
        // through weights of its own, which its prefetches (two tiles on, the way it walks) have asked for, and a thread
        // that wakes late takes fewer runs. With chunks taken in turn from one counter (below) the prefetches at each
        // chunk's end asked for a chunk that the other core would often take.
        precondition(blocks < 1 << 31, "fewRowProducts: \(blocks) blocks")
        var claims: UInt64 = 0
        td_fewrow_claims_init(&claims, blocks)
        let step = max(1, blocks / (2 * Parallel.fewRowChunksPerThread))
        withUnsafeMutablePointer(to: &claims) { claims in
            DispatchQueue.concurrentPerform(iterations: 2) { side in
                var first = 0
                while true {
                    let count = td_fewrow_claim(claims, Int32(side), step, &first)
                    if count == 0 { break }
                    run(first..<(first + count), backward: side == 1)
                }
            }
        }
        return
    }
    Parallel.forRanges(blocks, work: work, chunksPerThread: Parallel.fewRowChunksPerThread) { run($0) }
}

/// A SIMD vector of floats the kernel accumulates in, with its horizontal sum in a fixed order.
protocol FewRowVector: SIMD where Scalar == Float {
    /// The sum of the lanes, by halves (the same order on every call).
    func total() -> Float
}

extension SIMD16: FewRowVector where Scalar == Float {
    @inline(__always) func total() -> Float {
        let a = lowHalf + highHalf, b = a.lowHalf + a.highHalf, c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }
}

extension SIMD8: FewRowVector where Scalar == Float {
    @inline(__always) func total() -> Float {
        let b = lowHalf + highHalf, c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }
}

@inline(__always) private func load<V: FewRowVector>(_ p: UnsafePointer<Float>) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// Weight-row blocks `blocks` (4 rows each) against all M rows, `rowsPerTile` (4 or 2) x rows at a time; the 4
/// weight rows stay in L1 while every tile of x passes over them. `spreadsPrefetches`: `FewRowKernel.spreadsPrefetches`.
@inline(__always)
private func fewRowBlocks<V: FewRowVector>(_: V.Type, rowsPerTile: Int, spreadsPrefetches: Bool, m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                                           w: UnsafePointer<Float>, ldw: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                                           blocks: Range<Int>) {
    for block in blocks {
        let j0 = block * 4, nr = min(4, n - j0)
        // a block past N's end repeats its last weight row; those results are not stored
        let w0 = w + j0 * ldw, w1 = w + min(j0 + 1, n - 1) * ldw, w2 = w + min(j0 + 2, n - 1) * ldw, w3 = w + min(j0 + 3, n - 1) * ldw
        let tiles = (m + rowsPerTile - 1) / rowsPerTile, lanes = V.scalarCount
        var i0 = 0
        while i0 < m {
            let mr = min(rowsPerTile, m - i0), tile = i0 / rowsPerTile
            // the weight rows two blocks on are asked for (a hint, harmless past W's end), so that memory brings
            // them in while the tiles multiply; without it a step's arithmetic and its weight reads took turns.
            // Either the first tile asks for all of them, or tile t for the vectors t, t + tiles, t + 2 tiles, ...
            let ahead = w0 + 8 * ldw
            let firstPrefetch = spreadsPrefetches ? tile * lanes : tile == 0 ? 0 : Int.max
            let prefetchStride = spreadsPrefetches ? tiles * lanes : lanes
            if rowsPerTile == 4 {
                let x0 = x + i0 * ldx, x1 = x + min(i0 + 1, m - 1) * ldx, x2 = x + min(i0 + 2, m - 1) * ldx, x3 = x + min(i0 + 3, m - 1) * ldx
                tile4x4(V.self, x0, x1, x2, x3, w0, w1, w2, w3, k: k, y: y + i0 * ldy + j0, ldy: ldy, rows: mr, columns: nr,
                        ahead: ahead, aheadStride: ldw, firstPrefetch: firstPrefetch, prefetchStride: prefetchStride)
            } else {
                let x0 = x + i0 * ldx, x1 = x + min(i0 + 1, m - 1) * ldx
                tile2x4(V.self, x0, x1, w0, w1, w2, w3, k: k, y: y + i0 * ldy + j0, ldy: ldy, rows: mr, columns: nr,
                        ahead: ahead, aheadStride: ldw, firstPrefetch: firstPrefetch, prefetchStride: prefetchStride)
            }
            i0 += rowsPerTile
        }
    }
}

/// The dot products of x rows x0..x3 with weight rows w0..w3 into y (rows x columns of the 4 x 4 stored).
@inline(__always)
private func tile4x4<V: FewRowVector>(_: V.Type, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
                                      _ x3: UnsafePointer<Float>, _ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>,
                                      _ w2: UnsafePointer<Float>, _ w3: UnsafePointer<Float>, k: Int, y: UnsafeMutablePointer<Float>,
                                      ldy: Int, rows: Int, columns: Int,
                                      ahead: UnsafePointer<Float>, aheadStride: Int, firstPrefetch: Int, prefetchStride: Int) {
    var c00 = V(), c01 = V(), c02 = V(), c03 = V(), c10 = V(), c11 = V(), c12 = V(), c13 = V()
    var c20 = V(), c21 = V(), c22 = V(), c23 = V(), c30 = V(), c31 = V(), c32 = V(), c33 = V()
    let lanes = V.scalarCount
    var i = 0, nextPrefetch = firstPrefetch
    while i + lanes <= k {
        if i == nextPrefetch {
            tracedistill_prefetch_l2(ahead + i); tracedistill_prefetch_l2(ahead + aheadStride + i)
            tracedistill_prefetch_l2(ahead + 2 * aheadStride + i); tracedistill_prefetch_l2(ahead + 3 * aheadStride + i)
            nextPrefetch += prefetchStride
        }
        let b0: V = load(w0 + i), b1: V = load(w1 + i), b2: V = load(w2 + i), b3: V = load(w3 + i)
        var a: V = load(x0 + i)
        c00.addProduct(a, b0); c01.addProduct(a, b1); c02.addProduct(a, b2); c03.addProduct(a, b3)
        a = load(x1 + i)
        c10.addProduct(a, b0); c11.addProduct(a, b1); c12.addProduct(a, b2); c13.addProduct(a, b3)
        a = load(x2 + i)
        c20.addProduct(a, b0); c21.addProduct(a, b1); c22.addProduct(a, b2); c23.addProduct(a, b3)
        a = load(x3 + i)
        c30.addProduct(a, b0); c31.addProduct(a, b1); c32.addProduct(a, b2); c33.addProduct(a, b3)
        i += lanes
    }
    @inline(__always) func put(_ r: Int, _ c: Int, _ acc: V, _ xr: UnsafePointer<Float>, _ wc: UnsafePointer<Float>) {
        if r < rows && c < columns { y[r * ldy + c] = tail(acc.total(), xr, wc, from: i, to: k) }
    }
    put(0, 0, c00, x0, w0); put(0, 1, c01, x0, w1); put(0, 2, c02, x0, w2); put(0, 3, c03, x0, w3)
    put(1, 0, c10, x1, w0); put(1, 1, c11, x1, w1); put(1, 2, c12, x1, w2); put(1, 3, c13, x1, w3)
    put(2, 0, c20, x2, w0); put(2, 1, c21, x2, w1); put(2, 2, c22, x2, w2); put(2, 3, c23, x2, w3)
    put(3, 0, c30, x3, w0); put(3, 1, c31, x3, w1); put(3, 2, c32, x3, w2); put(3, 3, c33, x3, w3)
}

/// `tile4x4` for 2 x rows (the 16-register AVX2 tile).
@inline(__always)
private func tile2x4<V: FewRowVector>(_: V.Type, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ w0: UnsafePointer<Float>,
                                      _ w1: UnsafePointer<Float>, _ w2: UnsafePointer<Float>, _ w3: UnsafePointer<Float>, k: Int,
                                      y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int, columns: Int,
                                      ahead: UnsafePointer<Float>, aheadStride: Int, firstPrefetch: Int, prefetchStride: Int) {
    var c00 = V(), c01 = V(), c02 = V(), c03 = V(), c10 = V(), c11 = V(), c12 = V(), c13 = V()
    let lanes = V.scalarCount
    var i = 0, nextPrefetch = firstPrefetch
    while i + lanes <= k {
        if i == nextPrefetch {
            tracedistill_prefetch_l2(ahead + i); tracedistill_prefetch_l2(ahead + aheadStride + i)
            tracedistill_prefetch_l2(ahead + 2 * aheadStride + i); tracedistill_prefetch_l2(ahead + 3 * aheadStride + i)
            nextPrefetch += prefetchStride
        }
        let b0: V = load(w0 + i), b1: V = load(w1 + i), b2: V = load(w2 + i), b3: V = load(w3 + i)
        var a: V = load(x0 + i)
        c00.addProduct(a, b0); c01.addProduct(a, b1); c02.addProduct(a, b2); c03.addProduct(a, b3)
        a = load(x1 + i)
        c10.addProduct(a, b0); c11.addProduct(a, b1); c12.addProduct(a, b2); c13.addProduct(a, b3)
        i += lanes
    }
    @inline(__always) func put(_ r: Int, _ c: Int, _ acc: V, _ xr: UnsafePointer<Float>, _ wc: UnsafePointer<Float>) {
        if r < rows && c < columns { y[r * ldy + c] = tail(acc.total(), xr, wc, from: i, to: k) }
    }
    put(0, 0, c00, x0, w0); put(0, 1, c01, x0, w1); put(0, 2, c02, x0, w2); put(0, 3, c03, x0, w3)
    put(1, 0, c10, x1, w0); put(1, 1, c11, x1, w1); put(1, 2, c12, x1, w2); put(1, 3, c13, x1, w3)
}

/// `sum` plus the products of the last K % lanes entries, one fused multiply-add each, in order.
@inline(__always)
private func tail(_ sum: Float, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, from i: Int, to k: Int) -> Float {
    var s = sum
    for j in i..<k { s.addProduct(x[j], w[j]) }
    return s
}

/// A weight (N, K) packed for the `panels` kernel (`td_fewrow_pack_panels`): (N + 15) / 16 panels of K columns of 16
/// outputs, zeros past row N. Packed once per decoding loop (`FewRowPanelSet`), read at every step.
public final class FewRowPanels: @unchecked Sendable {
    public let n: Int, k: Int
    let start: UnsafeMutablePointer<Float>

    /// `weight` (N, K), packed.
    public init(_ weight: Tensor) {
        precondition(weight.rank == 2, "FewRowPanels: weight \(weight.shape) is not a matrix")
        (n, k) = (weight.shape[0], weight.shape[1])
        start = .allocate(capacity: Swift.max(1, (n + 15) / 16 * 16 * k))
        td_fewrow_pack_panels(n, k, weight.ptr, k, start)
    }

    deinit { start.deallocate() }

    /// Whether the `panels` kernel exists here (a build for AVX-512).
    public static let isAvailable = td_fewrow_panels_available() != 0

    /// Whether a decoding loop should pack a float weight of `bytes` bytes: where the kernel exists and the weight is
    /// smaller than `FewRowProduct.minimumWeightBytes` (larger ones stream from memory, where packing buys nothing and
    /// `wideChains`, reading them in place, is the measured kernel) and at least `smallestBytes`.
    public static func isWorthPacking(bytes: Int) -> Bool {
        isAvailable && bytes >= smallestBytes && bytes < FewRowProduct.minimumWeightBytes
    }

    /// Fewest bytes of a weight packed for the `panels` kernel.
    public static let smallestBytes = 4 << 10
}

/// The packed weights of one decoding loop, found by the address of the weight they were packed from: while a KV-cache
/// step runs with a set (`FewRowProduct.panels`), `linear` and `linears` send the few-row products over those weights to
/// the `panels` kernel. The weights must not change while the set is in use (a decoding loop holds them fixed).
public final class FewRowPanelSet: @unchecked Sendable {
    private let packed: [UnsafePointer<Float>: FewRowPanels]
    /// The weights packed, held so that no other tensor takes their memory (and so their address) while the set lives.
    private let sources: [Tensor]

    /// Packs each weight of `weights` that `FewRowPanels.isWorthPacking`; empty where the kernel does not exist.
    public init(_ weights: [Tensor]) {
        var packed: [UnsafePointer<Float>: FewRowPanels] = [:], sources: [Tensor] = []
        for w in weights where w.rank == 2 && FewRowPanels.isWorthPacking(bytes: w.count * MemoryLayout<Float>.stride) {
            packed[UnsafePointer(w.ptr)] = FewRowPanels(w)
            sources.append(w)
        }
        (self.packed, self.sources) = (packed, sources)
    }

    public var isEmpty: Bool { packed.isEmpty }

    /// The panels packed from `weight`, if it was packed (by address and shape).
    public func panels(for weight: Tensor) -> FewRowPanels? {
        guard let p = packed[UnsafePointer(weight.ptr)], weight.rank == 2, p.n == weight.shape[0], p.k == weight.shape[1] else { return nil }
        return p
    }
}
