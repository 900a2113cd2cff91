/// The built-in architectures: `distill init --preset`, a curriculum's default teacher and student, and the bench's
/// models, defined once.
extension TransformerConfig {
    /// A built-in architecture (Llama layout, no QKV bias, untied embeddings).
    public enum Preset: String, CaseIterable, Sendable {
        /// 4 layers x 256, 8 heads (8 KV heads), MLP 688: the PyTorch anchor's teacher (../shared/anchors/torch_anchor.py).
        case teacher
        /// 2 layers x 128, 4 heads (4 KV heads), MLP 344: the anchor's student, and the teacher shrunk by a curriculum's
        /// default `student:` settings.
        case student
        /// 2 layers x 32, 4 heads (2 KV heads), MLP 64: for tests and examples that need a model in milliseconds.
        case tiny
    }

    /// The architecture of `preset` for a vocabulary of `vocab` ids and a context of `context` positions.
    /// - Parameters:
    ///   - vocab: the tokenizer's vocabulary size (the math tokenizer's for the built-in tasks).
    ///   - context: `maxPositionEmbeddings` (256 by default, as `distill init` and curricula use; the bench uses 128).
    public static func preset(_ preset: Preset, vocab: Int, context: Int = 256) -> TransformerConfig {
        switch preset {
        case .teacher: return TransformerConfig(vocabSize: vocab, hiddenSize: 256, intermediateSize: 688, numHiddenLayers: 4,
                                                numAttentionHeads: 8, maxPositionEmbeddings: context)
        case .student: return TransformerConfig(vocabSize: vocab, hiddenSize: 128, intermediateSize: 344, numHiddenLayers: 2,
                                                numAttentionHeads: 4, maxPositionEmbeddings: context)
        case .tiny: return TransformerConfig(vocabSize: vocab, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                             numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: context)
        }
    }
}
