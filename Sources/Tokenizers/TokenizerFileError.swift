/// Why a tokenizer description (a `tokenizer.json` file or GGUF `tokenizer.ggml.*` metadata) could not be used:
/// where (file and JSON path or metadata key), what was found, and how to fix it.
public struct TokenizerFileError: Error, CustomStringConvertible, Equatable {
    /// The file (or "GGUF metadata of FILE").
    public let file: String
    /// The JSON path (`model.merges[12]`) or metadata key at fault.
    public let key: String
    /// What is wrong and what is supported.
    public let message: String

    /// An error at `key` of `file`, with what is wrong and how to fix it.
    public init(file: String, key: String, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    /// "FILE: KEY: MESSAGE".
    public var description: String { "\(file): \(key): \(message)" }
}
