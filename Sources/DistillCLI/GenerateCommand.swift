import ArgumentParser
import Checkpoint
import Foundation
import Model
import Tensor
import Tokenizers

/// `distill generate`: what a model writes for a prompt, printed as it is sampled.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample a model's completion of a prompt, printing each token as it is chosen, then the speed.",
        discussion: """
            The prompt is laid out by the checkpoint's prompt template (or --template) exactly as training and \
            evaluation lay out questions; sampling stops at the template's end token or EOS. The completion goes \
            to standard output as it is sampled; the closing line (tokens, seconds, tokens/s, why it stopped) goes \
            to standard error. The same --seed gives the same completion.
            """)

    @Option(help: "The checkpoint file (.h5).")
    var checkpoint: String

    @Option(help: "Which model role to sample.")
    var role = "student"

    @Option(help: "The question or instruction.")
    var prompt: String

    @Option(help: "Prompt template: plain, chatml, llama3, deepseek, or text with {question} (default: the checkpoint's).")
    var template: String?

    @Option(parsing: .unconditional, help: "Sampling temperature (0: greedy).")
    var temperature: Float = 0.7

    @Option(parsing: .unconditional, help: "Nucleus sampling: keep the smallest set of tokens with this much probability.")
    var topP: Float?

    @Option(parsing: .unconditional, help: "Most tokens to sample.")
    var maxNewTokens = 256

    @Option(parsing: .unconditional, help: "Seed of the sampling generator.")
    var seed: UInt64 = 0

    func validate() throws {
        guard temperature >= 0 && temperature.isFinite else { throw ValidationError("--temperature must be 0 or more, got \(temperature)") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)") }
        if let template, PromptTemplate(template) == nil {
            throw ValidationError("--template \(template): use \(PromptTemplate.names.joined(separator: ", ")), or a text with {question}")
        }
    }

    func run() throws {
        try reportingErrors {
            let reader = try CheckpointReader(path: checkpoint)
            let (model, codec) = try reader.loadModel(role: role, template: template.flatMap(PromptTemplate.init))
            let ids = try codec.prompt(question: prompt)
            guard ids.count < model.config.maxPositionEmbeddings else {
                throw ValidationError("--prompt is \(ids.count) tokens; the model's context is \(model.config.maxPositionEmbeddings)")
            }
            let room = model.config.maxPositionEmbeddings - ids.count
            let options = SamplingOptions(temperature: temperature, topP: topP, maxNewTokens: min(maxNewTokens, room),
                                          stopTokens: codec.stopIDs)
            var rng = RandomGenerator(seed: seed)
            var text = TextStream(tokenizer: codec.tokenizer)
            let output = FileHandle.standardOutput
            let clock = ContinuousClock(), start = clock.now
            let result = withNoGrad {
                model.stream(prompt: ids, options: options, rng: &rng) { id in
                    guard !codec.stopIDs.contains(id) else { return }
                    output.write(Data(text.append(id).utf8))
                }
            }
            output.write(Data((text.finish() + "\n").utf8))
            let d = clock.now - start
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
            FileHandle.standardError.write(Data(String(format: "-- %d tokens in %.2f s (%.1f tokens/s), %@\n", result.tokens.count, seconds,
                                                       Double(result.tokens.count) / max(seconds, 1e-9),
                                                       result.finish == .stop ? "stopped at the end token" : "stopped at the token limit").utf8))
        }
    }
}
