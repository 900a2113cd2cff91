/// Why a settings value cannot be used, at a key: the one error the strict layer throws. Each target that owns a
/// settings family turns it into its own typed error (`CurriculumError` with file and line, `PPOConfigError`,
/// `RewardConfigError`, ...), so the checks are written once and the messages stay what each place promises.
public struct ConfigIssue: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong.
    public enum Problem: Equatable, Sendable {
        /// A key this place does not have (often a typo); `known` in the settings type's order.
        case unknownKey(known: [String])
        /// A value of the wrong type: what was expected (`an integer`), and the written text when it is a
        /// single value (`'many'`) or `a mapping` / `a list`.
        case wrongType(expected: String, found: String?)
        /// A key written without a value (`~`, `null`, or nothing after the colon).
        case null
        /// Out of range, or an impossible combination: what is wrong and how to fix it.
        case invalid(String)
    }

    /// The keys from the decoded value's root to the offending key (list indices as integer keys).
    public let path: [ConfigKey]
    public let problem: Problem

    /// An issue at `path`.
    public init(path: [CodingKey], _ problem: Problem) {
        self.path = path.map { $0.intValue.map(ConfigKey.init(intValue:)) ?? ConfigKey($0.stringValue) }
        self.problem = problem
    }

    /// The dotted key path (`temperature.entropy_target.rate`, `stages[0].steps`).
    public var keyPath: String { path.map { $0 as CodingKey }.dottedPath }

    /// The curriculum wording: what is wrong and how to fix it, without the key path.
    public var message: String {
        switch problem {
        case .unknownKey(let known):
            return "unknown key; known keys here: \(known.sorted().joined(separator: ", "))"
        case .wrongType(let expected, let found?):
            return "expected \(expected), found \(found)"
        case .wrongType(let expected, nil):
            return "expected \(expected)"
        case .null:
            return Self.nullMessage
        case .invalid(let message):
            return message
        }
    }

    /// Why null is refused (it would silently mean the default).
    public static let nullMessage = "is null; a key without a value is not read as its default: delete the line to get the default, or give a value"

    public var description: String { keyPath.isEmpty ? message : "\(keyPath): \(message)" }
}
