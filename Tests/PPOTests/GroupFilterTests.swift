import Foundation
import Model
import PPO
import Reward
import Tensor
import Testing

// DAPO's dynamic sampling (`filter_groups: answer`) and the group figures PPO reports for the diagnosis of a stage
// whose groups mostly agree.

private func snapshot(_ store: ParameterStore) -> [Float] { Array(UnsafeBufferPointer(start: store.values.base, count: store.count)) }

/// A GRPO config with the answer filter: groups of 4, 4 prompts a round, at most 3 rounds.
private func filteredConfig() -> PPOConfig {
    var c = ToyTask.config(.grpo)
    c.filterGroups = .answer
    c.maxSamplingRounds = 3
    c.maxNewTokens = 7
    return c
}

/// The toy trainer over the alphabet {#, a, b, newline} whose policy first learns (CE, 150 AdamW steps) to answer
/// the prompt `b` with `####a` or `####b`, half and half: against the reference answer `a`, a group of 4 samples
/// disagrees on the answer with probability 7/8. The reward is the answer's; the learning rate is small enough that
/// the policy stays near a coin flip for the few iterations a test runs.
private func coinFlipTrainer(config: PPOConfig, seed: UInt64) throws -> PPOTrainer {
    let tokenizer = Tokenizer(characters: Array("#ab\n"))
    var config = config
    config.learningRate = 1e-5
    let trainer = try ToyTask.trainer(config: config, tokenizer: tokenizer,
                                      reward: CompositeReward([WeightedReward(FinalAnswerReward(), weight: 1)]), seed: seed)
    let prompt = try trainer.prompt(for: PPOProblem(question: "b", referenceAnswer: "a"))
    var tokens: [Int32] = [], targets: [Int32] = []
    var length = 0
    for answer in ["a", "b"] {
        let sequence = prompt + (try tokenizer.encode("####\(answer)\n", addBOS: false, addEOS: true))
        length = sequence.count - 1
        tokens += sequence.dropLast()
        // only the completion is learned
        targets += sequence.dropFirst().enumerated().map { $0.offset >= prompt.count - 1 ? $0.element : -100 }
    }
    learn(trainer.policy, tokens: tokens, targets: targets, rows: 2, length: length)
    trainer.reference.parameters.copyValues(from: trainer.policy.parameters)
    return trainer
}

/// 150 AdamW steps of CE on `rows` sequences of `length` (`targets` -100 where nothing is learned).
private func learn(_ model: Transformer, tokens: [Int32], targets: [Int32], rows: Int, length: Int) {
    let optimizer = AdamW(store: model.parameters, weightDecay: 0)
    for _ in 0..<150 {
        model.parameters.zeroGradients()
        crossEntropy(model.forward(tokens: tokens, batch: rows, length: length).logits, targets: targets).backward()
        optimizer.step(learningRate: 1e-2)
    }
}

/// The mean negative log-likelihood the policy gives the completion ids of `trace` after the prompt of `problem`.
private func traceNLL(_ trainer: PPOTrainer, _ problem: PPOProblem, _ trace: String) throws -> Float {
    let prompt = try trainer.prompt(for: problem), completion = try trainer.codec.completion(trace)
    let sequence = prompt + completion
    let targets = sequence.dropFirst().enumerated().map { $0.offset >= prompt.count - 1 ? $0.element : -100 }
    return crossEntropy(trainer.policy.forward(tokens: Array(sequence.dropLast()), batch: 1, length: sequence.count - 1).logits,
                        targets: Array(targets)).item
}

/// The question `b` (reference answer `a`) of the guidance and teacher-advantage tests, over the alphabet {#, a, b, newline}.
private let toyQuestion = PPOProblem(question: "b", referenceAnswer: "a")

/// A trainer with a teacher, rewarded for the final answer only, whose teacher has learned (CE) to answer `toyQuestion`
/// with `answer`; the student stays as initialised, and never answers right.
private func trainerWithTaughtTeacher(config: PPOConfig, answer: String, seed: UInt64) throws -> PPOTrainer {
    let t = try ToyTask.trainer(config: config, tokenizer: Tokenizer(characters: Array("#ab\n")),
                                reward: CompositeReward([WeightedReward(FinalAnswerReward(), weight: 1)]), teacher: true, seed: seed)
    let prompt = try t.prompt(for: toyQuestion)
    let sequence = prompt + (try t.codec.completion(answer))
    learn(t.teacher!, tokens: Array(sequence.dropLast()),
          targets: sequence.dropFirst().enumerated().map { $0.offset >= prompt.count - 1 ? $0.element : -100 },
          rows: 1, length: sequence.count - 1)
    return t
}

