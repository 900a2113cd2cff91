import Model
import Reward
import Tensor

/// What one on-policy distillation step trains on: the sequences (the student's samples, or teacher traces for
/// lambda's off-policy share), the trace reward's per-token reward-to-go when the reward is on, and the sampling
/// temperature the entropy metric is taken at.
struct OnPolicyStepBatch {
    let batch: PPOBatch
    /// (B, T) unweighted reward-to-go; nil when the reward is off.
    let rewards: [Float]?
    let samplingTemperature: Float
}

/// A contiguous block of an `OnPolicyStepBatch`'s rows. Per-token arrays (R, T), T the batch's length.
struct OnPolicyShard {
    let rows: Int, length: Int
    let inputs: [Int32], targets: [Int32], mask: [Float]
    let rewards: [Float]?
    /// The temperature the tokens were drawn at (1 for teacher traces).
    let temperature: Float
    let samplingTemperature: Float

    init(_ b: OnPolicyStepBatch, rows range: Range<Int>) {
        let t = b.batch.length, span = (range.lowerBound * t)..<(range.upperBound * t)
        rows = range.count
        length = t
        inputs = Array(b.batch.inputs[span])
        targets = Array(b.batch.targets[span])
        mask = Array(b.batch.mask[span])
        rewards = b.rewards.map { Array($0[span]) }
        temperature = b.batch.temperature
        samplingTemperature = b.samplingTemperature
    }
}

/// On-policy distillation's loss as a `TrainingObjective`: the batch's rows cut into contiguous shards, each
/// shard's objective (GKD's JSD, or the reverse-KL policy gradient, plus the reward term) a mean over its own
/// scored tokens, on the student or a replica of it. The teacher runs without gradients, reading its weights only,
/// so all shards use it at once.
final class OnPolicyStepObjective: TrainingObjective {
    unowned let distiller: OnPolicyDistiller
    let students: ReplicaSet<Transformer>

    init(distiller: OnPolicyDistiller) {
        self.distiller = distiller
        students = ReplicaSet(distiller.student) { $0.replica() }
    }

    var trainedStores: [ParameterStore] { [distiller.student.parameters] }

    func replicaStores(_ replica: Int) -> [ParameterStore] { [students[replica].parameters] }

    func shards(of batch: OnPolicyStepBatch, count: Int) -> [OnPolicyShard] {
        shardRanges(batch.batch.batchSize, shards: count).map { OnPolicyShard(batch, rows: $0) }
    }

    func size(of shard: OnPolicyShard) -> ShardSize {
        ShardSize(targets: shard.mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }, rows: shard.rows)
    }

    func loss(_ shard: inout OnPolicyShard, replica: Int) -> ShardLoss {
        distiller.shardLoss(shard, student: students[replica])
    }
}
