import StrictConfig

/// A PPO setting that makes no sense: the field (snake_case, as written in a config file) and how to fix it.
public struct PPOConfigError: Error, CustomStringConvertible, Equatable {
    /// The field, e.g. `clip_epsilon` or `temperature.entropy_target.rate`.
    public let field: String
    /// What is wrong and what to write instead.
    public let reason: String

    /// An error about `field`.
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    /// One line naming the field and the fix.
    public var description: String { "invalid PPO config: \(field): \(reason)" }
}

extension PPOConfigError {
    /// The strict layer's `issue` as a PPO field: its key path from the `depth`th key on, under `prefix`; a null
    /// names the settings that null does turn off.
    init(_ issue: ConfigIssue, under depth: Int, prefix: String = "", nullable: [String] = []) {
        let relative = Array(issue.path.dropFirst(depth)).map { $0 as CodingKey }.dottedPath
        let field = [prefix, relative].filter { !$0.isEmpty }.joined(separator: ".")
        switch issue.problem {
        case .unknownKey(let known):
            self.init(field: field, reason: "unknown key; known keys are \(known.joined(separator: ", "))")
        case .wrongType(let expected, _):
            self.init(field: field.isEmpty ? "(top level)" : field, reason: "expected \(expected)")
        case .null:
            self.init(field: field, reason: ConfigIssue.nullMessage + (nullable.isEmpty ? "" : " (null turns off only \(nullable.joined(separator: ", ")))"))
        case .invalid(let message):
            self.init(field: field, reason: message)
        }
    }
}
