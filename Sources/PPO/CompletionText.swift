import Model
import Reward

/// A sampled completion's text with the token that produced each character, so rewards given on character
/// spans of the trace can be credited to tokens.
///
/// With the one-character-per-token math tokenizer character offsets equal token offsets, except when the
/// policy emits a special token (padding or BOS) mid-completion: those have no text, so the map is built
/// token by token rather than assumed. The text stops before the first EOS.
public struct CompletionText: Sendable, Equatable {
    /// The decoded trace text (what the reward judges).
    public let text: String
    /// For each character of `text`, the index of the completion token that wrote it.
    public let tokenOfCharacter: [Int]
    /// Number of completion tokens (including a final EOS).
    public let tokenCount: Int

    /// Decodes `tokens` with `tokenizer`, recording which token wrote each character.
    public init(tokens: [Int32], tokenizer: Tokenizer) {
        var text = "", map: [Int] = []
        for (k, id) in tokens.enumerated() {
            if id == Tokenizer.eos { break }
            let piece = tokenizer.decode([id], stopAtEOS: false)
            for _ in piece { map.append(k) }
            text += piece
        }
        self.text = text
        tokenOfCharacter = map
        tokenCount = tokens.count
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
