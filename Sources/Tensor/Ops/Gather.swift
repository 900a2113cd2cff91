// Index-based ops: embedding lookup (rows of a table) and one-index-per-row selection.

/// Rows of `table` (V, C) for each id: ids of shape S give (S..., C). Backward scatter-adds into the table.
public func embedding(_ table: Tensor, ids: [Int32], shape: [Int]) -> Tensor {
    precondition(table.rank == 2, "embedding table must be (V, C), got \(table.shape)")
    precondition(ids.count == shapeCount(shape), "\(ids.count) ids do not fill shape \(shape)")
    let v = table.shape[0], c = table.shape[1]
    let out = Tensor.uninitialized(shape + [c])
    for (i, id) in ids.enumerated() {
        precondition(id >= 0 && Int(id) < v, "token id \(id) outside vocabulary of \(v)")
        (out.ptr + i * c).update(from: table.ptr + Int(id) * c, count: c)
    }
    Tensor.record(out, inputs: [table]) { g in
        let gt = table.gradPointer()
        for (i, id) in ids.enumerated() { vaxpy(c, 1, g.ptr + i * c, gt + Int(id) * c) }
    }
    return out
}

/// x[r, index[r]] for each row r of x (R, C) -> (R) (the log-prob of a chosen token per position).
public func gatherRows(_ x: Tensor, index: [Int32]) -> Tensor {
    let c = x.lastDim, rows = x.rows
    precondition(index.count == rows, "gatherRows: \(index.count) indices for \(rows) rows of \(x.shape)")
    let out = Tensor.uninitialized(Array(x.shape.dropLast()))
    for r in 0..<rows {
        let j = Int(index[r])
        precondition(j >= 0 && j < c, "gatherRows: index \(j) outside 0..<\(c) at row \(r)")
        out.ptr[r] = x.ptr[r * c + j]
    }
    Tensor.record(out, inputs: [x]) { g in
        let gx = x.gradPointer()
        for r in 0..<rows { gx[r * c + Int(index[r])] += g.ptr[r] }
    }
    return out
}
