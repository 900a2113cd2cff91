import Checkpoint
import Eval

extension RunReport {
    /// Each `prune` stage's rounds (the student rows of `prune` stages), read from the metric history stored in the
    /// stage's own checkpoint; what `distill report` puts in `pruning`.
    /// - Throws: `CheckpointError` when a stage file's metrics cannot be read.
    public func pruningRoundsFromCheckpoints() throws -> [PruningRounds] {
        try rows.filter { $0.plan.stageKind == "prune" && $0.plan.role == "student" }.compactMap { row in
            let history = try CheckpointReader(path: row.plan.file).metrics()[row.plan.stageIndex] ?? [:]
            return PruningRounds(stageIndex: row.plan.stageIndex, history: history, finalParameters: row.report.parameterCount)
        }
    }
}
