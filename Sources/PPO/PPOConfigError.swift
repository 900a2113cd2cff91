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
