import Foundation
import PPO
import Stages
import TestSupport
import Testing

// The on-policy-distill stage kind (issue 25): its configuration errors in the project's form
// (FILE:LINE: key.path: what and how to fix) and its resolved settings reading back. The SIGKILL test the other
// stages have (through the built binary) is DistillCLITests' OnPolicyDistillCommandTests.

@Suite("on-policy-distill stage", .serialized)
struct OnPolicyDistillStageTests {
    private static let tiny = CurriculumTests.tiny + "\nstages:\n  - kind: on-policy-distill\n"

    @Test("configuration errors name the file, the line and the key, and say how to fix it")
    func configurationErrors() {
        // the tiny file is 5 lines, then `stages:` (6) and `- kind:` (7): the first stage key is on line 8
        let beta = curriculumError(Self.tiny + "    objective: reverse_kl_pg\n    beta: 0.5\n")
        #expect(beta.map { "\($0)" } == "c.yaml:9: stages[0].beta: only used with objective: gkd; remove it or set objective: gkd",
                "\(String(describing: beta))")
        let lambda = curriculumError(Self.tiny + "    lambda: 1.5\n")
        #expect(lambda?.keyPath == "stages[0].lambda" && lambda?.line == 8 && lambda?.message.contains("must be in 0.0...1.0") == true,
                "\(String(describing: lambda))")
        let objective = curriculumError(Self.tiny + "    objective: ppo\n")
        #expect(objective.map { "\($0)" } == "c.yaml:8: stages[0].objective: 'ppo' is not one of: gkd, reverse_kl_pg",
                "\(String(describing: objective))")
        let rate = curriculumError(Self.tiny + "    temperature:\n      entropy_target: {rate: -1}\n")
        #expect(rate?.keyPath == "stages[0].temperature.entropy_target.rate" && rate?.line == 9
                && rate?.message.contains("must be a positive number") == true, "\(String(describing: rate))")
        let typo = curriculumError(Self.tiny + "    lamda: 0.5\n")
        #expect(typo?.keyPath == "stages[0].lamda" && typo?.line == 8 && typo?.message.contains("unknown key") == true
                && typo?.message.contains("lambda") == true, "\(String(describing: typo))")
        let weight = curriculumError(Self.tiny + "    reward: {weights: {answer: 1, speling: 1}}\n")
        #expect(weight?.keyPath == "stages[0].reward.weights.speling" && weight?.line == 8, "\(String(describing: weight))")
        let negative = curriculumError(Self.tiny + "    reward_weight: -1\n")
        #expect(negative?.keyPath == "stages[0].reward_weight" && negative?.line == 8, "\(String(describing: negative))")
        let traces = curriculumError(Self.tiny + "    data: teacher_traces\n")
        #expect(traces?.keyPath == "stages[0].data" && traces?.message.contains("needs a teacher-traces stage") == true,
                "\(String(describing: traces))")
        let pgData = curriculumError(Self.tiny + "    objective: reverse_kl_pg\n    lambda: 0.5\n")
        #expect(pgData?.keyPath == "stages[0].lambda" && pgData?.line == 9, "\(String(describing: pgData))")
    }

    @Test("defaults live in the config struct; the printed resolved settings read back to the same settings")
    func resolvedReadsBack() throws {
        let c = try Curriculum(text: Self.tiny + "    objective: gkd\n    beta: 0.25\n    lambda: 0.75\n    data: reference\n"
                               + "    temperature: {entropy_target: {target: 0.4}}\n    reward_weight: 0.5\n    reward_discount: 0\n")
        let a = try #require(c.stages.first?.configuration as? OnPolicyDistillConfiguration)
        #expect(a.distillation.beta == 0.25 && a.distillation.lambda == 0.75 && a.distillation.rewardWeight == 0.5)
        #expect(a.distillation.learningRate == OnPolicyDistillationConfig().learningRate && a.iterations == 40 && a.restoreBest)
        let again = try Curriculum(text: c.resolvedDescription, file: "resolved.yaml")
        let b = try #require(again.stages.first?.configuration as? OnPolicyDistillConfiguration)
        #expect(a.distillation == b.distillation && a.reward == b.reward && a.data == b.data && a.iterations == b.iterations
                && a.evalEvery == b.evalEvery && a.patience == b.patience && a.restoreBest == b.restoreBest, "\(c.resolvedDescription)")
        let pg = try Curriculum(text: Self.tiny + "    objective: reverse_kl_pg\n")
        let p = try #require(pg.stages.first?.configuration as? OnPolicyDistillConfiguration)
        #expect(p.distillation.lambda == 1, "reverse_kl_pg trains on the student's samples only")
        let pgAgain = try Curriculum(text: pg.resolvedDescription, file: "resolved.yaml")
        #expect((pgAgain.stages.first?.configuration as? OnPolicyDistillConfiguration)?.distillation == p.distillation)
    }
}