@Suite("GRPO group filter (dynamic sampling)", .serialized)
struct GroupFilterTests {
    @Test("the answer filter keeps a group only when its answers disagree")
    func keeps() {
        #expect(GroupFilter.answer.keeps(correct: [true, false, true, true]))
        #expect(GroupFilter.answer.keeps(correct: [false, true]))
        #expect(!GroupFilter.answer.keeps(correct: [true, true, true, true]))
        #expect(!GroupFilter.answer.keeps(correct: [false, false, false]))
        #expect(GroupFilter.none.keeps(correct: [true, true]) && GroupFilter.none.keeps(correct: [false, false]))
    }

    @Test("the mixed groups' share of the advantage, by hand")
    func mixedShare() {
        // group 1 (mixed): |1| + |-1| = 2; group 2 (all right): |0.5| + |-0.5| = 1; share 2 / 3
        let share = Advantages.mixedGroupShare(advantages: [1, -1, 0.5, -0.5], correct: [true, false, true, true], groupSize: 2)
        #expect(abs(share - 2.0 / 3.0) < 1e-12)
        #expect(Advantages.mixedGroupShare(advantages: [0, 0], correct: [true, false], groupSize: 2).isNaN)
        #expect(Advantages.mixedGroupShare(advantages: [0.3, -0.3, 2, -2], correct: [false, false, true, true], groupSize: 2) == 0)
    }

