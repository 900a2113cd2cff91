import Model

/// Where the run report finds models: the roles a checkpoint file holds and the model under a role.
///
/// Eval does not read checkpoints itself (it depends on Model, Data and Reward only); the command line and the
/// curriculum runner implement this with `Checkpoint.CheckpointReader`.
public protocol ModelSource {
    /// The model roles stored in the checkpoint at `path` (`teacher`, `student`, `baseline`, ...).
    func roles(inFile path: String) throws -> [String]
    /// The transformer stored under `role` in `path`, with the codec (tokenizer and prompt template) saved beside it.
    func model(inFile path: String, role: String) throws -> (model: Transformer, codec: TraceCodec)
}
