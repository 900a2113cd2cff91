import Reward

/// Majority vote over sampled final answers (maj@k; "self-consistency", Wang et al. 2022).
///
/// Answers vote by equivalence class: two answers are the same vote when they have the same exact numeric value
/// (`1/2`, `0.5`, `\frac{1}{2}`) or, otherwise, the same canonical text (`AnswerNormalizer.normalize`, compared
/// case-insensitively for plain words). A sample without an answer line does not vote.
///
/// Tie rule: among the answers with the most votes, the one whose first vote came earliest (lowest sample index)
/// wins. The winner is returned as that first vote's text.
public enum MajorityVote {
    /// The winning answer of `answers` (sample order; nil entries are samples without an answer), or nil when no
    /// sample has an answer.
    public static func winner(_ answers: [String?]) -> String? {
        var order: [AnswerKey] = []
        var votes: [AnswerKey: (count: Int, first: String)] = [:]
        for case let answer? in answers {
            let key = AnswerKey(answer)
            if let v = votes[key] {
                votes[key] = (v.count + 1, v.first)
            } else {
                votes[key] = (1, answer)
                order.append(key)
            }
        }
        // `order` is first-seen order and only a strictly larger count replaces the leader: ties go to the earliest.
        var best: AnswerKey?
        for key in order where best == nil || votes[key]!.count > votes[best!]!.count { best = key }
        return best.map { votes[$0]!.first }
    }

    /// The vote class of an answer: its exact value when it is a number, else its canonical text.
    public struct AnswerKey: Hashable, Sendable {
        let value: Rational?
        let text: String

        /// The class of `answer`.
        public init(_ answer: String) {
            value = AnswerNormalizer.numericValue(answer)
            let canonical = AnswerNormalizer.normalize(answer)
            // Plain words compare case-insensitively, as `AnswerNormalizer.equivalent` does; LaTeX keeps its case.
            text = value != nil ? "" : (canonical.contains("\\") ? canonical : canonical.lowercased())
        }
    }
}
