/// Where a stage is in its life. `failed` keeps the reason.
public enum StageState: Equatable, Sendable, CustomStringConvertible {
    case pending
    case running
    case evaluating
    case completed
    case failed(reason: String)

    /// The name stored in checkpoints and shown by `distill status`.
    public var name: String {
        switch self {
        case .pending: return "pending"
        case .running: return "running"
        case .evaluating: return "evaluating"
        case .completed: return "completed"
        case .failed: return "failed"
        }
    }

    public var description: String {
        if case .failed(let reason) = self { return "failed (\(reason))" }
        return name
    }

    /// True for `completed` and `failed`: no event moves a stage out of them.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed: return true
        default: return false
        }
    }

    /// The state named `name` (as stored), with the failure reason for `failed`.
    public init?(name: String, reason: String? = nil) {
        switch name {
        case "pending": self = .pending
        case "running": self = .running
        case "evaluating": self = .evaluating
        case "completed": self = .completed
        case "failed": self = .failed(reason: reason ?? "unknown")
        default: return nil
        }
    }
}

/// What happens to a stage; the runner turns each into a transition.
public enum StageEvent: Equatable, Sendable, CustomStringConvertible {
    /// The runner begins the stage.
    case start
    /// One unit of work finished.
    case stepDone
    /// A validation pass is due.
    case evalDue
    /// The validation pass finished and training goes on.
    case evalDone
    /// The step budget is used up.
    case budgetExhausted
    /// Validation stopped improving for `patience` evaluations.
    case earlyStop
    /// The stage cannot go on.
    case error(reason: String)

    public var description: String {
        switch self {
        case .start: return "start"
        case .stepDone: return "stepDone"
        case .evalDue: return "evalDue"
        case .evalDone: return "evalDone"
        case .budgetExhausted: return "budgetExhausted"
        case .earlyStop: return "earlyStop"
        case .error(let reason): return "error(\(reason))"
        }
    }
}

/// An event that the current state does not accept.
public struct InvalidTransition: Error, Equatable, CustomStringConvertible {
    public let state: StageState
    public let event: StageEvent
    public init(state: StageState, event: StageEvent) {
        self.state = state
        self.event = event
    }
    public var description: String { "stage in state \(state) cannot take event \(event)" }
}

/// The stage life cycle as a pure function:
///
///     pending    --start-->           running
///     running    --stepDone-->        running
///     running    --evalDue-->         evaluating
///     running    --budgetExhausted--> completed
///     evaluating --evalDone-->        running
///     evaluating --budgetExhausted--> completed   (the last step's validation pass is done)
///     evaluating --earlyStop-->       completed
///     any non-final --error-->        failed(reason)
///
/// Everything else is an `InvalidTransition`.
public func transition(_ state: StageState, _ event: StageEvent) throws -> StageState {
    switch (state, event) {
    case (.pending, .start): return .running
    case (.running, .stepDone): return .running
    case (.running, .evalDue): return .evaluating
    case (.running, .budgetExhausted): return .completed
    case (.evaluating, .evalDone): return .running
    case (.evaluating, .budgetExhausted): return .completed
    case (.evaluating, .earlyStop): return .completed
    case (let s, .error(let reason)) where !s.isFinal: return .failed(reason: reason)
    default: throw InvalidTransition(state: state, event: event)
    }
}
