import Foundation
import Model
import Tensor
import TestSupport
import Testing

// topKDistillationLoss (issue 23: top-k teacher targets): the divergence over the k cached entries plus the rest
// bucket. Values are checked against a hand computation on a 5-token vocabulary (float64, written out below),
// against distillationLoss on full logits when k is the whole vocabulary, and gradients against finite differences
// (TestSupport's checker).

@Suite("Top-k distillation loss")
struct TopKDistillationLossTests {
    /// One row of student logits over V = 5; the teacher keeps ids 0 and 2 with probabilities 0.5 and 0.3, and
    /// 0.2 is left over.
    static let row: [Float] = [2, 1, 0, -1, 0.5]
    static func hand(temperature: Float = 1) -> TopKTargets {
        TopKTargets(k: 2, temperature: temperature, positions: [0], logProbs: [Float(log(0.5)), Float(log(0.3))], ids: [0, 2],
                    leftover: [Float(log(0.2))])
    }

    // By hand: e^z = 7.389056, 2.718282, 1, 0.367879, 1.648721 (sum 13.123938), so the student's buckets are
    // q0 = 0.563021, q2 = 0.076197 and q_rest = 1 - q0 - q2 = 0.360782. Forward KL = 0.5 ln(0.5/q0) + 0.3 ln(0.3/q2)
    // + 0.2 ln(0.2/q_rest) = 0.233794; reverse KL = sum q ln(q/p) = 0.175257; JSD(0.5) with m = (p + q)/2 = 0.048218.
    @Test("the loss over k ids plus the rest bucket equals the hand computation", arguments: [
        (Divergence.forwardKL, 0.23379354), (.reverseKL, 0.17525689), (.jsd(beta: 0.5), 0.04821761),
    ])
    func handComputed(divergence: Divergence, expected: Double) {
        let student = Tensor(shape: [1, 5], values: Self.row)
        let loss = topKDistillationLoss(student: student, targets: Self.hand(), temperature: 1, divergence: divergence)
        allClose(loss.item, expected, rtol: 1e-5, atol: 1e-6, "\(divergence)")
    }

    // Re-tempering (stored at T_c = 1, used at T = 2): the buckets become p^(1/2) renormalised, the rest treated as
    // one token: (sqrt(0.5), sqrt(0.3), sqrt(0.2)) / 1.702044 = 0.415446, 0.321803, 0.262751. The student at T = 2
    // (e^(z/2)) has q0 = 0.374545, q2 = 0.137787, q_rest = 0.487668; 4 * KL(p || q) = 0.614108 (float64 by hand).
    @Test("targets stored at T = 1 used at T = 2: each bucket's log-prob halved and renormalised, times T^2")
    func retempered() {
        let student = Tensor(shape: [1, 5], values: Self.row)
        let loss = topKDistillationLoss(student: student, targets: Self.hand(temperature: 1), temperature: 2)
        allClose(loss.item, 0.61410805, rtol: 1e-5, atol: 1e-6)
        let b = Self.hand().bucketLogProbs(0, at: 2).map { Double(exp($0)) }
        allClose(b.map(Float.init), [0.41544591, 0.32180302, 0.26275107], rtol: 1e-5)
    }

    /// The top-k of each row of `teacher` at `temperature` with every id kept (k = V), as a cache holds it.
    static func fullTargets(_ teacher: [Float], rows: Int, v: Int, temperature: Float, positions: [Int]) -> TopKTargets {
        var lp: [Float] = [], ids: [Int32] = []
        for r in positions {
            let z = teacher[(r * v)..<(r * v + v)].map { Double($0) / Double(temperature) }
            let m = z.max()!, lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
            let order = (0..<v).sorted { z[$0] > z[$1] }
            lp += order.map { Float(z[$0] - lse) }
            ids += order.map { Int32($0) }
        }
        return TopKTargets(k: v, temperature: temperature, positions: positions, logProbs: lp, ids: ids,
                           leftover: [Float](repeating: -.infinity, count: positions.count))
    }

    @Test("with k = V the sparse loss equals the full loss (every divergence, T 1 and 2, a row mask; stored at T = 1 and re-tempered)",
          arguments: [Divergence.forwardKL, .reverseKL, .jsd(beta: 0.3)])
    func fullVocabularyEqualsFull(divergence: Divergence) {
        let v = 7, rows = 4
        let s = randomNormal([rows, v], seed: 11, std: 1.5), t = randomNormal([rows, v], seed: 12, std: 2)
        let mask = [true, false, true, true]
        let kept = (0..<rows).filter { mask[$0] }
        for temperature: Float in [1, 2] {
            let full = distillationLoss(student: s, teacher: t, temperature: temperature, divergence: divergence, rowMask: mask)
            let sameT = topKDistillationLoss(student: s, targets: Self.fullTargets(t.toArray(), rows: rows, v: v, temperature: temperature, positions: kept),
                                             temperature: temperature, divergence: divergence)
            allClose(sameT.item, Double(full.item), rtol: 1e-5, atol: 1e-6, "\(divergence) T \(temperature)")
            // with nothing left over, re-tempering T = 1 log-probs is exact: log p / T renormalised = log softmax(z / T)
            let fromOne = topKDistillationLoss(student: s, targets: Self.fullTargets(t.toArray(), rows: rows, v: v, temperature: 1, positions: kept),
                                               temperature: temperature, divergence: divergence)
            allClose(fromOne.item, Double(full.item), rtol: 1e-5, atol: 1e-6, "\(divergence) T \(temperature) from T = 1")
        }
    }

    @Test("gradients match finite differences with a rest bucket (k < V, V not a multiple of 16, two targets on one row)",
          arguments: [Divergence.forwardKL, .reverseKL, .jsd(beta: 0.5), .jsd(beta: 0.2)])
    func gradients(divergence: Divergence) {
        let v = 19, k = 4
        let s = randomNormal([3, v], seed: 21, std: 1.2)
        let t = randomNormal([3, v], seed: 22, std: 2).toArray()
        // top-4 of teacher rows 0, 2 and 2 again (two targets may share a student row through positions)
        var lp: [Float] = [], ids: [Int32] = [], rest: [Float] = []
        for r in [0, 2, 2] {
            let z = t[(r * v)..<(r * v + v)].map(Double.init)
            let m = z.max()!, lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
            let order = (0..<v).sorted { z[$0] > z[$1] }
            lp += order.prefix(k).map { Float(z[$0] - lse) }
            ids += order.prefix(k).map { Int32($0) }
            rest.append(Float(log(order.dropFirst(k).reduce(0.0) { $0 + exp(z[$1] - lse) })))
        }
        let targets = TopKTargets(k: k, temperature: 1, positions: [0, 2, 2], logProbs: lp, ids: ids, leftover: rest)
        checkGradients([s], h: 1e-2, rtol: 1e-2, atol: 1e-4, "\(divergence)") { x in
            topKDistillationLoss(student: x[0], targets: targets, temperature: 2, divergence: divergence)
        }
    }

    @Test("no targets: zero loss and zero gradients")
    func empty() {
        let s = Tensor(shape: [2, 5], values: [Float](repeating: 0.3, count: 10), requiresGrad: true)
        let loss = topKDistillationLoss(student: s, targets: TopKTargets(k: 2, temperature: 1, positions: [], logProbs: [], ids: [], leftover: []),
                                        temperature: 2)
        #expect(loss.item == 0)
        loss.backward()
        #expect(s.grad?.toArray().allSatisfy { $0 == 0 } ?? true)
    }
}
