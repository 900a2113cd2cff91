/// How a question and its trace become the text a model reads and writes.
///
/// Training, teacher sampling, PPO rollouts and evaluation all use this one layout, so a model trained by one
/// stage is prompted the same way by the next:
///
///     <bos>QUESTION\n            prompt (the model reads it; the loss ignores it)
///     STEP 1\nSTEP 2\n...\nanswer: VALUE<eos>   completion (the model writes it)
///
/// The completion text is exactly `TraceRecord.traceText`, so character offsets in it (which the rewards use
/// for per-step credit) are token offsets after the prompt with the one-character-per-token math tokenizer.
public enum TraceFormat {
    /// The prompt text for a question (a trailing newline separates it from the first step).
    public static func prompt(question: String) -> String { question + "\n" }

    /// The completion text for a trace: its steps, one per line, then `answer: VALUE`.
    public static func completion(of record: TraceRecord) -> String { record.traceText }
}
