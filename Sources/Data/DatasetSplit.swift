/// A dataset split.
public enum DatasetSplit: String, Sendable, Codable, CaseIterable {
    /// Training questions.
    case train
    /// Held out for choosing checkpoints and early stopping.
    case validation
    /// Held out for the final evaluation.
    case test
}
