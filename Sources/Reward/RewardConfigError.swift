import StrictConfig

/// A reward configuration that cannot be used, naming the key and how to fix it.
public enum RewardConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key the configuration does not have (often a typo).
    case unknownKey(String, known: [String])
    /// A key whose value is of the wrong type or out of range.
    case invalidValue(key: String, reason: String)

    /// The message shown to the user: what is wrong and how to fix it.
    public var description: String {
        switch self {
        case .unknownKey(let key, let known):
            return "unknown reward config key '\(key)'; the known keys are \(known.joined(separator: ", "))"
        case .invalidValue(let key, let reason):
            return "reward config key '\(key)': \(reason)"
        }
    }
}

extension RewardConfigError {
    /// The strict layer's `issue`, with its key path taken from the `depth`th key on (the reward settings' own root).
    init(_ issue: ConfigIssue, under depth: Int) {
        let key = Array(issue.path.dropFirst(depth)).map { $0 as CodingKey }.dottedPath
        switch issue.problem {
        case .unknownKey(let known): self = .unknownKey(key, known: known)
        case .wrongType(let expected, _): self = .invalidValue(key: key, reason: "expected \(expected)")
        case .null, .invalid: self = .invalidValue(key: key, reason: issue.message)
        }
    }
}
