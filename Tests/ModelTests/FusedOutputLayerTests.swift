import Foundation
import Model
import Tensor
import TestSupport
import Testing

// fusedOutputLoss (the output projection fused with CE and the temperature divergences, chunked over rows)
// against the unfused path it replaces: linear -> distillationLoss / crossEntropy, each tested on its own
// against NumPy and float64 references (DistillationLossTests, the Tensor suite). Values and gradients must
// agree within 1e-5 relative, with label smoothing, temperature, ignored targets and a row mask, at a
// vocabulary of 37 (not a multiple of the chunk nor of the 16-lane vectors) and chunks that do not divide
// the rows; the gradients are also checked by finite differences on their own.

@Suite("Fused output layer")
struct FusedOutputLayerTests {
    static let rows = 11, width = 6, teacherWidth = 5, vocab = 37

    /// Targets with ignored rows (prompt/padding) at 0, 4 and 9.
    static let targets: [Int32] = (0..<rows).map { [0, 4, 9].contains($0) ? -100 : Int32(($0 * 7 + 3) % vocab) }
    /// A distillation mask that differs from the targets' (row 4 is distilled without a CE target, row 6 is not).
    static let rowMask: [Bool] = (0..<rows).map { ![0, 6, 9].contains($0) }

    static func inputs() -> (h: Tensor, w: Tensor, th: Tensor, tw: Tensor) {
        (randomNormal([rows, width], seed: 11, std: 1.5), randomNormal([vocab, width], seed: 12, std: 0.8),
         randomNormal([rows, teacherWidth], seed: 13, std: 1.5), randomNormal([vocab, teacherWidth], seed: 14, std: 0.8))
    }

    /// The unfused path: full logits, then `distillationLoss` and `crossEntropy`, weighted as the stages do.
    static func unfused(_ h: Tensor, _ w: Tensor, _ th: Tensor, _ tw: Tensor, _ terms: OutputLossTerms) -> (Tensor, Float, Float) {
        let logits = linear(h, weight: w)
        let teacher = withNoGrad { linear(th, weight: tw) }
        let kd = distillationLoss(student: logits, teacher: teacher, temperature: terms.temperature,
                                  divergence: terms.divergence, rowMask: rowMask)
        let ce = crossEntropy(logits, targets: targets, labelSmoothing: terms.labelSmoothing)
        return (add(scale(kd, terms.distillationWeight), scale(ce, terms.crossEntropyWeight)), kd.item, ce.item)
    }

    static let divergences: [Divergence] = [.forwardKL, .reverseKL, .jsd(beta: 0.5), .jsd(beta: 0.3)]

    @Test("loss, its parts and the gradients of hidden and weight equal the unfused path within 1e-5 relative",
          arguments: divergences, [Float(1), 2, 3])
    func equalsUnfused(divergence: Divergence, temperature: Float) {
        let terms = OutputLossTerms(distillationWeight: 0.7, crossEntropyWeight: 0.3, temperature: temperature,
                                    divergence: divergence, labelSmoothing: 0.1)
        let (h0, w0, th, tw) = Self.inputs()
        let h1 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
        let w1 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
        let (reference, kd, ce) = Self.unfused(h1, w1, th, tw, terms)
        reference.backward()
        for chunk in [1, 4, Self.rows] {  // 4 rows: chunks of 4, 4, 3
            let h2 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
            let w2 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
            let fused = fusedOutputLoss(hidden: h2, weight: w2, teacherHidden: th, teacherWeight: tw, targets: Self.targets,
                                        rowMask: Self.rowMask, terms: terms, chunkRows: chunk)
            fused.loss.backward()
            let what = "\(divergence) T \(temperature) chunk \(chunk)"
            allClose(fused.loss.item, Double(reference.item), rtol: 1e-5, atol: 0, what + " loss")
            allClose(fused.distillation, Double(kd), rtol: 1e-5, atol: 0, what + " kd")
            allClose(fused.crossEntropy, Double(ce), rtol: 1e-5, atol: 0, what + " ce")
            // 1e-5 of the largest gradient entry: entries near zero come from sums that cancel
            let scaleH = Double(h1.grad!.toArray().map(abs).max()!), scaleW = Double(w1.grad!.toArray().map(abs).max()!)
            #expect(scaleH > 1e-2 && scaleW > 1e-2, "gradients not vacuous")
            allClose(h2.grad!, h1.grad!, rtol: 1e-5, atol: 1e-5 * scaleH, what + " dL/dhidden")
            allClose(w2.grad!, w1.grad!, rtol: 1e-5, atol: 1e-5 * scaleW, what + " dL/dweight")
        }
    }

