import Model

/// Failures of a PPO trainer at run time (bad problems, mismatched models, a damaged controller state).
public enum PPOError: Error, CustomStringConvertible, Equatable {
    /// A problem's question has a character the tokenizer cannot encode.
    case unencodableQuestion(problem: Int, error: TokenizerError)
    /// A prompt leaves no room for a completion within the model's context.
    case promptTooLong(problem: Int, tokens: Int, limit: Int)
    /// Too few problems for the configured minibatches.
    case tooFewSequences(sequences: Int, minibatches: Int)
    /// An iteration or evaluation was given no problems.
    case noProblems
    /// Models that must share a vocabulary (or an architecture) do not.
    case modelMismatch(String)
    /// The teacher log-ratio reward is on but no teacher was given.
    case teacherRequired
    /// A checkpointed controller state is missing a key or holds a bad value.
    case invalidControllerState(key: String, reason: String)
    /// A batch of an evaluation came back (from the process that decoded it) as bytes that are not its problems' rows.
    case unreadableEvaluationBatch(batch: Int, problems: Int, bytes: Int)

    /// One line saying what is wrong and how to fix it.
    public var description: String {
        switch self {
        case .unencodableQuestion(let i, let e):
            return "problem \(i): \(e)"
        case .promptTooLong(let i, let n, let limit):
            return "problem \(i): the prompt has \(n) tokens but the model's context holds \(limit); shorten the question or raise max_position_embeddings"
        case .tooFewSequences(let s, let m):
            return "an iteration of \(s) sequences cannot be split into \(m) minibatches; pass at least \(m) problems (times group_size) or lower minibatches"
        case .noProblems:
            return "no problems given; pass at least one problem"
        case .modelMismatch(let what):
            return "models do not match: \(what)"
        case .teacherRequired:
            return "teacher_log_ratio_coefficient > 0, teacher_advantage_coefficient > 0 and guidance: teacher need a teacher model; give one, or set both coefficients to 0 and guidance to none or teacher_trace"
        case .invalidControllerState(let key, let reason):
            return "controller state \(key): \(reason); the checkpoint is damaged or from another stage kind"
        case .unreadableEvaluationBatch(let j, let n, let bytes):
            return "evaluation batch \(j) (\(n) problems) came back as \(bytes) bytes that are not its problems' results; "
                + "every process must run the same build of distill (under mpirun: the same binary on every host)"
        }
    }
}
