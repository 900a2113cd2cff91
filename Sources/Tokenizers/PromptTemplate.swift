/// How a question is put to a model, and which token ends its answer.
///
/// `plain` is the layout the built-in models are trained on (`QUESTION\n`, ended by the tokenizer's EOS); `chatml`
/// is Qwen's and SmolLM2's chat format (ended by `<|im_end|>`), `llama3` Llama 3's (ended by `<|eot_id|>`),
/// `deepseek` DeepSeek-R1's and its distilled models' (`<｜User｜>...<｜Assistant｜>`, ended by
/// `<｜end▁of▁sentence｜>`); a custom template is any text with `{question}` in it, ended by the tokenizer's EOS.
public enum PromptTemplate: Sendable, Equatable, CustomStringConvertible {
    case plain
    case chatml
    case llama3
    case deepseek
    case custom(String)

    /// The named templates.
    public static let names = ["plain", "chatml", "llama3", "deepseek"]

    /// A named template, or a custom one when `text` holds `{question}`; nil otherwise.
    public init?(_ text: String) {
        switch text {
        case "plain": self = .plain
        case "chatml": self = .chatml
        case "llama3": self = .llama3
        case "deepseek": self = .deepseek
        default:
            guard text.contains("{question}") else { return nil }
            self = .custom(text)
        }
    }

    /// The prompt text for `question` (the completion follows it directly).
    public func prompt(question: String) -> String {
        switch self {
        case .plain: return question + "\n"
        case .chatml: return "<|im_start|>user\n\(question)<|im_end|>\n<|im_start|>assistant\n"
        case .llama3:
            return "<|start_header_id|>user<|end_header_id|>\n\n\(question)<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        case .deepseek: return "<｜User｜>\(question)<｜Assistant｜>"
        case .custom(let text): return text.replacingOccurrences(of: "{question}", with: question)
        }
    }

    /// The token that ends a completion, nil for the tokenizer's end-of-sequence token.
    public var endToken: String? {
        switch self {
        case .chatml: return "<|im_end|>"
        case .llama3: return "<|eot_id|>"
        case .deepseek: return "<｜end▁of▁sentence｜>"
        case .plain, .custom: return nil
        }
    }

    /// The template a tokenizer's chat template (Jinja text) points to: ChatML for `<|im_start|>`, Llama 3 for
    /// `<|start_header_id|>`, DeepSeek for `<｜Assistant｜>`, plain otherwise.
    public static func family(ofChatTemplate template: String?) -> PromptTemplate {
        guard let template else { return .plain }
        if template.contains("<|im_start|>") { return .chatml }
        if template.contains("<|start_header_id|>") { return .llama3 }
        if template.contains("<｜Assistant｜>") { return .deepseek }
        return .plain
    }

    public var description: String {
        switch self {
        case .plain: return "plain"
        case .chatml: return "chatml"
        case .llama3: return "llama3"
        case .deepseek: return "deepseek"
        case .custom(let text): return text
        }
    }
}