    @Test("gradients of hidden and weight match finite differences (label smoothing, T = 2, masks, chunks of 4 rows)",
          arguments: divergences)
    func finiteDifferences(divergence: Divergence) {
        let terms = OutputLossTerms(distillationWeight: 0.6, crossEntropyWeight: 0.4, temperature: 2, divergence: divergence,
                                    labelSmoothing: 0.1)
        let (h, w, th, tw) = Self.inputs()
        let ok = checkGradients([h, w], h: 1e-2, rtol: 1e-2, atol: 1e-4, "\(divergence)") { x in
            fusedOutputLoss(hidden: x[0], weight: x[1], teacherHidden: th, teacherWeight: tw, targets: Self.targets,
                            rowMask: Self.rowMask, terms: terms, chunkRows: 4).loss
        }
        #expect(ok)
    }

    /// Top-k targets from the teacher's own distribution at `temperature`: rows 0, 4 and 9 have none, the others its
    /// k most likely ids (largest first) and the log of the mass left over (-inf when k is the whole vocabulary).
    static func topK(k: Int, temperature: Float) -> TopKTargets {
        let (_, _, th, tw) = inputs()
        let logits = linear(th, weight: tw).toArray()
        var positions: [Int] = [], lp: [Float] = [], ids: [Int32] = [], rest: [Float] = []
        for r in 0..<rows where ![0, 4, 9].contains(r) {
            let row = logits[(r * vocab)..<((r + 1) * vocab)].map { Double($0 / temperature) }
            let logp = referenceLogSoftmax(row)
            let order = logp.indices.sorted { logp[$0] > logp[$1] }.prefix(k)
            positions.append(r)
            lp += order.map { Float(logp[$0]) }
            ids += order.map { Int32($0) }
            let left = 1 - order.reduce(0.0) { $0 + exp(logp[$1]) }
            rest.append(k == vocab ? -.infinity : Float(log(left)))
        }
        return TopKTargets(k: k, temperature: temperature, positions: positions, logProbs: lp, ids: ids, leftover: rest)
    }

