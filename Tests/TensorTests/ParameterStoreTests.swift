import Foundation
import Tensor
import Testing
import TestSupport

// ParameterStore (Sources/Tensor/ParameterStore.swift): views into one flat buffer, gradients landing in
// the mirror buffer, and global-norm gradient clipping.

@Suite("ParameterStore")
struct ParameterStoreTests {
    private func store(gradA: [Float], gradB: [Float]) -> ParameterStore {
        let s = ParameterStore([(name: "a", shape: [2], decay: true), (name: "b", shape: [3], decay: false)])
        s.gradients.base.update(from: gradA + gradB, count: 5)
        return s
    }

    @Test("views are laid out in order in one buffer; a parameter's gradient lands in the mirror buffer")
    func layout() {
        let s = ParameterStore([(name: "x.weight", shape: [2, 3], decay: true), (name: "x.bias", shape: [2], decay: false)])
        #expect(s.count == 8)
        #expect(s.names == ["x.weight", "x.bias"])
        #expect(s.view("x.bias")?.offset == 6)
        #expect(s.contains("x.weight") && !s.contains("y"))
        #expect(s["x.bias"].ptr == s.values.base + 6)
        #expect(s["x.weight"].requiresGrad)
        let input = Tensor(shape: [1, 3], values: [1, 2, 3])
        sum(linear(input, weight: s["x.weight"], bias: s["x.bias"])).backward()
        // W is [out 2, in 3]: dW = each output's gradient (1) times the input; db = 1
        #expect(Array(UnsafeBufferPointer(start: s.gradients.base, count: 8)) == [1, 2, 3, 1, 2, 3, 1, 1])
        #expect(s["x.bias"].grad!.toArray() == [1, 1])
        s.zeroGradients()
        #expect(Array(UnsafeBufferPointer(start: s.gradients.base, count: 8)).allSatisfy { $0 == 0 })
    }

    @Test("a store sharing values sees the same weights, keeps its own gradients (frozen flags too), and adds them back")
    func sharingValues() {
        let s = ParameterStore([(name: "x.weight", shape: [2, 3], decay: true), (name: "x.bias", shape: [2], decay: false)])
        s.values.base.update(from: [1, 0, -1, 2, 1, 0, 0.5, -0.5], count: 8)
        s.setFrozen("x.bias", true)
        let r = s.sharingValues()
        #expect(r.names == s.names && r["x.weight"].ptr == s["x.weight"].ptr)
        #expect(r["x.weight"].requiresGrad && !r["x.bias"].requiresGrad && r.view("x.bias")?.frozen == true)
        s.values.base[0] = 3  // one buffer of values: a write through either store shows in both
        #expect(r["x.weight"].toArray()[0] == 3)
        sum(linear(Tensor(shape: [1, 3], values: [1, 2, 3]), weight: r["x.weight"], bias: r["x.bias"])).backward()
        #expect(Array(UnsafeBufferPointer(start: r.gradients.base, count: 8)) == [1, 2, 3, 1, 2, 3, 0, 0])
        #expect(Array(UnsafeBufferPointer(start: s.gradients.base, count: 8)) == [Float](repeating: 0, count: 8))
        s.gradients.base.update(from: [1, 1, 1, 1, 1, 1, 0, 0], count: 8)
        s.addGradients(from: r)
        #expect(Array(UnsafeBufferPointer(start: s.gradients.base, count: 8)) == [2, 3, 4, 2, 3, 4, 0, 0])
    }

    @Test("clipGradients over the cap: returns the pre-clip norm, caps the norm at maxNorm, keeps the direction")
    func clipOverCap() {
        let s = store(gradA: [3, 4], gradB: [0, 0, 12])  // norm 13
        #expect(s.gradientNorm() == 13)
        let norm = s.clipGradients(maxNorm: 6.5)
        #expect(norm == 13)
        let g = Array(UnsafeBufferPointer(start: s.gradients.base, count: 5))
        allClose(g, [1.5, 2, 0, 0, 6] as [Double], rtol: 1e-5, atol: 0)
        // direction: every component scaled by the same factor
        let ratios = zip(g, [3, 4, 12] as [Float]).map { $0 / $1 }
        #expect(abs(g[0] / 3 - g[1] / 4) < 1e-7 && abs(g[1] / 4 - g[4] / 12) < 1e-7, "ratios \(ratios)")
        let after = s.gradientNorm()
        #expect(after <= 6.5 && after > 6.5 * (1 - 1e-5), "norm after clipping \(after)")
    }

    @Test("clipGradients under (or at) the cap changes nothing and returns the norm")
    func clipUnderCap() {
        for cap: Float in [13.5, 13, 1000] {
            let s = store(gradA: [3, 4], gradB: [0, 0, 12])
            #expect(s.clipGradients(maxNorm: cap) == 13)
            #expect(Array(UnsafeBufferPointer(start: s.gradients.base, count: 5)) == [3, 4, 0, 0, 12], "cap \(cap)")
        }
    }

    @Test("frozen views are left out of the norm and of clipping")
    func clipSkipsFrozen() {
        let s = store(gradA: [3, 4], gradB: [0, 0, 12])
        s.setFrozen("b", true)
        #expect(s.gradientNorm() == 5)
        #expect(s.clipGradients(maxNorm: 1) == 5)
        let g = Array(UnsafeBufferPointer(start: s.gradients.base, count: 5))
        allClose(Array(g[0..<2]), [0.6, 0.8] as [Double], rtol: 1e-5, atol: 0)
        #expect(Array(g[2...]) == [0, 0, 12])
        s.setAllFrozen(false)
        #expect(s.view("b")?.frozen == false && s["b"].requiresGrad)
    }

    @Test("copyValues copies every parameter from a store of the same layout")
    func copyValues() {
        let a = ParameterStore([(name: "p", shape: [4], decay: true)])
        let b = ParameterStore([(name: "p", shape: [4], decay: true)])
        a["p"].assign(Tensor(shape: [4], values: [1, 2, 3, 4]))
        b.copyValues(from: a)
        #expect(b["p"].toArray() == [1, 2, 3, 4])
    }
}
