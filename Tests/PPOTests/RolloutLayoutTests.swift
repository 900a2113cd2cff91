import Data
import Model
import PPO
import Reward
import Testing

// The token layout of a rollout batch and where trace rewards land.

@Suite("Rollout layout")
struct RolloutLayoutTests {
    @Test("PPOBatch: inputs, next-token targets and the completion mask, right-padded")
    func layout() {
        let b = PPOBatch(prompts: [[1, 5], [1]], completions: [[3, 2], [4, 4, 2]], temperature: 0.8)
        #expect(b.batchSize == 2 && b.length == 3)
        // row 0: sequence [1, 5, 3, 2]; row 1: [1, 4, 4, 2]
        #expect(b.inputs == [1, 5, 3, 1, 4, 4])
        #expect(b.targets == [5, 3, 2, 4, 4, 2])
        #expect(b.mask == [0, 1, 1, 1, 1, 1])
        #expect(b.index(row: 0, completionToken: 0) == 1 && b.index(row: 1, completionToken: 2) == 5)
        #expect(b.tokenCount == 5)
        #expect(b.rowSums([1, 2, 3, 4, 5, 6]) == [5, 15])
        let padded = PPOBatch(prompts: [[1, 7, 8], [1]], completions: [[2], [3]], temperature: 1)
        #expect(padded.length == 3 && padded.inputs == [1, 7, 8, 1, 0, 0] && padded.mask == [0, 0, 1, 1, 0, 0])
    }

    @Test("the prompt is Data.TraceFormat's: <bos> question newline")
    func promptLayout() throws {
        let q = "Compute 4821 + 379."
        let expected = try Tokenizer.math.encode(TraceFormat.prompt(question: q), addBOS: true)
        let trainer = try ToyTask.trainer(config: ToyTask.config(), tokenizer: .math, seed: 1)
        #expect(try trainer.prompt(for: PPOProblem(question: q, referenceAnswer: "5200")) == expected)
        #expect(throws: PPOError.self) { try trainer.prompt(for: PPOProblem(question: "é", referenceAnswer: "1")) }
    }

    @Test("step rewards land on the token that ends each step; the rest of the total on the last token")
    func placement() throws {
        let text = "1+1=2\nanswer: 2"
        let tokens = try Tokenizer.math.encode(text, addBOS: false, addEOS: true)  // 15 characters + EOS
        let result = RewardResult(total: 2, components: [], stepRewards: [StepReward(span: 0..<5, reward: 0.5),
                                                                         StepReward(span: 6..<15, reward: 1)])
        let c = CompletionText(tokens: tokens, tokenizer: .math)
        #expect(c.text == text && c.tokenCount == 16)
        var expected = [Float](repeating: 0, count: 16)
        expected[4] = 0.5; expected[14] = 1; expected[15] = 0.5
        #expect(c.tokenRewards(result, perStep: true) == expected)
        var terminal = [Float](repeating: 0, count: 16)
        terminal[15] = 2
        #expect(c.tokenRewards(result, perStep: false) == terminal)

        // a special token mid-completion writes no character: the offsets shift by one token after it
        let odd = Array(tokens[0..<2]) + [Tokenizer.bos] + Array(tokens[2...])
        let d = CompletionText(tokens: odd, tokenizer: .math)
        #expect(d.text == text)
        var shifted = [Float](repeating: 0, count: 17)
        shifted[5] = 0.5; shifted[15] = 1; shifted[16] = 0.5
        #expect(d.tokenRewards(result, perStep: true) == shifted)

        // with the real composite reward the tokens' rewards add up to the total
        let real = CompositeReward(config: RewardConfig()).evaluate(question: "Compute 1 + 1.", trace: text, referenceAnswer: "2")
        let placed = c.tokenRewards(real, perStep: true)
        #expect(abs(Double(placed.reduce(0, +)) - real.total) < 1e-5)
        #expect(placed[4] != 0)  // the verified step earned something on its last token
    }
}
