import Checkpoint
import Eval
import Model
import Tokenizers

/// Models from checkpoint files, for the evaluator and the run report (Eval itself reads no checkpoints).
public struct CheckpointModelSource: ModelSource {
    public init() {}

    /// The model roles `path` holds.
    /// - Throws: `CheckpointError` when the file cannot be opened as a checkpoint.
    public func roles(inFile path: String) throws -> [String] { try CheckpointReader(path: path).roles() }

    /// The model under `role` in `path` and the codec of the file's tokenizer (`CheckpointReader.loadModel`).
    /// - Throws: `EvalError.missingRole` naming the roles there are; `EvalError.tokenizer` when the stored tokenizer
    ///   is missing or does not fit the model; `CheckpointError` when the weights cannot be read.
    public func model(inFile path: String, role: String) throws -> (model: Transformer, codec: TraceCodec) {
        let reader = try CheckpointReader(path: path)
        let available = try reader.roles()
        guard available.contains(role) else { throw EvalError.missingRole(file: path, role: role, available: available) }
        do { return try reader.loadModel(role: role) } catch let e as CheckpointError {
            // the codec's errors (object /tokenizer...) are the tokenizer's; the weights' errors stay as they are
            guard case .corrupt(_, let object, _) = e, object.hasPrefix("/tokenizer") else { throw e }
            throw EvalError.tokenizer(source: path, reason: "\(e)")
        }
    }
}
