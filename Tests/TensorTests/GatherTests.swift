import Foundation
import Tensor
import Testing
import TestSupport

// embedding and gatherRows (Sources/Tensor/Ops/Gather.swift): forward values equal numpy's indexing
// exactly; backward scatter-adds, so a repeated id accumulates the gradients of all its positions.

@Suite("Gather")
struct GatherTests {
    @Test("embedding picks table rows (numpy indexing) and its scatter-add gradient matches finite differences")
    func embeddingOp() throws {
        for (name, c) in try Fixtures.cases("embedding") {
            let ids = c.intList("ids").map(Int32.init), shape = c.intList("shape")
            allEqual(embedding(c.input("table"), ids: ids, shape: shape), c.output(), name)
            checkGradients([c.input("table")], name) { embedding($0[0], ids: ids, shape: shape) }
        }
    }

    @Test("embedding gradient by hand: a repeated id gets the sum, an unused row gets zero")
    func embeddingRepeatedId() {
        let table = Tensor(shape: [4, 2], values: [0, 1, 2, 3, 4, 5, 6, 7], requiresGrad: true)
        let out = embedding(table, ids: [2, 0, 2], shape: [3])
        #expect(out.shape == [3, 2])
        #expect(out.toArray() == [4, 5, 0, 1, 4, 5])
        out.backward(seed: Tensor(shape: [3, 2], values: [1, 10, 100, 1000, 2, 20]))
        #expect(table.grad?.toArray() == [100, 1000, 0, 0, 3, 30, 0, 0])
    }

    @Test("gatherRows picks x[r, index[r]]; gradient is one-hot per row")
    func gatherRowsOp() throws {
        for (name, c) in try Fixtures.cases("gatherRows") {
            let index = c.intList("index").map(Int32.init)
            allEqual(gatherRows(c.input("x"), index: index), c.output(), name)
            checkGradients([c.input("x")], name) { gatherRows($0[0], index: index) }
        }
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let y = gatherRows(x, index: [2, 0])
        #expect(y.toArray() == [3, 4])
        y.backward(seed: Tensor(shape: [2], values: [5, 7]))
        #expect(x.grad?.toArray() == [0, 0, 5, 7, 0, 0])
    }
}
