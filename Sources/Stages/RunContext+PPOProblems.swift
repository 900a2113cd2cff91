import Data
import Distributed
import Model
import PPO

extension RunContext {
    /// The training questions and the first `validationCount` validation questions as PPO problems, shared by
    /// `ppo-trace` and `on-policy-distill`. Each carries the teacher's verified trace for its question when the
    /// teacher-traces stage kept one, else the reference trace when the student's side has it (validation rows all
    /// have theirs); a trace is the completion text `TraceFormat` lays out, the text a model writes for it.
    func ppoProblems(validationCount: Int) throws -> (train: [PPOProblem], validation: [PPOProblem]) {
        var teacherTrace: [String: String] = [:]
        for t in try teacherTraces() where teacherTrace[t.question ?? ""] == nil {
            teacherTrace[t.question ?? ""] = TraceFormat.completion(of: t)
        }
        func problem(_ r: TraceRecord, reference: Bool) -> PPOProblem {
            PPOProblem(question: r.question ?? "", referenceAnswer: r.answer,
                       teacherTrace: teacherTrace[r.question ?? ""] ?? (reference ? TraceFormat.completion(of: r) : nil))
        }
        return (data.train.enumerated().map { problem($1, reference: $0 < data.referenceCount) },
                data.validation.prefix(validationCount).map { problem($0, reference: true) })
    }

    /// How `ppo-trace` and `on-policy-distill` decode their greedy validation batches: under mpirun each rank a block
    /// of them (`Collective.mapInOrder`), every batch's results gathered on every rank in batch order, so the
    /// validation metrics (and early stopping and restore-best on them) are the same bits for any number of ranks;
    /// one process decodes them all, by the same path.
    var validationBatches: PPOEvaluation.BatchMap {
        { [group] count, body in try group.mapInOrder(count, body) }
    }

    /// How the sampling stages (teacher-traces, ppo-trace's and on-policy-distill's rollouts) decode a call's rows: cut
    /// into `run.gradient_shards` fixed batches, each rank decoding a block of them (`Collective.mapInOrder`), gathered
    /// in row order on every rank. The batches are fixed by the curriculum, not by the number of ranks, and every row
    /// draws from its own stream, so the sampled tokens (and the traces, rewards and updates made from them) are the
    /// same bits for any number of ranks that divides the shard count.
    var samplingSplit: RowSplit {
        RowSplit(parts: curriculum.run.gradientShards, block: { [group] in group.block(of: $0) },
                 map: { [group] count, body in try group.mapInOrder(count, body) })
    }
}
