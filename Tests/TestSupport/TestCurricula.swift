import Foundation

/// Curriculum texts several test targets run.
public enum TestCurricula {
    /// The tiny curriculum without stages: 2 x 32 teacher, 1 x 16 student, 8 addition rows (StagesTests'
    /// `CurriculumTests.tiny`, which the command tests name too).
    public static let tiny = """
    name: t
    seed: 1
    data: {domains: [addition], train_size: 8, validation_size: 4, max_length: 96}
    teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
    student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
    """

    /// The top-k targets run: teacher-logits over the reference rows (2 per step, chunks of 32 targets so a step
    /// ends mid-chunk), then output-distill and feature-align reading the cache.
    public static func topK(k: Int = 8, temperature: String = "2.0", extra: String = "") -> String {
        // 12 rows up to 128 tokens (the tiny teacher's positions), so the stage takes several steps
        tiny.replacingOccurrences(of: "train_size: 8, validation_size: 4, max_length: 96}",
                                                  with: "train_size: 12, validation_size: 4, max_length: 128}") + """

        run: {checkpoint_every: 1, keep_checkpoints: 2}
        stages:
          - kind: teacher-logits
            k: \(k)
            temperature: \(temperature)
            batch_size: 2
            chunk_targets: 32
            data: reference
          - kind: output-distill
            steps: 3
            batch_size: 4
            data: reference
            targets: topk
            temperature: 2.0
          - kind: feature-align
            steps: 2
            batch_size: 4
            data: reference
            targets: topk
            temperature: 2.0
        \(extra)
        """
    }

    /// The first lines of the small run several stage tests share (a 2-layer x 32 teacher, a 2-layer x 32 student
    /// with 2 KV groups and MLP 48, 16 addition rows, checkpoints every 2 steps); each test's `stages:` follows.
    public static let tinyRunHead = """
        name: t
        seed: 1
        data: {domains: [addition], train_size: 16, validation_size: 4, max_length: 96}
        teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
        student: {layers: 2, hidden_size: 32, heads: 4, kv_heads: 2, intermediate_size: 48}
        run: {checkpoint_every: 2, keep_checkpoints: 2}
        """
}

/// (step, stage index, stage step, metric names) of every row of a run's metrics.jsonl: the rows' shape, which a
/// resumed run must repeat.
public func metricRowKeys(_ run: String) throws -> [String] {
    try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
        let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        return "\(row["step"] ?? "") \(row["stage_index"] ?? "") \(row["stage_step"] ?? "") " + row.keys.sorted().joined(separator: ",")
    }
}
