import Foundation
import Model
import Tensor
import TestSupport
import Testing

// distillationLoss (forward KL, reverse KL, generalised JSD; T^2 factor; row mask; no teacher
// gradient), attentionMapLoss (teacher heads averaged or repeated into student heads) and the
// cross-entropy through a model's logits with the prompt masked and label smoothing. Values come from
// scripts/make_model_loss_values.py (NumPy, float64) or float64 hand computation in the test;
// gradients from TestSupport's finite-difference checker (h 1e-2, rtol 1e-2, atol 1e-4).

@Suite("Distillation losses")
struct DistillationLossTests {
    // Same numbers as scripts/make_model_loss_values.py.
    static let student: [Float] = [1.0, -0.5, 2.0, 0.3, -1.2, 0.2, 0.1, -0.3, 1.5, 0.0, -2.0, 0.5, 0.5, 1.0, 3.0]
    static let teacher: [Float] = [2.0, 0.0, 1.0, -1.0, 0.5, 0.0, 0.0, 0.0, 2.0, -1.0, 1.0, 1.0, -1.0, 0.0, 2.5]

    static func s(requiresGrad: Bool = false) -> Tensor { Tensor(shape: [3, 5], values: student, requiresGrad: requiresGrad) }
    static func t(requiresGrad: Bool = false) -> Tensor { Tensor(shape: [3, 5], values: teacher, requiresGrad: requiresGrad) }

    @Test("values match NumPy, T^2 factor included",
          arguments: [
            (Divergence.forwardKL, Float(1), 0.33767238), (.forwardKL, 2, 0.505672147),
            (.reverseKL, 1, 0.274578179), (.reverseKL, 2, 0.436506221),
            (.jsd(beta: 0.5), 1, 0.0680909827), (.jsd(beta: 0.5), 2, 0.112914241),
            (.jsd(beta: 0.3), 1, 0.0593174678), (.jsd(beta: 0.3), 2, 0.0978473246),
          ])
    func values(divergence: Divergence, temperature: Float, expected: Double) {
        let loss = distillationLoss(student: Self.s(), teacher: Self.t(), temperature: temperature, divergence: divergence)
        #expect(loss.shape == [])
        allClose(loss.item, expected, rtol: 1e-5, atol: 1e-6, "\(divergence) T \(temperature)")
    }

    @Test("the T^2 factor: the T = 2 loss is 4x the mean divergence of the softened distributions")
    func temperatureSquared() {
        // Independent of the NumPy numbers: the divergence itself in float64 here.
        var kl = 0.0
        for r in 0..<3 {
            let ls = referenceLogSoftmax(Array(Self.student[(r * 5)..<(r * 5 + 5)]), temperature: 2)
            let lt = referenceLogSoftmax(Array(Self.teacher[(r * 5)..<(r * 5 + 5)]), temperature: 2)
            kl += zip(ls, lt).reduce(0.0) { $0 + Foundation.exp($1.1) * ($1.1 - $1.0) }
        }
        let loss = distillationLoss(student: Self.s(), teacher: Self.t(), temperature: 2)
        allClose(loss.item, 4 * kl / 3, rtol: 1e-5, atol: 1e-6)
        #expect(abs(Double(loss.item) - kl / 3) > 0.1, "loss without the T^2 factor")
    }

    @Test("3-D logits (B, T, V) are rows; identical logits give zero for every divergence")
    func shapesAndZero() {
        let s3 = Tensor(shape: [1, 3, 5], values: Self.student)
        let t3 = Tensor(shape: [1, 3, 5], values: Self.teacher)
        allClose(distillationLoss(student: s3, teacher: t3, temperature: 2).item, 0.505672147, rtol: 1e-5, atol: 1e-6)
        for d in [Divergence.forwardKL, .reverseKL, .jsd(beta: 0.5)] {
            #expect(abs(distillationLoss(student: Self.s(), teacher: Self.s(), temperature: 1.5, divergence: d).item) < 1e-6)
        }
    }

