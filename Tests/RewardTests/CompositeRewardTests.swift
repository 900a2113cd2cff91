import Foundation
import Reward
import Testing

// The composite reward and its configuration, with a fully hand-computed example.

@Test func compositeWithDefaultWeights() {
    let trace = "48 / 2 = 24\n48 + 24 = 73\nanswer: 73"
    let teacher = "48 / 2 = 24\n48 + 24 = 72\nanswer: 72"
    let r = CompositeReward(config: RewardConfig()).evaluate(question: "q", trace: trace, referenceAnswer: "72", teacherTrace: teacher)
    // answer 0; step validity 1/2 - 0.5 = 0; teacher F1 2*1/(2+2) = 0.5; format 1; length 0.
    #expect(r.components.map(\.name) == ["answer", "step_validity", "teacher_agreement", "format", "length"])
    #expect(r.components.map(\.value) == [0, 0, 0.5, 1, 0])
    // 1*0 + 0.5*0 + 0.25*0.5 + 0.1*1 + 0.1*0
    #expect(abs(r.total - 0.225) < 1e-12)
    // Line 0: 0.5*0.5 + 0.25*0.5 + 0.1*0.25; line 1: 0.5*(0 - 0.5) + 0.1*0.25; answer line: 0.1*0.5.
    #expect(r.stepRewards.map(\.span) == [0..<11, 12..<24, 25..<35])
    let expected = [0.4, -0.225, 0.05]
    for (got, want) in zip(r.stepRewards.map(\.reward), expected) { #expect(abs(got - want) < 1e-12) }
}

@Test func perLineRewardsSumToTheTotal() {
    let traces = [
        "48 / 2 = 24\n48 + 24 = 73\n73 * 2 = 146\nanswer: 146", "answer: 3", "", "we think\n(1 + 1 = 2\n",
        "1 + 1 = 2\n2 + 2 = 5\nanswer: 5\nmore", String(repeating: "9 * 9 = 81\n", count: 50) + "answer: 81",
    ]
    let rewards: [any RewardFunction] = [
        FinalAnswerReward(), StepValidityReward(), TeacherAgreementReward(), FormatReward(), LengthPenaltyReward(),
        CompositeReward(config: RewardConfig()),
    ]
    for reward in rewards {
        for t in traces {
            let r = reward.evaluate(question: "q", trace: t, referenceAnswer: "81", teacherTrace: "9 * 9 = 81\nanswer: 81")
            let sum = r.stepRewards.map(\.reward).reduce(0, +)
            #expect(abs(sum - r.total) < 1e-9, "\(reward.name) on \(String(reflecting: t)): lines sum to \(sum), total \(r.total)")
        }
    }
}

@Test func customParts() {
    let c = CompositeReward([WeightedReward(FinalAnswerReward(), weight: 2), WeightedReward(FormatReward(), weight: -1)])
    let r = c.evaluate(question: "q", trace: "answer: 4", referenceAnswer: "4")
    // 2*1 - 1*0.5
    #expect(r.total == 1.5)
}

@Test func rewardConfigDecodesAndMergesDefaults() throws {
    let json = #"{"weights": {"answer": 2, "teacher_agreement": 0}, "first_invalid_penalty": 1, "max_length": 256, "length_buffer": 64}"#
    let config = try JSONDecoder().decode(RewardConfig.self, from: Data(json.utf8))
    #expect(config.weights == ["answer": 2, "step_validity": 0.5, "teacher_agreement": 0, "format": 0.1, "length": 0.1])
    #expect(config.firstInvalidPenalty == 1)
    #expect(config.maxLength == 256)
    #expect(CompositeReward(config: config).parts.map(\.reward.name) == ["answer", "step_validity", "format", "length"])
}

@Test(arguments: [
    (#"{"weight": {}}"#, RewardConfigError.unknownKey("weight", known: ["weights", "first_invalid_penalty", "no_claim_score",
        "answer_format_weight", "max_step_characters", "max_length", "length_buffer"])),
    (#"{"weights": {"anwser": 1}}"#, RewardConfigError.unknownKey("weights.anwser", known: RewardConfig.rewardNames.map { "weights.\($0)" })),
    (#"{"max_length": "long"}"#, RewardConfigError.invalidValue(key: "max_length", reason: "expected an integer")),
    (#"{"first_invalid_penalty": -1}"#, RewardConfigError.invalidValue(key: "first_invalid_penalty", reason: "must be a finite number >= 0, got -1.0")),
    (#"{"max_length": 100}"#, RewardConfigError.invalidValue(key: "length_buffer",
        reason: "must be in 1...max_length (100), got 128; raise max_length or lower length_buffer")),
    (#"{"weights": {"answer": 0, "step_validity": 0, "teacher_agreement": 0, "format": 0, "length": 0}}"#,
     RewardConfigError.invalidValue(key: "weights", reason: "every weight is 0; give at least one reward a nonzero weight")),
    (#"{"answer_format_weight": 2}"#, RewardConfigError.invalidValue(key: "answer_format_weight", reason: "must be in [0, 1], got 2.0")),
])
func rewardConfigErrors(json: String, expected: RewardConfigError) {
    #expect(throws: expected) { try JSONDecoder().decode(RewardConfig.self, from: Data(json.utf8)) }
}
