import CBLAS

// Matrix products through OpenBLAS's cblas_sgemm. Shapes: A (..., M, K), B (K, N) shared across the
// batch or (..., K, N) batched with the same leading dims; transposes are flags, never copies.

/// C = alpha * op(A) op(B) + beta * C, row-major, through cblas_sgemm.
///
/// OpenBLAS runs single-threaded (its idle workers spin and starve the elementwise kernels on a 2-core
/// machine); large products are instead split into two blocks of rows of C (or columns, when C is wide), each
/// by one single-threaded cblas_sgemm, computed concurrently when `Parallel.threads` > 1 and one after the other
/// otherwise. Two whatever the thread count: OpenBLAS's Haswell kernels (AVX2 CPUs) give some rows other bits
/// when the blocks move, so a product split by the thread count made a validation batch at an mpirun rank of one
/// thread differ in the last bit from one process of two (`scripts/test-mpi.sh`, on the AMD EPYC machine).
@inline(__always)
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    BLAS.useSingleThread()
    let parts = Parallel.fixedParts(max(m, n))  // two, whatever Parallel.threads is (above)
    guard Parallel.splitProducts, m * n * k >= Parallel.minimumProductWork, !Parallel.insideSplit, max(m, n) >= 2 * parts * 16 else {
        blasGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    // Blocks are multiples of 16 rows/columns so every block keeps OpenBLAS's full-width kernels.
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let block = ((extent + parts - 1) / parts + 15) / 16 * 16
    let count = (extent + block - 1) / block
    func product(_ i: Int) {
        let lo = i * block, len = min(block, extent - lo)
        if splitRows {  // rows lo..<lo+len of C and of op(A)
            blasGemm(transA, transB, len, n, k, alpha, a + (transA ? lo : lo * lda), lda, b, ldb, beta, c + lo * ldc, ldc)
        } else {  // columns lo..<lo+len of C and of op(B)
            blasGemm(transA, transB, m, len, k, alpha, a, lda, b + (transB ? lo * ldb : lo), ldb, beta, c + lo, ldc)
        }
    }
    Parallel.forParts(count, work: m * n * k, product)
}

@inline(__always)
private func blasGemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta,
                c, blasint(ldc))
}

/// The geometry of one (possibly batched) product op(A) op(B).
private struct MatmulPlan {
    var batch: Int, m: Int, n: Int, k: Int
    var strideA: Int, strideB: Int, strideC: Int
    var outShape: [Int]

    init(_ a: Tensor, _ b: Tensor, _ tA: Bool, _ tB: Bool) {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2 operands, got \(a.shape) and \(b.shape)")
        let ar = a.shape.count, br = b.shape.count
        let (aRows, aCols) = (a.shape[ar - 2], a.shape[ar - 1])
        let (bRows, bCols) = (b.shape[br - 2], b.shape[br - 1])
        m = tA ? aCols : aRows
        k = tA ? aRows : aCols
        let kb = tB ? bCols : bRows
        n = tB ? bRows : bCols
        precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(tA ? "^T" : "") x \(b.shape)\(tB ? "^T" : "")")
        let lead = Array(a.shape.dropLast(2))
        if br == 2 {
            if !tA {  // fold the batch into M: one large product
                batch = 1
                m = a.count / k
                strideA = 0; strideB = 0; strideC = 0
            } else {
                batch = shapeCount(lead)
                strideA = aRows * aCols; strideB = 0; strideC = m * n
            }
        } else {
            precondition(Array(b.shape.dropLast(2)) == lead,
                         "batched matmul needs equal leading dims: \(a.shape) x \(b.shape)")
            batch = shapeCount(lead)
            strideA = aRows * aCols; strideB = bRows * bCols; strideC = m * n
        }
        outShape = lead + [tA ? aCols : aRows, n]
    }
}

/// op(A) op(B) for each batch entry; shared 2-D B is reused across the batch.
/// - Parameters:
///   - transposeA: use A^T (A's last two dims swapped).
///   - transposeB: use B^T, e.g. a Linear weight stored [out, in].
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    let p = MatmulPlan(a, b, transposeA, transposeB)
    let out = Tensor.uninitialized(p.outShape)
    let lda = a.lastDim, ldb = b.lastDim
    for i in 0..<p.batch {
        sgemm(transA: transposeA, transB: transposeB, m: p.m, n: p.n, k: p.k,
              a: a.ptr + i * p.strideA, lda: lda, b: b.ptr + i * p.strideB, ldb: ldb,
              beta: 0, c: out.ptr + i * p.strideC, ldc: p.n)
    }
    Tensor.record(out, inputs: [a, b]) { g in
        matmulBackward(a, b, g, p, transposeA, transposeB)
    }
    return out
}