    @Test("gradients match finite differences for each divergence at T != 1",
          arguments: [Divergence.forwardKL, .reverseKL, .jsd(beta: 0.5), .jsd(beta: 0.3)], [Float(2), 0.7])
    func gradients(divergence: Divergence, temperature: Float) {
        let teacher = Self.t()
        let ok = checkGradients([Self.s()], h: 1e-2, rtol: 1e-2, atol: 1e-4, "\(divergence) T \(temperature)") {
            distillationLoss(student: $0[0], teacher: teacher, temperature: temperature, divergence: divergence)
        }
        #expect(ok)
        // Non-vacuous: the gradient is far from zero compared with atol.
        let s = Self.s(requiresGrad: true)
        distillationLoss(student: s, teacher: teacher, temperature: temperature, divergence: divergence).backward()
        #expect(s.grad!.toArray().map(abs).max()! > 1e-2)
    }

    @Test("a vocabulary of 37 (two full 16-lane blocks and a tail): values against a float64 reference, gradients by finite differences",
          arguments: [Divergence.forwardKL, .reverseKL])
    func wideVocabulary(divergence: Divergence) {
        let rows = 3, v = 37, temperature = 1.5
        let s = randomNormal([rows, v], seed: 91, std: 2), t = randomNormal([rows, v], seed: 92, std: 2)
        var expected = 0.0
        for r in 0..<rows {
            let ls = referenceLogSoftmax(Array(s.toArray()[(r * v)..<(r * v + v)]), temperature: temperature)
            let lt = referenceLogSoftmax(Array(t.toArray()[(r * v)..<(r * v + v)]), temperature: temperature)
            let (p, lp, lq) = divergence == .forwardKL ? (lt, lt, ls) : (ls, ls, lt)
            expected += (0..<v).reduce(0.0) { $0 + Foundation.exp(p[$1]) * (lp[$1] - lq[$1]) }
        }
        expected *= temperature * temperature / Double(rows)
        let loss = distillationLoss(student: s, teacher: t, temperature: Float(temperature), divergence: divergence)
        allClose(loss.item, expected, rtol: 1e-5, atol: 1e-6, "\(divergence)")
        #expect(expected > 0.1)
        #expect(checkGradients([s], h: 1e-2, rtol: 1e-2, atol: 1e-4, "\(divergence)") {
            distillationLoss(student: $0[0], teacher: t, temperature: Float(temperature), divergence: divergence)
        })
    }

    @Test("forward KL gradient is T (p_s - p_t) / rows (hand formula)")
    func forwardKLGradientFormula() {
        let s = Self.s(requiresGrad: true)
        distillationLoss(student: s, teacher: Self.t(), temperature: 2).backward()
        var expected: [Double] = []
        for r in 0..<3 {
            let ps = referenceLogSoftmax(Array(Self.student[(r * 5)..<(r * 5 + 5)]), temperature: 2).map { Foundation.exp($0) }
            let pt = referenceLogSoftmax(Array(Self.teacher[(r * 5)..<(r * 5 + 5)]), temperature: 2).map { Foundation.exp($0) }
            expected += zip(ps, pt).map { 2 * ($0 - $1) / 3 }
        }
        allClose(s.grad!.toArray(), expected, rtol: 1e-5, atol: 1e-6)
    }

    @Test("the teacher gets no gradient")
    func noTeacherGradient() {
        for d in [Divergence.forwardKL, .reverseKL, .jsd(beta: 0.5)] {
            let s = Self.s(requiresGrad: true), t = Self.t(requiresGrad: true)
            distillationLoss(student: s, teacher: t, temperature: 2, divergence: d).backward()
            #expect(t.grad == nil || t.grad!.toArray().allSatisfy { $0 == 0 }, "\(d): teacher gradient")
            #expect(s.grad != nil)
        }
        // Only the teacher requires a gradient: nothing is recorded.
        let t = Self.t(requiresGrad: true)
        #expect(!distillationLoss(student: Self.s(), teacher: t, temperature: 2).requiresGrad)
    }

    @Test("rowMask leaves rows out of the value and the gradient",
          arguments: [(Divergence.forwardKL, 0.700732664), (.reverseKL, 0.592001221), (.jsd(beta: 0.5), 0.15441785)])
    func rowMask(divergence: Divergence, expected: Double) {
        let s = Self.s(requiresGrad: true)
        let loss = distillationLoss(student: s, teacher: Self.t(), temperature: 2, divergence: divergence, rowMask: [true, false, true])
        allClose(loss.item, expected, rtol: 1e-5, atol: 1e-6, "NumPy value over rows 0 and 2")
        loss.backward()
        let g = s.grad!.toArray()
        #expect(g[5..<10].allSatisfy { $0 == 0 }, "masked row got a gradient")
        // The kept rows' gradient equals that of the loss over those rows alone.
        let kept = Tensor(shape: [2, 5], values: Array(Self.student[0..<5] + Self.student[10..<15]), requiresGrad: true)
        let keptTeacher = Tensor(shape: [2, 5], values: Array(Self.teacher[0..<5] + Self.teacher[10..<15]))
        distillationLoss(student: kept, teacher: keptTeacher, temperature: 2, divergence: divergence).backward()
        allClose(Array(g[0..<5] + g[10..<15]), kept.grad!.toArray(), rtol: 1e-5, atol: 1e-7)
        // Every row masked: zero.
        #expect(distillationLoss(student: Self.s(), teacher: Self.t(), temperature: 2, rowMask: [false, false, false]).item == 0)
    }

    @Test("JSD with beta 0 and 1 are forward and reverse KL (TRL's convention)")
    func jsdEnds() {
        let f = distillationLoss(student: Self.s(), teacher: Self.t(), temperature: 2, divergence: .jsd(beta: 0)).item
        let r = distillationLoss(student: Self.s(), teacher: Self.t(), temperature: 2, divergence: .jsd(beta: 1)).item
        allClose(f, 0.505672147, rtol: 1e-5, atol: 1e-6)
        allClose(r, 0.436506221, rtol: 1e-5, atol: 1e-6)
    }

    @Test("large logit gaps (log-probabilities below float32 exp's range) keep every divergence finite",
          arguments: [(Divergence.forwardKL, 0.250285063), (.reverseKL, 0.216278583), (.jsd(beta: 0.5), 0.0531197114)])
    func largeLogitGaps(divergence: Divergence, expected: Double) {
        // At T = 0.5 the shared -60 logit has log-probability ~ -121 under both distributions: its
        // probability is 0 in float32 and it must contribute 0, not 0 * log(0) = NaN.
        let s = Tensor(shape: [1, 4], values: [2, -60, 0, 1], requiresGrad: true)
        let t = Tensor(shape: [1, 4], values: [1, -60, 0.5, 1.5])
        let loss = distillationLoss(student: s, teacher: t, temperature: 0.5, divergence: divergence)
        #expect(loss.item.isFinite, "\(divergence): loss \(loss.item)")
        allClose(loss.item, expected, rtol: 1e-4, atol: 1e-6, "\(divergence) NumPy value")
        loss.backward()
        #expect(s.grad!.toArray().allSatisfy { $0.isFinite }, "\(divergence): gradient \(s.grad!.toArray())")
    }

    // MARK: attention maps

    @Test("attentionMapLoss: a 1-element hand case and 8 teacher heads averaged into 4 student heads")
    func attentionMapValues() {
        // student 0.5; teacher heads 0.2 and 0.6 average to 0.4: loss (0.5 - 0.4)^2 = 0.01
        let tiny = attentionMapLoss(student: Tensor(shape: [1, 1, 1, 1], values: [0.5]),
                                    teacher: Tensor(shape: [1, 2, 1, 1], values: [0.2, 0.6]))
        allClose(tiny.item, 0.01, rtol: 1e-5, atol: 1e-8)

        let b = 2, hs = 4, ht = 8, t = 3
        let student = randomUniform([b, hs, t, t], seed: 1, low: 0, high: 1)
        let teacher = randomUniform([b, ht, t, t], seed: 2, low: 0, high: 1)
        let s = student.toArray(), te = teacher.toArray()
        var total = 0.0
        for bi in 0..<b {
            for h in 0..<hs {
                for e in 0..<(t * t) {
                    let avg = (Double(te[((bi * ht + 2 * h) * t * t) + e]) + Double(te[((bi * ht + 2 * h + 1) * t * t) + e])) / 2
                    let d = Double(s[(bi * hs + h) * t * t + e]) - avg
                    total += d * d
                }
            }
        }
        allClose(attentionMapLoss(student: student, teacher: teacher).item, total / Double(b * hs * t * t), rtol: 1e-5, atol: 1e-7)
        // A wrong grouping (interleaved heads h and h + 4) gives a different number.
        var wrong = 0.0
        for bi in 0..<b {
            for h in 0..<hs {
                for e in 0..<(t * t) {
                    let avg = (Double(te[((bi * ht + h) * t * t) + e]) + Double(te[((bi * ht + h + 4) * t * t) + e])) / 2
                    let d = Double(s[(bi * hs + h) * t * t + e]) - avg
                    wrong += d * d
                }
            }
        }
        #expect(abs(wrong - total) / total > 1e-3)
    }

    @Test("attentionMapLoss: fewer teacher heads are repeated into consecutive student heads")
    func attentionMapRepeat() {
        let student = randomUniform([1, 4, 2, 2], seed: 3, low: 0, high: 1)
        let teacher = randomUniform([1, 2, 2, 2], seed: 4, low: 0, high: 1)
        let s = student.toArray(), te = teacher.toArray()
        var total = 0.0
        for h in 0..<4 { for e in 0..<4 { let d = Double(s[h * 4 + e]) - Double(te[(h / 2) * 4 + e]); total += d * d } }
        allClose(attentionMapLoss(student: student, teacher: teacher).item, total / 16, rtol: 1e-5, atol: 1e-7)
    }

    @Test("attentionMapLoss gradient: finite differences for the student, none for the teacher")
    func attentionMapGradient() {
        let teacher = randomUniform([1, 8, 3, 3], seed: 6, low: 0, high: 1)
        #expect(checkGradients([randomUniform([1, 4, 3, 3], seed: 5, low: 0, high: 1)], h: 1e-2, rtol: 1e-2, atol: 1e-5) {
            attentionMapLoss(student: $0[0], teacher: teacher)
        })
        let s = randomUniform([1, 4, 3, 3], seed: 5, low: 0, high: 1, requiresGrad: true)
        let t = randomUniform([1, 8, 3, 3], seed: 6, low: 0, high: 1, requiresGrad: true)
        attentionMapLoss(student: s, teacher: t).backward()
        #expect(t.grad == nil || t.grad!.toArray().allSatisfy { $0 == 0 })
    }

    // MARK: cross-entropy through the model

    @Test("CE through the model's logits: prompt masked with ignoreIndex, label smoothing, gradients by finite differences")
    func crossEntropyThroughModel() throws {
        let config = TinyModels.config()
        let model = try TinyModels.model(config, seed: 77)
        let b = 2, t = 5, v = config.vocabSize
        let tokens = randomIds(b * t, below: v, seed: 1)
        var targets = randomIds(b * t, below: v, seed: 2)
        for i in [0, 1, 5, 6, 7] { targets[i] = -100 }  // prompt positions
        let logits = model.forward(tokens: tokens, batch: b, length: t).logits
        let loss = crossEntropy(logits, targets: targets, labelSmoothing: 0.1)
        let expected = referenceCrossEntropy(logits: logits.toArray(), vocab: v, targets: targets, labelSmoothing: 0.1)
        allClose(loss.item, expected, rtol: 1e-5, atol: 1e-6, "masked, smoothed CE")
        // Non-vacuous: the mask and the smoothing each change the value.
        let unmasked = referenceCrossEntropy(logits: logits.toArray(), vocab: v, targets: randomIds(b * t, below: v, seed: 2), labelSmoothing: 0.1)
        let unsmoothed = referenceCrossEntropy(logits: logits.toArray(), vocab: v, targets: targets)
        #expect(abs(unmasked - expected) > 1e-3 && abs(unsmoothed - expected) > 1e-3)
        // The prompt positions' logits get no gradient.
        let probe = Tensor(shape: logits.shape, values: logits.toArray(), requiresGrad: true)
        crossEntropy(probe, targets: targets, labelSmoothing: 0.1).backward()
        for r in [0, 1, 5, 6, 7] { #expect(row(probe.grad!, r).allSatisfy { $0 == 0 }, "prompt row \(r)") }
        // Parameter gradients through the model against float64 finite differences.
        let samples = sampleParameterGradients(store: model.parameters, perTensor: 2, h: 1e-2, analytic: {
            crossEntropy(model.forward(tokens: tokens, batch: b, length: t).logits, targets: targets, labelSmoothing: 0.1).backward()
        }, objective: {
            withNoGrad {
                referenceCrossEntropy(logits: model.forward(tokens: tokens, batch: b, length: t).logits.toArray(), vocab: v,
                                      targets: targets, labelSmoothing: 0.1)
            }
        })
        expectGradientsAgree(samples, rtol: 1e-2, atol: 1e-4, "masked smoothed CE")
        expectSignErrorsDetectable(samples, rtol: 1e-2, atol: 1e-4, "masked smoothed CE")
    }
}
