import Model
import Reward

/// A sampled completion's text with the token that produced each character, so rewards given on character
/// spans of the trace can be credited to tokens.
///
/// The map is built token by token (`TraceCodec.decode`), never assumed: a BPE token writes several characters,
/// a special token (padding, BOS) none, and a character split over several byte-level tokens belongs to the
/// one that completes it. The text stops before the first stop token (EOS, end of turn).
public struct CompletionText: Sendable, Equatable {
    /// The decoded trace text (what the reward judges).
    public let text: String
    /// For each character of `text`, the index of the completion token that wrote it.
    public let tokenOfCharacter: [Int]
    /// Number of completion tokens (including a final EOS).
    public let tokenCount: Int

    /// Decodes `tokens` with `codec`, recording which token wrote each character.
    public init(tokens: [Int32], codec: TraceCodec) {
        (text, tokenOfCharacter) = codec.decode(completion: tokens)
        tokenCount = tokens.count
    }

    /// Decodes `tokens` with the character tokenizer (stopping at `<eos>`).
    public init(tokens: [Int32], tokenizer: Tokenizer) {
        self.init(tokens: tokens, codec: TraceCodec(characters: tokenizer))
    }

    /// Per-token rewards for this completion from a trace reward.
    ///
    /// With `perStep`, each step reward goes on the token that wrote the step's last character and the rest
    /// of the total (total - sum of step rewards: the outcome part no step carries, and rounding) on the
    /// last token; the sum over tokens is always `result.total`. Without it, the total sits on the last token.
    public func tokenRewards(_ result: RewardResult, perStep: Bool) -> [Float] {
        precondition(tokenCount > 0, "a completion has at least one token")
        var r = [Double](repeating: 0, count: tokenCount)
        var placed = 0.0
        if perStep {
            for s in result.stepRewards where s.span.upperBound >= 1 && s.span.upperBound <= tokenOfCharacter.count {
                r[tokenOfCharacter[s.span.upperBound - 1]] += s.reward
                placed += s.reward
            }
        }
        r[tokenCount - 1] += result.total - placed
        return r.map { Float($0) }
    }
}