    @Test("filter_groups and max_sampling_rounds are read, written and checked")
    func config() throws {
        let c = try JSONDecoder().decode(PPOConfig.self, from: Data(#"{"advantage": "grpo", "group_size": 4, "filter_groups": "answer", "max_sampling_rounds": 2}"#.utf8))
        #expect(c.filterGroups == .answer && c.maxSamplingRounds == 2)
        let again = try JSONDecoder().decode(PPOConfig.self, from: try JSONEncoder().encode(c))
        #expect(again == c)
        #expect(try JSONDecoder().decode(PPOConfig.self, from: Data("{}".utf8)).filterGroups == GroupFilter.none)
        func error(_ json: String) -> PPOConfigError? {
            do { _ = try JSONDecoder().decode(PPOConfig.self, from: Data(json.utf8)); return nil } catch { return error as? PPOConfigError }
        }
        #expect(error(#"{"filter_groups": "answer"}"#)?.field == "filter_groups", "GAE has no groups to filter")
        #expect(error(#"{"advantage": "grpo", "group_size": 2, "filter_groups": "reward"}"#)?.field == "filter_groups")
        #expect(error(#"{"advantage": "grpo", "group_size": 2, "max_sampling_rounds": 0}"#)?.field == "max_sampling_rounds")
    }

    @Test("a policy that never answers right: every round sampled, no update, weights and controllers unchanged")
    func nothingKept() throws {
        let trainer = try ToyTask.trainer(config: filteredConfig(), seed: 51)
        let before = snapshot(trainer.policy.parameters), controllers = trainer.controllerState
        var draws: [Int] = []
        var rng = RandomGenerator(seed: 52)
        let m = try trainer.iterate(drawing: { count in draws.append(count); return ToyTask.problems(count) }, rng: &rng)
        #expect(draws == [4, 4, 4])
        #expect(m.samplingRounds == 3 && m.sequences == 48 && m.trainedSequences == 0)
        #expect(m.mixedGroups == 0 && m.correctGroups == 0 && m.mixedAdvantageShare == nil)
        #expect(m.update.updates == 0 && trainer.policyOptimizer.stepCount == 0)
        #expect(snapshot(trainer.policy.parameters) == before)
        var expected = controllers
        expected["iteration"] = 1
        #expect(trainer.controllerState == expected, "the controllers wait for an iteration that trains")
    }

    @Test("a coin-flip policy: only groups that disagree are trained on, up to prompts_per_iteration of them")
    func mixedGroupsKept() throws {
        let trainer = try coinFlipTrainer(config: filteredConfig(), seed: 61)
        var rng = RandomGenerator(seed: 62)
        for _ in 0..<6 {
            var draws = 0
            let m = try trainer.iterate(drawing: { count in draws += 1; return (0..<count).map { _ in PPOProblem(question: "b", referenceAnswer: "a") } }, rng: &rng)
            let groups = m.samplingRounds! * 4, mixed = Int((m.mixedGroups! * Double(groups)).rounded())
            #expect(draws == m.samplingRounds)
            #expect(m.sequences == groups * 4)
            #expect(m.trainedSequences == min(16, mixed * 4), "\(mixed) mixed groups of \(groups)")
            #expect(m.trainedSequences == 16 || m.samplingRounds == 3, "rounds stop once 4 groups are kept")
            #expect(m.mixedAdvantageShare == 1, "every trained group disagrees on the answer")
            #expect(m.mixedGroups! + m.correctGroups! <= 1)
            #expect(m.update.updates > 0 && m.answerAccuracy > 0.2 && m.answerAccuracy < 0.8, "accuracy \(m.answerAccuracy)")
        }
        let unfiltered = try coinFlipTrainer(config: ToyTask.config(.grpo), seed: 61)
        var r = RandomGenerator(seed: 62)
        let shares = try (0..<6).map { _ in try unfiltered.iterate(problems: ToyTask.problems(4).map { PPOProblem(question: $0.question, referenceAnswer: "a") }, rng: &r) }
        #expect(shares.allSatisfy { $0.samplingRounds == 1 && $0.trainedSequences == 16 })
        #expect(shares.contains { ($0.mixedGroups ?? 0) > 0 }, "the coin-flip policy disagrees with itself")
    }

    @Test("guidance: teacher_trace gives each all-wrong group the verified trace as its last sample, and the update learns it")
    func guidance() throws {
        var config = filteredConfig()
        config.guidance = .teacherTrace
        let reward = CompositeReward([WeightedReward(FinalAnswerReward(), weight: 1)])
        let tokenizer = Tokenizer(characters: Array("#ab\n"))
        func trainer(_ c: PPOConfig) throws -> PPOTrainer { try ToyTask.trainer(config: c, tokenizer: tokenizer, reward: reward, seed: 71) }
        func problems(_ trace: String?) -> (Int) -> [PPOProblem] {
            { count in (0..<count).map { _ in PPOProblem(question: "b", referenceAnswer: "a", teacherTrace: trace) } }
        }
        let right = "####a\n"

        // a freshly initialised policy never writes `####a`: every group is all wrong, so each gets the trace, is then
        // mixed, and the first round fills the iteration
        let guided = try trainer(config)
        let before = try traceNLL(guided, problems(right)(1)[0], right)
        var rng = RandomGenerator(seed: 72)
        for i in 0..<5 {
            let m = try guided.iterate(drawing: problems(right), rng: &rng)
            #expect(m.guidedGroups == 1 && m.samplingRounds == 1 && m.trainedSequences == 16, "iteration \(i)")
            #expect(m.answerAccuracy == 0 && m.mixedGroups == 0, "the sampling figures are the policy's own samples")
            #expect(m.mixedAdvantageShare == 1 && m.update.updates > 0)
        }
        let after = try traceNLL(guided, problems(right)(1)[0], right)
        #expect(after < before - 0.3, "the trace's NLL per token went from \(before) to \(after)")

        // no trace, a wrong trace, a trace longer than max_new_tokens: the groups stay as sampled and are dropped
        var short = config
        short.maxNewTokens = 5
        for (c, trace, why) in [(config, nil, "no trace"), (config, "####b\n", "a wrong trace"), (short, right, "7 ids > 5")] {
            let t = try trainer(c)
            let weights = snapshot(t.policy.parameters)
            var r = RandomGenerator(seed: 72)
            let m = try t.iterate(drawing: problems(trace), rng: &r)
            #expect(m.guidedGroups == 0 && m.trainedSequences == 0 && m.samplingRounds == 3, "\(why)")
            #expect(snapshot(t.policy.parameters) == weights, "\(why)")
        }

        // off (the default), nothing is guided and the figure is not reported
        var off = config
        off.guidance = .none
        var r = RandomGenerator(seed: 72)
        let m = try trainer(off).iterate(drawing: problems(right), rng: &r)
        #expect(m.guidedGroups == nil && m.values["guided_groups"] == nil && m.trainedSequences == 0)
    }

    @Test("guidance: teacher gives a group with no stored trace the teacher's greedy completion when that one is right")
    func teacherGuidance() throws {
        let tokenizer = Tokenizer(characters: Array("#ab\n"))
        let reward = CompositeReward([WeightedReward(FinalAnswerReward(), weight: 1)])
        let question = toyQuestion
        func trainer(_ guidance: Guidance, teacherAnswer: String) throws -> PPOTrainer {
            var c = filteredConfig()
            c.guidance = guidance
            return try trainerWithTaughtTeacher(config: c, answer: teacherAnswer, seed: 81)
        }
        let draw: (Int) -> [PPOProblem] = { count in Array(repeating: question, count: count) }
        var rng = RandomGenerator(seed: 82)
        let right = try trainer(.teacher, teacherAnswer: "####a\n").iterate(drawing: draw, rng: &rng)
        #expect(right.guidedGroups == 1 && right.samplingRounds == 1 && right.trainedSequences == 16)
        #expect(right.answerAccuracy == 0 && right.mixedAdvantageShare == 1)
        for (guidance, answer, why) in [(Guidance.teacher, "####b\n", "the teacher is wrong"),
                                        (.teacherTrace, "####a\n", "teacher_trace uses stored traces only")] {
            var r = RandomGenerator(seed: 82)
            let m = try trainer(guidance, teacherAnswer: answer).iterate(drawing: draw, rng: &r)
            #expect(m.guidedGroups == 0 && m.trainedSequences == 0 && m.samplingRounds == 3, "\(why)")
        }
        var c = filteredConfig()
        c.guidance = .teacher
        #expect(throws: PPOError.teacherRequired) { try ToyTask.trainer(config: c, tokenizer: tokenizer, reward: reward, seed: 81) }
    }

    @Test("guidance is read, written and checked")
    func guidanceConfig() throws {
        let c = try JSONDecoder().decode(PPOConfig.self, from: Data(#"{"advantage": "grpo", "group_size": 4, "guidance": "teacher_trace"}"#.utf8))
        #expect(c.guidance == .teacherTrace)
        #expect(try JSONDecoder().decode(PPOConfig.self, from: Data(#"{"advantage": "grpo", "group_size": 4, "guidance": "teacher"}"#.utf8)).guidance == .teacher)
        #expect(try JSONDecoder().decode(PPOConfig.self, from: try JSONEncoder().encode(c)) == c)
        #expect(try JSONDecoder().decode(PPOConfig.self, from: Data("{}".utf8)).guidance == Guidance.none)
        func field(_ json: String) -> String? {
            do { _ = try JSONDecoder().decode(PPOConfig.self, from: Data(json.utf8)); return nil } catch { return (error as? PPOConfigError)?.field }
        }
        #expect(field(#"{"guidance": "teacher_trace"}"#) == "guidance", "GAE has no groups to complete")
        #expect(field(#"{"advantage": "grpo", "group_size": 2, "guidance": "trace"}"#) == "guidance")
    }
}

// The teacher's per-token advantage on GRPO's (`teacher_advantage_coefficient`, `teacher_advantage_rows`) and the filter
// that keeps the groups it can correct (`filter_groups: wrong`).
@Suite("GRPO with the teacher's per-token advantage", .serialized)
struct TeacherAdvantageTests {
    @Test("the wrong filter keeps a group with any wrong sample")
    func keeps() {
        #expect(GroupFilter.wrong.keeps(correct: [true, false, true]))
        #expect(GroupFilter.wrong.keeps(correct: [false, false]))
        #expect(!GroupFilter.wrong.keeps(correct: [true, true, true]))
    }

    @Test("the teacher term by hand: wrong rows only, or every row; an all-wrong group keeps only the term")
    func byHand() {
        // 4 rows of 2 positions, groups of 2: rows 0 (right) and 1 (wrong), then rows 2 and 3 (both wrong);
        // row 1's second position is off the mask
        let advantages: [Float] = [1, 1, -1, 0, 0.3, 0.3, -0.3, -0.3]
        let teacher: [Float] = [-0.1, -0.2, -2, -0.5, -1, -0.1, -0.2, -3]
        let student: [Float] = [-0.3, -0.2, -0.1, -0.4, -0.5, -0.1, -0.2, -0.05]
        let mask: [Float] = [1, 1, 1, 0, 1, 1, 1, 1]
        let correct = [true, false, false, false]
        func term(_ rows: TeacherAdvantageRows) -> [Float] {
            Advantages.addingTeacherTerm(advantages, teacherLogProbs: teacher, logProbs: student, mask: mask, correct: correct,
                                         groupSize: 2, coefficient: 0.5, rows: rows)
        }
        // row 1: -1 + 0.5 (-2 + 0.1); row 2: 0.5 (-1 + 0.5), 0.5 * 0; row 3: 0.5 * 0, 0.5 (-3 + 0.05)
        let wrongOnly: [Float] = [1, 1, -1.95, 0, -0.25, 0, 0, -1.475]
        let all: [Float] = [1.1, 1, -1.95, 0, -0.25, 0, 0, -1.475]
        for (got, want) in [(term(.wrong), wrongOnly), (term(.all), all)] {
            #expect(zip(got, want).allSatisfy { abs($0 - $1) < 1e-6 }, "\(got) against \(want)")
        }
    }

    @Test("a student that is never right learns its teacher's answer from the teacher term alone")
    func learnsFromTeacher() throws {
        let tokenizer = Tokenizer(characters: Array("#ab\n"))
        let reward = CompositeReward([WeightedReward(FinalAnswerReward(), weight: 1)])
        let question = toyQuestion
        let right = "####a\n"
        func trainer(_ filter: GroupFilter, coefficient: Float) throws -> PPOTrainer {
            var c = filteredConfig()
            c.filterGroups = filter
            c.teacherAdvantageCoefficient = coefficient
            return try trainerWithTaughtTeacher(config: c, answer: right, seed: 91)
        }
        let draw: (Int) -> [PPOProblem] = { count in Array(repeating: question, count: count) }

        // every group is all wrong, so the filter keeps them all and the first round fills the iteration
        let taught = try trainer(.wrong, coefficient: 1)
        let before = try traceNLL(taught, question, right)
        var rng = RandomGenerator(seed: 92)
        for i in 0..<5 {
            let m = try taught.iterate(drawing: draw, rng: &rng)
            #expect(m.samplingRounds == 1 && m.trainedSequences == 16 && m.update.updates > 0, "iteration \(i)")
            #expect(m.teacherLogRatio != nil, "the rollout was scored by the teacher")
        }
        let after = try traceNLL(taught, question, right)
        #expect(after < before - 0.3, "the teacher's answer's NLL per token went from \(before) to \(after)")

        // the answer filter drops every group (all wrong): nothing to learn from, nothing scored by the teacher
        let dropped = try trainer(.answer, coefficient: 1)
        let weights = snapshot(dropped.policy.parameters)
        var r = RandomGenerator(seed: 92)
        let m = try dropped.iterate(drawing: draw, rng: &r)
        #expect(m.trainedSequences == 0 && m.teacherLogRatio == nil)
        #expect(snapshot(dropped.policy.parameters) == weights)

        var c = filteredConfig()
        c.teacherAdvantageCoefficient = 1
        #expect(throws: PPOError.teacherRequired) { try ToyTask.trainer(config: c, tokenizer: tokenizer, reward: reward, seed: 91) }
    }

    @Test("teacher_advantage_coefficient, teacher_advantage_rows and filter_groups: wrong are read, written and checked")
    func config() throws {
        let json = #"{"advantage": "grpo", "group_size": 4, "filter_groups": "wrong", "teacher_advantage_coefficient": 0.5, "teacher_advantage_rows": "all"}"#
        let c = try JSONDecoder().decode(PPOConfig.self, from: Data(json.utf8))
        #expect(c.filterGroups == .wrong && c.teacherAdvantageCoefficient == 0.5 && c.teacherAdvantageRows == .all && c.scoresWithTeacher)
        #expect(try JSONDecoder().decode(PPOConfig.self, from: try JSONEncoder().encode(c)) == c)
        let defaults = try JSONDecoder().decode(PPOConfig.self, from: Data("{}".utf8))
        #expect(defaults.teacherAdvantageCoefficient == 0 && defaults.teacherAdvantageRows == .wrong && !defaults.scoresWithTeacher)
        func field(_ json: String) -> String? {
            do { _ = try JSONDecoder().decode(PPOConfig.self, from: Data(json.utf8)); return nil } catch { return (error as? PPOConfigError)?.field }
        }
        #expect(field(#"{"teacher_advantage_coefficient": 1}"#) == "teacher_advantage_coefficient", "GAE has its per-token reward")
        #expect(field(#"{"advantage": "grpo", "group_size": 2, "teacher_advantage_coefficient": -1}"#) == "teacher_advantage_coefficient")
        #expect(field(#"{"advantage": "grpo", "group_size": 2, "teacher_advantage_rows": "some"}"#) == "teacher_advantage_rows")
    }
}
