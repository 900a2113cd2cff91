import Foundation
import Model
import Tensor
import TestSupport
import Testing

// HiddenProjection (FitNets-style student -> teacher width maps): the uniform layer map, the loss value
// against a float64 hand computation, and its gradients (projection weights and student hidden
// states) against finite differences.

@Suite("Hidden projection")
struct HiddenProjectionTests {
    @Test("uniform layer map pairs the last layers: 2 student / 4 teacher -> (0, 1), (1, 3)")
    func uniformLayerMap() {
        func pairs(_ s: Int, _ t: Int) -> [[Int]] { HiddenProjection.uniformLayerMap(studentLayers: s, teacherLayers: t).map { [$0.student, $0.teacher] } }
        #expect(pairs(2, 4) == [[0, 1], [1, 3]])
        #expect(pairs(2, 6) == [[0, 2], [1, 5]])
        #expect(pairs(3, 3) == [[0, 0], [1, 1], [2, 2]])
        #expect(pairs(1, 4) == [[0, 3]])
    }

    /// Two student layers (B 2, T 3, width 4) and four teacher layers (width 6).
    static func hidden() -> (student: [Tensor], teacher: [Tensor]) {
        ((0..<2).map { randomNormal([2, 3, 4], seed: 10 + UInt64($0)) }, (0..<4).map { randomNormal([2, 3, 6], seed: 20 + UInt64($0)) })
    }

    @Test("loss is the mean over pairs of MSE(W_i s, t) (float64 hand computation); one weight per pair")
    func lossValue() {
        var rng = RandomGenerator(seed: 1)
        let map = HiddenProjection.uniformLayerMap(studentLayers: 2, teacherLayers: 4)
        let proj = HiddenProjection(layerMap: map, studentWidth: 4, teacherWidth: 6, rng: &rng)
        #expect(proj.parameters.names == ["projections.0.weight", "projections.1.weight"])
        #expect(proj.parameters["projections.0.weight"].shape == [6, 4])
        let bound = 1 / Float(4).squareRoot()
        #expect(proj.parameters["projections.1.weight"].toArray().allSatisfy { abs($0) <= bound })
        let (s, t) = Self.hidden()
        var total = 0.0
        for (i, pair) in map.enumerated() {
            let w = proj.parameters["projections.\(i).weight"].toArray()
            let sv = s[pair.student].toArray(), tv = t[pair.teacher].toArray()
            var sq = 0.0
            for r in 0..<6 {
                for o in 0..<6 {
                    let y = (0..<4).reduce(0.0) { $0 + Double(w[o * 4 + $1]) * Double(sv[r * 4 + $1]) }
                    sq += (y - Double(tv[r * 6 + o])) * (y - Double(tv[r * 6 + o]))
                }
            }
            total += sq / 36
        }
        allClose(proj.loss(studentHidden: s, teacherHidden: t).item, total / 2, rtol: 1e-5, atol: 1e-6)
    }

    @Test("loss gradients match finite differences: projection weights and student hidden states")
    func gradients() {
        var rng = RandomGenerator(seed: 2)
        let proj = HiddenProjection(layerMap: HiddenProjection.uniformLayerMap(studentLayers: 2, teacherLayers: 4),
                                    studentWidth: 4, teacherWidth: 6, rng: &rng)
        let (s, t) = Self.hidden()
        let samples = sampleParameterGradients(store: proj.parameters, perTensor: 6, h: 1e-2, analytic: {
            proj.loss(studentHidden: s, teacherHidden: t).backward()
        }, objective: { Double(withNoGrad { proj.loss(studentHidden: s, teacherHidden: t) }.item) })
        expectGradientsAgree(samples, rtol: 1e-2, atol: 1e-4, "projection weights")
        expectSignErrorsDetectable(samples, rtol: 1e-2, atol: 1e-4, "projection weights")
        #expect(checkGradients(s, h: 1e-2, rtol: 1e-2, atol: 1e-4, "student hidden") { proj.loss(studentHidden: $0, teacherHidden: t) })
    }
}