private func matmulBackward(_ a: Tensor, _ b: Tensor, _ g: Tensor, _ p: MatmulPlan, _ tA: Bool, _ tB: Bool) {
    let lda = a.lastDim, ldb = b.lastDim
    if a.requiresGrad {
        let (ga, fresh) = a.gradForWrite()
        for i in 0..<p.batch {
            let gi = g.ptr + i * p.strideC, bi = b.ptr + i * p.strideB, gai = ga + i * p.strideA
            // a fresh buffer is stored into; a shared operand (stride 0) accumulates after the first entry
            let beta: Float = fresh && (i == 0 || p.strideA != 0) ? 0 : 1
            if !tA {  // dA (M,K) = dC (M,N) op(B)^T
                sgemm(transA: false, transB: !tB, m: p.m, n: p.k, k: p.n, a: gi, lda: p.n, b: bi, ldb: ldb,
                      beta: beta, c: gai, ldc: lda)
            } else {  // dA (K,M) = op(B) (K,N) dC^T
                sgemm(transA: tB, transB: true, m: p.k, n: p.m, k: p.n, a: bi, lda: ldb, b: gi, ldb: p.n,
                      beta: beta, c: gai, ldc: lda)
            }
        }
    }
    if b.requiresGrad {
        let (gb, fresh) = b.gradForWrite()
        for i in 0..<p.batch {
            let gi = g.ptr + i * p.strideC, ai = a.ptr + i * p.strideA, gbi = gb + i * p.strideB
            let beta: Float = fresh && (i == 0 || p.strideB != 0) ? 0 : 1
            if !tB {  // dB (K,N) = op(A)^T (K,M) dC (M,N)
                sgemm(transA: !tA, transB: false, m: p.k, n: p.n, k: p.m, a: ai, lda: lda, b: gi, ldb: p.n,
                      beta: beta, c: gbi, ldc: ldb)
            } else {  // dB (N,K) = dC^T (N,M) op(A) (M,K)
                sgemm(transA: true, transB: tA, m: p.n, n: p.k, k: p.m, a: gi, lda: p.n, b: ai, ldb: lda,
                      beta: beta, c: gbi, ldc: ldb)
            }
        }
    }
}

/// x W^T + bias for a Linear layer stored [out, in] (the PyTorch layout). x: (..., in) -> (..., out).
/// Inside a KV-cache step (`FewRowProduct.isEnabled`), without gradients, a product of at most
/// `FewRowProduct.maximumRows` rows over a weight of at least `FewRowProduct.minimumWeightBytes`, or over one the step's
/// `FewRowProduct.panels` packed, goes through `fewRowProducts` instead of sgemm.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    guard fewRowKernel(x, weight: weight) == nil else { return linears(x, weights: [weight], biases: [bias])[0] }
    let y = matmul(x, weight, transposeB: true)
    guard let bias else { return y }
    return add(y, bias)
}

/// `linear(x, weight: weights[i], bias: biases[i])` for each i, for weights that share their input (a layer's q, k and
/// v projections, its gate and up): the same results bit for bit, but the products that take the few-row kernel run as
/// one (`fewRowProducts`), one hand-off to the other cores instead of one per product.
public func linears(_ x: Tensor, weights: [Tensor], biases: [Tensor?]) -> [Tensor] {
    precondition(weights.count == biases.count, "linears: \(weights.count) weights, \(biases.count) biases")
    var targets: [FewRowTarget] = [], packedTargets: [FewRowTarget] = []
    let products = weights.map { weight in
        guard let kernel = fewRowKernel(x, weight: weight) else { return matmul(x, weight, transposeB: true) }
        precondition(x.lastDim == weight.shape[1], "linear: input \(x.shape) against weight \(weight.shape)")
        let y = Tensor.uninitialized(Array(x.shape.dropLast()) + [weight.shape[0]])
        if case .packed(let panels) = kernel {
            packedTargets.append(FewRowTarget(n: panels.n, w: panels.start, ldw: panels.k, y: y.ptr, ldy: panels.n))
        } else {
            targets.append(FewRowTarget(n: weight.shape[0], w: weight.ptr, ldw: weight.lastDim, y: y.ptr, ldy: weight.shape[0]))
        }
        return y
    }
    if !targets.isEmpty { fewRowProducts(m: x.rows, k: x.lastDim, x: x.ptr, ldx: x.lastDim, targets) }
    if !packedTargets.isEmpty { fewRowProducts(m: x.rows, k: x.lastDim, x: x.ptr, ldx: x.lastDim, packedTargets, kernel: .panels) }
    return zip(products, biases).map { y, bias in
        guard let bias else { return y }
        return add(y, bias)
    }
}

/// A few-row kernel for one product: the native one over the weight itself, or `panels` over its packed copy.
private enum FewRowChoice { case native, packed(FewRowPanels) }

/// Which few-row kernel `linear(x, weight:)` takes, if any (see `linear`): the weight's panels where the step's
/// `FewRowProduct.panels` packed it, else the native kernel for a weight of `FewRowProduct.minimumWeightBytes` or more.
@inline(__always)
private func fewRowKernel(_ x: Tensor, weight: Tensor) -> FewRowChoice? {
    guard FewRowProduct.isEnabled && !GradMode.isEnabled && weight.rank == 2 && x.rank >= 1 && x.rows <= FewRowProduct.maximumRows
    else { return nil }
    if let panels = FewRowProduct.panels?.panels(for: weight) { return .packed(panels) }
    return weight.count * MemoryLayout<Float>.stride >= FewRowProduct.minimumWeightBytes ? .native : nil
}
