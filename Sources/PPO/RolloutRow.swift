import Foundation
import Reward
import Tensor

/// What the metrics of a judged rollout need from one row: its reward (total and components), its steps and verified
/// steps, whether its answer is right and its completion length. A validation batch decoded by another process comes
/// back as these rows (`encode`/`decode`, exact to the bit), and `summary(of:)` adds them in row order: the same
/// additions, to the same bits, whichever process decoded which batch.
struct RolloutRow {
    /// The composite reward.
    var total: Double
    /// The reward's named parts, in the reward's order.
    var components: [RewardComponent]
    /// Steps of the trace.
    var stepCount: Int
    /// Steps whose every claim verifies.
    var validStepCount: Int
    /// Whether the final answer is right.
    var correct: Bool
    /// Completion tokens (a final EOS included).
    var length: Int

    /// Rows as bytes: per row the total's bits, the step count, the verified steps, correct (0/1), the length and the
    /// component count (8 bytes each, little-endian), then per component its UTF-8 length, its UTF-8 and its value's bits.
    static func encode(_ rows: [RolloutRow]) -> [UInt8] {
        var out = WordWriter()
        for r in rows {
            out.word(r.total.bitPattern)
            out.word(UInt64(r.stepCount)); out.word(UInt64(r.validStepCount)); out.word(r.correct ? 1 : 0); out.word(UInt64(r.length))
            out.word(UInt64(r.components.count))
            for c in r.components {
                out.string(c.name)
                out.word(c.value.bitPattern)
            }
        }
        return out.bytes
    }

    /// The rows `encode` wrote; nil when the bytes are not such rows. Counts are checked against the bytes left
    /// (`WordReader.count`) before anything is allocated for them.
    static func decode(_ bytes: [UInt8]) -> [RolloutRow]? {
        var rows: [RolloutRow] = []
        var reader = WordReader(bytes)
        while !reader.atEnd {
            guard let total = reader.word(), let steps = reader.int(), let valid = reader.int(), valid <= steps,
                  let correct = reader.word(), correct <= 1, let length = reader.int(), let n = reader.count() else { return nil }
            var components: [RewardComponent] = []
            for _ in 0..<n {
                guard let name = reader.string(), let value = reader.word() else { return nil }
                components.append(RewardComponent(name: name, value: Double(bitPattern: value)))
            }
            rows.append(RolloutRow(total: Double(bitPattern: total), components: components, stepCount: steps,
                                   validStepCount: valid, correct: correct == 1, length: length))
        }
        return rows
    }

    /// Reward, components, verified-step rate, answer accuracy and length over `rows`, added in row order.
    static func summary(of rows: [RolloutRow]) -> PPOIterationMetrics {
        var m = PPOIterationMetrics()
        let n = Double(max(rows.count, 1))
        m.sequences = rows.count
        m.reward = rows.reduce(0) { $0 + $1.total } / n
        for row in rows {
            for c in row.components { m.rewardComponents[c.name, default: 0] += c.value / n }
        }
        let steps = rows.reduce(0) { $0 + $1.stepCount }
        let verified = rows.reduce(0) { $0 + $1.validStepCount }
        m.verifiedStepRate = steps > 0 ? Double(verified) / Double(steps) : 0
        m.answerAccuracy = Double(rows.filter(\.correct).count) / n
        m.completionLength = Double(rows.reduce(0) { $0 + $1.length }) / n
        return m
    }
}
