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
