/// What a reward judges: the question, the generated trace, the reference answer and, when there is one,
/// the teacher's trace for the same question. Traces are parsed once here and shared by every reward.
public struct RewardInput: Sendable {
    /// The question the trace answers.
    public let question: String
    /// The generated trace (steps, then `answer: VALUE`).
    public let trace: ParsedTrace
    /// The reference final answer.
    public let referenceAnswer: String
    /// The teacher's trace for the same question, if known.
    public let teacherTrace: ParsedTrace?

    /// Parses `trace` (and `teacherTrace`) into steps and answer lines.
    public init(question: String, trace: String, referenceAnswer: String, teacherTrace: String? = nil) {
        self.question = question
        self.trace = ParsedTrace(trace)
        self.referenceAnswer = referenceAnswer
        self.teacherTrace = teacherTrace.map(ParsedTrace.init)
    }
}

/// A reward placed on one line of the trace, so PPO can credit the token that ends the line.
public struct StepReward: Sendable, Equatable {
    /// Character offsets of the line in the trace (see `TraceLine.span`).
    public let span: Range<Int>
    /// The reward for that line.
    public let reward: Double

    /// A reward of `reward` on the line at `span`.
    public init(span: Range<Int>, reward: Double) {
        self.span = span
        self.reward = reward
    }
}

/// One named part of a reward (`answer`, `step_validity`, ...).
public struct RewardComponent: Sendable, Equatable {
    /// The part's name.
    public let name: String
    /// Its value (unweighted).
    public let value: Double

    /// A component called `name` with value `value`.
    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// A reward's verdict on one trace.
///
/// The per-step rewards always sum to `total` (up to rounding) when the trace has at least one line, so a
/// trainer may use either the total at the end or the dense per-line rewards without changing the return.
public struct RewardResult: Sendable {
    /// The scalar reward.
    public let total: Double
    /// Named parts, in a fixed order.
    public let components: [RewardComponent]
    /// Rewards per line of the trace, in text order; lines with nothing to credit are left out.
    public let stepRewards: [StepReward]

    /// A result with the given total, components and per-line rewards.
    public init(total: Double, components: [RewardComponent], stepRewards: [StepReward]) {
        self.total = total
        self.components = components
        self.stepRewards = stepRewards
    }

    /// The value of the component called `name`, if present.
    public subscript(component name: String) -> Double? {
        components.first { $0.name == name }?.value
    }
}

/// A pluggable reward on reasoning traces.
///
/// Conformers are value types with their settings as stored properties; `CompositeReward` combines them with
/// weights. PPO (and GRPO) call `evaluate` once per sampled trace.
public protocol RewardFunction: Sendable {
    /// The component name this reward reports under (`answer`, `step_validity`, ...).
    var name: String { get }
    /// Judges one trace.
    func evaluate(_ input: RewardInput) -> RewardResult
}

extension RewardFunction {
    /// Judges `trace` for `question` against `referenceAnswer` (and the teacher's trace, when given).
    public func evaluate(question: String, trace: String, referenceAnswer: String,
                         teacherTrace: String? = nil) -> RewardResult {
        evaluate(RewardInput(question: question, trace: trace, referenceAnswer: referenceAnswer, teacherTrace: teacherTrace))
    }

    /// A single-component result for this reward with the total placed on the trace's last line (or on no line
    /// when the trace is empty).
    func result(_ total: Double, onLastLineOf trace: ParsedTrace) -> RewardResult {
        let steps = trace.lines.last.map { [StepReward(span: $0.span, reward: total)] } ?? []
        return RewardResult(total: total, components: [RewardComponent(name: name, value: total)], stepRewards: steps)
    }
}