    @Test("with top-k targets: loss, parts and gradients equal topKDistillationLoss + crossEntropy over linear within 1e-5",
          arguments: divergences, [(k: 5, stored: Float(1), used: Float(2)), (k: 8, stored: 2, used: 2), (k: 6, stored: 3, used: 3),
                                   (k: vocab, stored: 1, used: 1)])
    func topKEqualsUnfused(divergence: Divergence, case c: (k: Int, stored: Float, used: Float)) {
        let terms = OutputLossTerms(distillationWeight: 0.7, crossEntropyWeight: 0.3, temperature: c.used, divergence: divergence,
                                    labelSmoothing: 0.1)
        let targets = Self.topK(k: c.k, temperature: c.stored)
        let (h0, w0, _, _) = Self.inputs()
        let h1 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
        let w1 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
        let logits = linear(h1, weight: w1)
        let kd = topKDistillationLoss(student: logits, targets: targets, temperature: c.used, divergence: divergence)
        let ce = crossEntropy(logits, targets: Self.targets, labelSmoothing: 0.1)
        let reference = add(scale(kd, 0.7), scale(ce, 0.3))
        reference.backward()
        for chunk in [1, 4, Self.rows] {
            let h2 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
            let w2 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
            let fused = fusedOutputLoss(hidden: h2, weight: w2, targets: Self.targets, topK: targets, terms: terms, chunkRows: chunk)
            fused.loss.backward()
            let what = "\(divergence) k \(c.k) T \(c.stored) -> \(c.used) chunk \(chunk)"
            allClose(fused.loss.item, Double(reference.item), rtol: 1e-5, atol: 0, what + " loss")
            allClose(fused.distillation, Double(kd.item), rtol: 1e-5, atol: 1e-7, what + " kd")
            allClose(fused.crossEntropy, Double(ce.item), rtol: 1e-5, atol: 0, what + " ce")
            let scaleH = Double(h1.grad!.toArray().map(abs).max()!), scaleW = Double(w1.grad!.toArray().map(abs).max()!)
            #expect(scaleH > 1e-2 && scaleW > 1e-2, "gradients not vacuous")
            allClose(h2.grad!, h1.grad!, rtol: 1e-5, atol: 1e-5 * scaleH, what + " dL/dhidden")
            allClose(w2.grad!, w1.grad!, rtol: 1e-5, atol: 1e-5 * scaleW, what + " dL/dweight")
        }
        #expect(kd.item > 1e-3, "the divergence is not vacuous")
    }

    @Test("with top-k targets: gradients of hidden and weight match finite differences (k 5, T 2, chunks of 4 rows)",
          arguments: divergences)
    func topKFiniteDifferences(divergence: Divergence) {
        let terms = OutputLossTerms(distillationWeight: 0.6, crossEntropyWeight: 0.4, temperature: 2, divergence: divergence,
                                    labelSmoothing: 0.1)
        let targets = Self.topK(k: 5, temperature: 1)
        let (h, w, _, _) = Self.inputs()
        let ok = checkGradients([h, w], h: 1e-2, rtol: 1e-2, atol: 1e-4, "\(divergence)") { x in
            fusedOutputLoss(hidden: x[0], weight: x[1], targets: Self.targets, topK: targets, terms: terms, chunkRows: 4).loss
        }
        #expect(ok)
    }

