import Eval
import Foundation
import Model
import Tensor
import Testing

// The report's "KL to teacher": the mean over reference-trace completion tokens of KL(p_teacher || p_student),
// checked against the same sum computed here in float64 from each model's raw logits.

@Suite("KL to the teacher on held-out traces")
struct TeacherDivergenceTests {
    static let problems = [
        EvalProblem(id: "a", domain: "addition", question: "Compute 12 + 7.", referenceSteps: ["2 + 7 = 9, write 9", "1 + 0 = 1, write 1"],
                    referenceAnswer: "19", line: 1),
        EvalProblem(id: "b", domain: "addition", question: "Compute 5 + 5.", referenceSteps: ["5 + 5 = 10, write 0 carry 1"],
                    referenceAnswer: "10", line: 2),
    ]

    /// log-softmax of one row of logits, in float64.
    static func logProbs(_ row: ArraySlice<Float>) -> [Double] {
        let m = Double(row.max()!)
        let z = row.reduce(0.0) { $0 + exp(Double($1) - m) }
        return row.map { Double($0) - m - log(z) }
    }

    @Test("a model against itself is 0; against another it equals the float64 sum over completion tokens")
    func matchesDirectSum() throws {
        let teacher = try tinyModel(seed: 1, hidden: 16, layers: 2), student = try tinyModel(seed: 2)
        let codec = TraceCodec.math
        let same = try #require(TeacherDivergence.meanKL(teacher: teacher, student: teacher, codec: codec, problems: Self.problems))
        #expect(abs(same) < 1e-6)

        var total = 0.0, count = 0
        for p in Self.problems {
            let prompt = try codec.prompt(question: p.question)
            let tokens = prompt + (try codec.completion((p.referenceSteps + ["answer: \(p.referenceAnswer)"]).joined(separator: "\n")))
            let v = teacher.config.vocabSize
            let lt = teacher.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
            let ls = student.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
            for j in (prompt.count - 1)..<(tokens.count - 1) {
                let a = Self.logProbs(lt[(j * v)..<((j + 1) * v)]), b = Self.logProbs(ls[(j * v)..<((j + 1) * v)])
                total += zip(a, b).reduce(0.0) { $0 + exp($1.0) * ($1.0 - $1.1) }
                count += 1
            }
        }
        let kl = try #require(TeacherDivergence.meanKL(teacher: teacher, student: student, codec: codec, problems: Self.problems, batchSize: 1))
        #expect(abs(kl - total / Double(count)) < 1e-4 * max(1, total / Double(count)), "\(kl) vs \(total / Double(count))")
        // batching (padding to the longest row) changes nothing
        let batched = try #require(TeacherDivergence.meanKL(teacher: teacher, student: student, codec: codec, problems: Self.problems, batchSize: 2))
        #expect(abs(batched - kl) < 1e-6)
    }

    @Test("different vocabularies give no value rather than a wrong one")
    func vocabularyMismatch() throws {
        var rng = RandomGenerator(seed: 3)
        let other = try Transformer(config: TransformerConfig(vocabSize: 120, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1,
                                                              numAttentionHeads: 2, maxPositionEmbeddings: 96), rng: &rng)
        #expect(TeacherDivergence.meanKL(teacher: try tinyModel(seed: 1), student: other, codec: .math, problems: Self.problems) == nil)
    }
}
