/// The row format of a suite file.
public enum SuiteFormat: String, Sendable, CaseIterable, Codable {
    /// Recognise the format from the first row's fields.
    case auto
    /// TraceDistill trace rows (`question`, `steps`, `answer`, ...; see `Data.TraceRecord`).
    case traces
    /// GSM8K as published (`question`, `answer` ending in `#### N`).
    case gsm8k
    /// MATH-500 as published (`problem`, `solution`, `answer`, `subject`, `level`, `unique_id`).
    case math500

    /// The format a row with these top-level fields is written in, or nil when no format fits.
    ///
    /// `steps` marks a trace row (GSM8K has no such field); `problem` with `solution` a MATH row; `question` with
    /// `answer` and nothing else a GSM8K row.
    public static func detect(fields: Set<String>) -> SuiteFormat? {
        if fields.contains("steps") { return .traces }
        if fields.contains("problem") && fields.contains("solution") { return .math500 }
        if fields == ["question", "answer"] { return .gsm8k }
        return nil
    }
}