    @Test("far-apart logits (rows spanning hundreds of nats, the rest bucket far below the kept ids): top-k and forward KL equal the unfused path",
          arguments: [Float(1), 2, 3])
    func farApartLogits(temperature: Float) {
        let (h, w0, th0, tw) = Self.inputs()
        let h0 = scale(h, 60), th = scale(th0, 30)
        let logits = linear(h0, weight: w0).toArray()
        // targets on the student's own 5 largest ids with a teacher that leaves 0.3 of its mass outside them, so the
        // rest bucket counts although the student's rest is e^-88 or less below its top at T
        var positions: [Int] = [], lp: [Float] = [], ids: [Int32] = [], rest: [Float] = [], gap: Float = 0
        for r in 0..<Self.rows where ![0, 4, 9].contains(r) {
            let row = Array(logits[(r * Self.vocab)..<((r + 1) * Self.vocab)])
            let order = row.indices.sorted { row[$0] > row[$1] }
            positions.append(r)
            ids += order.prefix(5).map { Int32($0) }
            lp += [0.3, 0.2, 0.1, 0.06, 0.04].map { Float(log($0)) }
            rest.append(Float(log(0.3)))
            gap = max(gap, row[order[0]] - row[order[5]])
        }
        #expect(gap > 88 * temperature, "the rest's largest logit is far enough below the top to underflow e^((z - max) / T)")
        let topK = TopKTargets(k: 5, temperature: temperature, positions: positions, logProbs: lp, ids: ids, leftover: rest)
        let terms = OutputLossTerms(distillationWeight: 0.7, crossEntropyWeight: 0.3, temperature: temperature, labelSmoothing: 0.1)
        for useTopK in [true, false] {
            let h1 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
            let w1 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
            let reference: Tensor, kd: Float
            if useTopK {
                let z = linear(h1, weight: w1)
                let d = topKDistillationLoss(student: z, targets: topK, temperature: temperature)
                reference = add(scale(d, 0.7), scale(crossEntropy(z, targets: Self.targets, labelSmoothing: 0.1), 0.3))
                kd = d.item
            } else {
                let r = Self.unfused(h1, w1, th, tw, terms)
                (reference, kd) = (r.0, r.1)
            }
            reference.backward()
            let h2 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
            let w2 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
            let fused = useTopK
                ? fusedOutputLoss(hidden: h2, weight: w2, targets: Self.targets, topK: topK, terms: terms, chunkRows: 4)
                : fusedOutputLoss(hidden: h2, weight: w2, teacherHidden: th, teacherWeight: tw, targets: Self.targets,
                                  rowMask: Self.rowMask, terms: terms, chunkRows: 4)
            fused.loss.backward()
            let what = "\(useTopK ? "top-k" : "forward KL") T \(temperature)"
            #expect(kd.isFinite && kd > 1, "\(what): the divergence is finite and not vacuous (\(kd))")
            allClose(fused.loss.item, Double(reference.item), rtol: 1e-5, atol: 0, what + " loss")
            allClose(fused.distillation, Double(kd), rtol: 1e-5, atol: 0, what + " kd")
            let scaleH = Double(h1.grad!.toArray().map(abs).max()!), scaleW = Double(w1.grad!.toArray().map(abs).max()!)
            allClose(h2.grad!, h1.grad!, rtol: 1e-5, atol: 1e-5 * scaleH, what + " dL/dhidden")
            allClose(w2.grad!, w1.grad!, rtol: 1e-5, atol: 1e-5 * scaleW, what + " dL/dweight")
        }
    }

    @Test("cross-entropy alone (no teacher) equals crossEntropy over linear, and every row ignored gives 0 with zero gradients")
    func crossEntropyAlone() {
        let (h0, w0, _, _) = Self.inputs()
        let h1 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
        let w1 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
        let reference = crossEntropy(linear(h1, weight: w1), targets: Self.targets, labelSmoothing: 0.2)
        reference.backward()
        let h2 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
        let w2 = Tensor(shape: w0.shape, values: w0.toArray(), requiresGrad: true)
        let fused = fusedOutputLoss(hidden: h2, weight: w2, targets: Self.targets, terms: .crossEntropy(labelSmoothing: 0.2), chunkRows: 3)
        fused.loss.backward()
        allClose(fused.loss.item, Double(reference.item), rtol: 1e-5, atol: 0)
        #expect(fused.distillation == 0)
        allClose(h2.grad!, h1.grad!, rtol: 1e-5, atol: 1e-7)
        allClose(w2.grad!, w1.grad!, rtol: 1e-5, atol: 1e-7)

        let h3 = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
        let none = fusedOutputLoss(hidden: h3, weight: w0, targets: [Int32](repeating: -100, count: Self.rows), terms: .crossEntropy())
        none.loss.backward()
        #expect(none.loss.item == 0)
        #expect(h3.grad!.toArray().allSatisfy { $0 == 0 })
    }

    @Test("without grad mode nothing is recorded and the values are the same")
    func noGrad() {
        let (h0, w0, th, tw) = Self.inputs()
        let terms = OutputLossTerms(distillationWeight: 0.5, crossEntropyWeight: 0.5, temperature: 2)
        let h = Tensor(shape: h0.shape, values: h0.toArray(), requiresGrad: true)
        let graded = fusedOutputLoss(hidden: h, weight: w0, teacherHidden: th, teacherWeight: tw, targets: Self.targets, terms: terms)
        let plain = withNoGrad { fusedOutputLoss(hidden: h, weight: w0, teacherHidden: th, teacherWeight: tw, targets: Self.targets, terms: terms) }
        #expect(!plain.loss.requiresGrad)
        #expect(plain.loss.item == graded.loss.item)
    }

