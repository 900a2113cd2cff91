/// An evaluation problem the user can fix: each case names the suite, file, option or role at fault and says
/// what to do. (Malformed JSONL rows surface as `Data.DataError.malformedLine`, which already names the file,
/// line and field.)
public enum EvalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `--suite` is neither a built-in suite nor an existing file.
    case unknownSuite(name: String, builtIn: [String])
    /// The suite file's format could not be recognised from its first row.
    case unrecognizedFormat(file: String, line: Int, reason: String)
    /// The suite has no problems (an empty file, or `--limit 0`).
    case emptySuite(name: String)
    /// A held-out question belongs to a training or validation split (it could have been trained on).
    case leakedQuestion(suite: String, id: String, question: String, split: String)
    /// An evaluation setting out of range or inconsistent with another.
    case invalidSetting(setting: String, reason: String)
    /// A model role the evaluation needs is not in the checkpoint.
    case missingRole(file: String, role: String, available: [String])
    /// The checkpoint holds no tokenizer, or one that does not fit the model.
    case tokenizer(source: String, reason: String)
    /// The run folder cannot be reported on (missing, no stage checkpoints, two files for one stage).
    case runFolder(path: String, reason: String)
    /// A report file could not be written.
    case writeFailed(path: String, reason: String)
    /// The model gave NaN or infinite logits while answering a problem (0-based generated token `step`).
    case nonFiniteLogits(model: String, problem: String, step: Int, sampled: Bool)
    /// A batch decoded by another process (under mpirun) came back as `bytes` bytes that are not its `rows` rows.
    case unreadableBatch(batch: Int, rows: Int, bytes: Int)

    /// The message shown to the user: what is wrong and how to fix it.
    public var description: String {
        switch self {
        case .unknownSuite(let name, let builtIn):
            return "suite '\(name)': no such file and not a built-in suite (built-in: \(builtIn.joined(separator: ", "))); "
                + "give a built-in name or the path of a JSONL file (trace, GSM8K or MATH-500 format)"
        case .unrecognizedFormat(let file, let line, let reason):
            return "\(file):\(line): cannot tell the suite format: \(reason); pass --format traces, gsm8k or math500"
        case .emptySuite(let name):
            return "suite '\(name)' has no problems to evaluate; check the file (or a --limit above 0)"
        case .leakedQuestion(let suite, let id, let question, let split):
            return "suite '\(suite)': problem \(id) (\(String(reflecting: question))) belongs to the \(split) split, so a model "
                + "may have trained on it; held-out suites may only hold test-split questions (regenerate the suite with "
                + "the standard split plan, or remove the problem)"
        case .invalidSetting(let setting, let reason):
            return "\(setting): \(reason)"
        case .missingRole(let file, let role, let available):
            return "\(file): no model role '\(role)' (the file has: \(available.isEmpty ? "none" : available.joined(separator: ", "))); "
                + "choose --role from the roles present, or evaluate a checkpoint that holds a \(role)"
        case .tokenizer(let source, let reason):
            return "\(source): \(reason)"
        case .runFolder(let path, let reason):
            return "run folder \(path): \(reason)"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .nonFiniteLogits(let model, let problem, let step, let sampled):
            return "\(model): non-finite logits (NaN or infinity) at generated token \(step + 1) of problem \(problem)"
                + (sampled ? " (sampled pass)" : " (greedy pass)") + ", although the weights are finite: the forward pass "
                + "overflows Float, so no answer of this model can be scored; evaluate an earlier checkpoint of the run"
        case .unreadableBatch(let batch, let rows, let bytes):
            return "evaluation batch \(batch) (\(rows) rows) came back from the process that decoded it as \(bytes) bytes that "
                + "are not its rows; run every rank of the job from the same build of distill"
        }
    }
}
