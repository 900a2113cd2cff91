import Foundation
import Tensor
import Testing
import TestSupport

// reshape, transpose, permute, concat and split (Sources/Tensor/Ops/Shape.swift): these only move values,
// so forward values must equal numpy's exactly; gradients against finite differences.

@Suite("Shape")
struct ShapeTests {
    @Test("reshape keeps the values (and shares storage); -1 is inferred; gradient passes through")
    func reshapeOp() throws {
        for (name, c) in try Fixtures.cases("reshape") {
            let x = c.input("x"), shape = c.intList("shape")
            let y = reshape(x, shape)
            allEqual(y, c.output(), name)
            #expect(y.storage === x.storage, "\(name): reshape copied")
            checkGradients([x], name) { reshape($0[0], shape) }
        }
    }

    @Test("permute matches numpy's transpose exactly; gradient matches finite differences")
    func permuteOp() throws {
        for (name, c) in try Fixtures.cases("permute") {
            let order = c.intList("order")
            allEqual(permute(c.input("x"), order), c.output(), name)
            checkGradients([c.input("x")], name) { permute($0[0], order) }
        }
    }

    @Test("transpose swaps two dims (negative dims count from the end)")
    func transposeOp() throws {
        for (name, c) in try Fixtures.cases("transpose") {
            let d = c.intList("dims")
            allEqual(transpose(c.input("x"), d[0], d[1]), c.output(), name)
            checkGradients([c.input("x")], name) { transpose($0[0], d[0], d[1]) }
        }
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let t = transpose(x, 0, 1)
        #expect(t.shape == [3, 2])
        #expect(t.toArray() == [1, 4, 2, 5, 3, 6])
    }

    @Test("permute then its inverse gives back the input")
    func permuteRoundTrip() {
        let x = randomNormal([2, 3, 4, 5], seed: 21)
        let order = [2, 0, 3, 1]
        var inverse = [Int](repeating: 0, count: 4)
        for (i, o) in order.enumerated() { inverse[o] = i }
        #expect(permute(permute(x, order), inverse).toArray() == x.toArray())
    }

    @Test("concat matches numpy exactly along first, middle and last axes; gradients split back")
    func concatOp() throws {
        for (name, c) in try Fixtures.cases("concat") {
            let xs = c.inputs(prefix: "x"), axis = c.int("axis")
            allEqual(concat(xs, axis: axis), c.output(), name)
            checkGradients(xs, name) { concat($0, axis: axis) }
        }
    }

    @Test("split matches numpy exactly; each piece's gradient lands in its slice")
    func splitOp() throws {
        for (name, c) in try Fixtures.cases("split") {
            let sizes = c.intList("sizes"), axis = c.int("axis")
            let pieces = split(c.input("x"), sizes: sizes, axis: axis)
            #expect(pieces.count == sizes.count)
            for (i, p) in pieces.enumerated() { allEqual(p, c.output("out\(i)"), "\(name) piece \(i)") }
            for k in 0..<sizes.count {
                checkGradients([c.input("x")], "\(name) piece \(k)") { split($0[0], sizes: sizes, axis: axis)[k] }
            }
            // all pieces used at once (reordered): every slice gets its own gradient
            checkGradients([c.input("x")], "\(name) all pieces") {
                concat(split($0[0], sizes: sizes, axis: axis).reversed(), axis: axis)
            }
        }
    }

    @Test("concat of split is the identity")
    func splitConcatRoundTrip() {
        let x = randomNormal([3, 7, 5], seed: 22)
        #expect(concat(split(x, sizes: [2, 4, 1], axis: 1), axis: 1).toArray() == x.toArray())
        #expect(concat(split(x, sizes: [5, 0, 0], axis: -1), axis: -1).toArray() == x.toArray())
    }
}