    @Test("through a tied model: every parameter's gradient equals the unfused forward's (the head's and the embedding's share one weight)",
          arguments: [true, false])
    func throughModel(tied: Bool) throws {
        let student = try TinyModels.model(TinyModels.config(vocab: 37, tied: tied), seed: 5)
        let teacher = try TinyModels.model(TinyModels.config(vocab: 37, hidden: 12, intermediate: 16, layers: 3, tied: tied), seed: 6)
        let b = 2, t = 7
        let tokens = randomIds(b * t, below: 37, seed: 7)
        let targets = (0..<(b * t)).map { $0 % t < 2 ? Int32(-100) : tokens[$0] }
        let mask = targets.map { $0 != -100 }
        let terms = OutputLossTerms(distillationWeight: 0.5, crossEntropyWeight: 0.5, temperature: 2, labelSmoothing: 0.05)

        let teacherLogits = withNoGrad { teacher.forward(tokens: tokens, batch: b, length: t).logits }
        let logits = student.forward(tokens: tokens, batch: b, length: t).logits
        let kd = distillationLoss(student: logits, teacher: teacherLogits, temperature: 2, rowMask: mask)
        let ce = crossEntropy(logits, targets: targets, labelSmoothing: 0.05)
        let reference = add(scale(kd, 0.5), scale(ce, 0.5))
        student.parameters.zeroGradients()
        reference.backward()
        let expected = Array(UnsafeBufferPointer(start: student.parameters.gradients.base, count: student.parameters.gradients.count))

        let teacherHidden = withNoGrad { teacher.forwardHidden(tokens: tokens, batch: b, length: t).finalHidden }
        let hidden = student.forwardHidden(tokens: tokens, batch: b, length: t).finalHidden
        let fused = fusedOutputLoss(hidden: hidden, weight: student.fusedOutputWeight!, teacherHidden: teacherHidden,
                                    teacherWeight: teacher.fusedOutputWeight!, targets: targets, rowMask: mask, terms: terms, chunkRows: 5)
        student.parameters.zeroGradients()
        fused.loss.backward()
        let actual = Array(UnsafeBufferPointer(start: student.parameters.gradients.base, count: student.parameters.gradients.count))
        allClose(fused.loss.item, Double(reference.item), rtol: 1e-5, atol: 0)
        let scale = Double(expected.map(abs).max()!)
        #expect(scale > 1e-2)
        allClose(actual, expected, rtol: 1e-5, atol: 1e-5 * scale, "tied \(tied)")
    }

    @Test("tokenLogProbs, chunked, equals a float64 log-softmax of the full logits at each row's target; no target gives 0")
    func scoring() {
        let (h, w, _, _) = Self.inputs()
        let logits = linear(h, weight: w).toArray()
        let scored = tokenLogProbs(hidden: h, weight: w, targets: Self.targets, chunkRows: 4)
        var expected = [Double](repeating: 0, count: Self.rows)
        for r in 0..<Self.rows where Self.targets[r] >= 0 {
            expected[r] = referenceLogSoftmax(Array(logits[(r * Self.vocab)..<((r + 1) * Self.vocab)]))[Int(Self.targets[r])]
        }
        allClose(scored, expected, rtol: 1e-5, atol: 1e-6)
        #expect(expected.contains { $0 < -1 }, "not vacuous")
    }

    @Test("chunk rows: everything in one chunk when it fits the budget, else balanced chunks under it")
    func chunking() {
        let budget = OutputChunking.maximumElements
        #expect(OutputChunking.rowsPerChunk(rows: 2048, vocabulary: 64) == 2048)
        let r = OutputChunking.rowsPerChunk(rows: 2048, vocabulary: 49_152)
        #expect(r * 49_152 <= budget && r >= 16)
        #expect((2048 + r - 1) / r * r - 2048 < (2048 + r - 1) / r)  // the chunks differ by at most one row each
    }
}
