import Foundation
import Tensor
import Testing
import TestSupport

// sum and mean over one axis (with and without keepDims, negative axes) and over everything
// (Sources/Tensor/Ops/Reduce.swift): forward against numpy, gradients against finite differences.
// Tolerances: float32 sums of at most 33 O(1) terms, rtol 1e-5 with atol 1e-6.

@Suite("Reductions")
struct ReductionTests {
    @Test("sum and mean over an axis match numpy", arguments: ["sum", "mean"])
    func axisForward(op: String) throws {
        for (name, c) in try Fixtures.cases(op) {
            let axis = c.int("axis"), keep = c.int("keepDims") == 1
            let out = op == "sum" ? sum(c.input("x"), axis: axis, keepDims: keep)
                                  : mean(c.input("x"), axis: axis, keepDims: keep)
            allClose(out, c.output(), rtol: 1e-5, atol: 1e-6, name)
        }
    }

    @Test("sum and mean over an axis: gradient matches finite differences", arguments: ["sum", "mean"])
    func axisGradient(op: String) throws {
        for (name, c) in try Fixtures.cases(op) {
            let axis = c.int("axis"), keep = c.int("keepDims") == 1
            checkGradients([c.input("x")], name) {
                op == "sum" ? sum($0[0], axis: axis, keepDims: keep) : mean($0[0], axis: axis, keepDims: keep)
            }
        }
    }

    @Test("sum and mean of everything match numpy and give a scalar", arguments: ["sumAll", "meanAll"])
    func allForwardAndGradient(op: String) throws {
        for (name, c) in try Fixtures.cases(op) {
            let out = op == "sumAll" ? sum(c.input("x")) : mean(c.input("x"))
            #expect(out.shape == [])
            allClose(out, c.output(), rtol: 1e-5, atol: 1e-6, name)
            checkGradients([c.input("x")], name) { op == "sumAll" ? sum($0[0]) : mean($0[0]) }
        }
    }

    @Test("hand values: axis sums of a 2x3 matrix, keepDims shapes, gradient of mean is 1/n")
    func handValues() {
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        #expect(sum(x, axis: 0).toArray() == [5, 7, 9])
        #expect(sum(x, axis: -1).toArray() == [6, 15])
        #expect(mean(x, axis: 1).toArray() == [2, 5])
        #expect(sum(x, axis: 0, keepDims: true).shape == [1, 3])
        #expect(mean(x, axis: 1, keepDims: true).shape == [2, 1])
        #expect(sum(x).item == 21)
        #expect(mean(x).item == 3.5)
        mean(x).backward()
        allClose(x.grad!.toArray(), [Double](repeating: 1.0 / 6, count: 6), rtol: 1e-7, atol: 0)
    }
}
