/// How a question and its trace become text: the question, and the completion a model writes for it.
///
/// Training, teacher sampling, PPO rollouts and evaluation all use this one layout, through `TraceCodec` (in
/// Tokenizers), which wraps the question in the run's prompt template and ends the completion with the template's
/// end token. With the built-in character tokenizer and the plain template that is:
///
///     <bos>QUESTION\n            prompt (the model reads it; the loss ignores it)
///     STEP 1\nSTEP 2\n...\nanswer: VALUE<eos>   completion (the model writes it)
///
/// The completion text is exactly `TraceRecord.traceText`; the rewards' character offsets in it are mapped to the
/// tokens that wrote them by the codec (one token per character for the math tokenizer, several characters per
/// token for byte-level BPE).
public enum TraceFormat {
    /// The prompt text for a question (a trailing newline separates it from the first step).
    public static func prompt(question: String) -> String { question + "\n" }

    /// The completion text for a trace: its steps, one per line, then `answer: VALUE`.
    public static func completion(of record: TraceRecord) -> String { record.traceText }
}
