/// Why a model file from outside (a Hugging Face folder, a safetensors file, a GGUF file) could not be read or
/// used: each case names the file, the key or tensor, what was found and what is supported.
public enum ModelFileError: Error, CustomStringConvertible, Equatable {
    /// The file or folder does not exist or cannot be opened.
    case unreadable(file: String, reason: String)
    /// The bytes are not of the expected format, or end early (truncated), at `offset`.
    case malformed(file: String, offset: Int, reason: String)
    /// A value the format allows but this build does not read (a GGUF version, a tensor type, a dtype).
    case unsupported(file: String, what: String, supported: String)
    /// A metadata or config key is missing, or has a value that is not supported.
    case badKey(file: String, key: String, reason: String)
    /// A tensor the model needs is not in the file.
    case missingTensor(file: String, tensor: String)
    /// A tensor's shape differs from the one the model config implies.
    case tensorShape(file: String, tensor: String, expected: [Int], actual: [Int])

    /// The message shown to users: the file, what is wrong, and how to fix it.
    public var description: String {
        switch self {
        case .unreadable(let f, let reason):
            return "\(f): cannot read: \(reason)"
        case .malformed(let f, let offset, let reason):
            return "\(f): malformed at byte \(offset): \(reason)"
        case .unsupported(let f, let what, let supported):
            return "\(f): \(what) is not supported (supported: \(supported))"
        case .badKey(let f, let key, let reason):
            return "\(f): \(key): \(reason)"
        case .missingTensor(let f, let tensor):
            return "\(f): tensor \(tensor) is missing; the file does not hold a complete model of this architecture"
        case .tensorShape(let f, let tensor, let expected, let actual):
            return "\(f): tensor \(tensor) has shape \(actual), the config implies \(expected); the file and its config disagree"
        }
    }
}
