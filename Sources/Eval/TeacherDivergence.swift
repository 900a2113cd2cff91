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
        do {
            return try meanKL(teacher: teacher, student: student, codec: codec, problems: problems, batchSize: batchSize,
                              batches: RowSplit.mapInOneProcess)
        } catch {
            // one process reads back the bytes it wrote itself
            preconditionFailure("TeacherDivergence.meanKL in one process: \(error)")
        }
    }

    /// `meanKL` with its forward passes run through `batches` (under mpirun each rank a block of them,
    /// `Collective.mapInOrder`): the batches of `batchSize` problems are fixed by the suite, not by the number of
    /// processes, each batch's per-token KLs come back in batch order and are added in that order, as one process
    /// adds them, so the value is the same bits for any number of ranks.
    /// - Throws: what `batches` throws; `EvalError.unreadableBatch` when a batch comes back as bytes that are not its
    ///   per-token values.
    public static func meanKL(teacher: Transformer, student: Transformer, codec: TraceCodec, problems: [EvalProblem],
                              batchSize: Int = 8, batches: RowSplit.Map) throws -> Double? {
        guard teacher.config.vocabSize == student.config.vocabSize else { return nil }
        let context = min(teacher.config.maxPositionEmbeddings, student.config.maxPositionEmbeddings)
        let rows: [(tokens: [Int32], promptLength: Int)] = problems.compactMap { p in
            let trace = TraceFormat.completion(of: TraceRecord(question: p.question, steps: p.referenceSteps, answer: p.referenceAnswer))
            guard let prompt = try? codec.prompt(question: p.question), let completion = try? codec.completion(trace),
                  prompt.count + completion.count <= context else { return nil }
            return (prompt + completion, prompt.count)
        }
        let starts = Array(stride(from: 0, to: rows.count, by: batchSize))
        let sent = try batches(starts.count) { j in
            var out = WordWriter()
            for kl in batchKLs(teacher: teacher, student: student, rows: rows[starts[j]..<min(starts[j] + batchSize, rows.count)]) {
                out.word(kl.bitPattern)
            }
            return out.bytes
        }
        var total = 0.0, count = 0
        for j in starts.indices {
            let bytes = j < sent.count ? sent[j] : []
            let batch = rows[starts[j]..<min(starts[j] + batchSize, rows.count)]
            guard sent.count == starts.count, bytes.count == 8 * batch.reduce(0, { $0 + $1.tokens.count - $1.promptLength }) else {
                throw EvalError.unreadableBatch(batch: j, rows: batch.count, bytes: bytes.count)
            }
            var reader = WordReader(bytes)
            while let bits = reader.word() {
                total += Double(bitPattern: bits)
                count += 1
            }
        }
        return count > 0 ? total / Double(count) : nil
    }

    /// KL(p_teacher || p_student) at each completion token of `batch` (one forward pass of each model over the rows
    /// padded to the longest), row by row, token by token.
    private static func batchKLs(teacher: Transformer, student: Transformer, rows batch: ArraySlice<(tokens: [Int32], promptLength: Int)>) -> [Double] {
        let v = teacher.config.vocabSize
        let t = batch.map(\.tokens.count).max()!
        var tokens = [Int32](repeating: 0, count: batch.count * t)
        for (b, row) in batch.enumerated() { for (j, id) in row.tokens.enumerated() { tokens[b * t + j] = id } }
        let (pt, ps) = withNoGrad {
            (logSoftmax(teacher.forward(tokens: tokens, batch: batch.count, length: t).logits),
             logSoftmax(student.forward(tokens: tokens, batch: batch.count, length: t).logits))
        }
        var out: [Double] = []
        for (b, row) in batch.enumerated() {
            // position j predicts token j + 1: the completion's tokens are predicted from promptLength - 1 on
            for j in (row.promptLength - 1)..<(row.tokens.count - 1) {
                let lt = pt.ptr + (b * t + j) * v, ls = ps.ptr + (b * t + j) * v
                var kl = 0.0
                for i in 0..<v where lt[i] > -80 { kl += Double(Foundation.exp(lt[i])) * Double(lt[i] - ls[i]) }
                out.append(kl)
            }
        }
        return out
    }
}
