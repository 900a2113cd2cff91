import Data
import Foundation
import Model
import Tensor

/// How far a student's next-token distributions are from its teacher's on held-out text: the mean over every
/// completion token of a suite's reference traces (prompt and trace laid out by the codec, teacher-forced) of
/// KL(p_teacher || p_student) at temperature 1, in nats.
public enum TeacherDivergence {
    /// The mean per-token KL, or nil when no problem fits both models' context or the vocabularies differ.
    /// - Parameters:
    ///   - batchSize: problems per forward pass (each pass holds two (B, T, V) log-probability tensors).
    public static func meanKL(teacher: Transformer, student: Transformer, codec: TraceCodec, problems: [EvalProblem],
                              batchSize: Int = 8) -> Double? {
        guard teacher.config.vocabSize == student.config.vocabSize else { return nil }
        let context = min(teacher.config.maxPositionEmbeddings, student.config.maxPositionEmbeddings)
        let rows: [(tokens: [Int32], promptLength: Int)] = problems.compactMap { p in
            let trace = TraceFormat.completion(of: TraceRecord(question: p.question, steps: p.referenceSteps, answer: p.referenceAnswer))
            guard let prompt = try? codec.prompt(question: p.question), let completion = try? codec.completion(trace),
                  prompt.count + completion.count <= context else { return nil }
            return (prompt + completion, prompt.count)
        }
        let v = teacher.config.vocabSize
        var total = 0.0, count = 0
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            let batch = rows[start..<min(start + batchSize, rows.count)]
            let t = batch.map(\.tokens.count).max()!
            var tokens = [Int32](repeating: 0, count: batch.count * t)
            for (b, row) in batch.enumerated() { for (j, id) in row.tokens.enumerated() { tokens[b * t + j] = id } }
            let (pt, ps) = withNoGrad {
                (logSoftmax(teacher.forward(tokens: tokens, batch: batch.count, length: t).logits),
                 logSoftmax(student.forward(tokens: tokens, batch: batch.count, length: t).logits))
            }
            for (b, row) in batch.enumerated() {
                // position j predicts token j + 1: the completion's tokens are predicted from promptLength - 1 on
                for j in (row.promptLength - 1)..<(row.tokens.count - 1) {
                    let lt = pt.ptr + (b * t + j) * v, ls = ps.ptr + (b * t + j) * v
                    var kl = 0.0
                    for i in 0..<v where lt[i] > -80 { kl += Double(Foundation.exp(lt[i])) * Double(lt[i] - ls[i]) }
                    total += kl
                    count += 1
                }
            }
        }
        return count > 0 ? total / Double(count) : nil
    }
}
