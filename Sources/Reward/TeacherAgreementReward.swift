/// Agreement with the teacher's trace: the F1 of the longest common subsequence of normalised steps.
///
/// With L the LCS length of the student's S steps and the teacher's T steps, precision is L/S, recall L/T,
/// and F1 = 2L / (S + T) (as ROUGE-L scores sequences, at the step level). Steps are normalised by dropping
/// whitespace and trailing periods and lowercasing, so `48 / 2 = 24.` matches `48/2=24`. Each student step in
/// the common subsequence earns F1 / L. Without a teacher trace the reward is 0.
public struct TeacherAgreementReward: RewardFunction {
    /// Component name: `teacher_agreement`.
    public let name = "teacher_agreement"

    /// A step-level LCS-F1 agreement reward.
    public init() {}

    /// Judges one trace (see the type's summary for the rule and the per-line placement).
    public func evaluate(_ input: RewardInput) -> RewardResult {
        guard let teacher = input.teacherTrace else { return result(0, onLastLineOf: input.trace) }
        let s = input.trace.steps.map { Self.normalize($0.text) }
        let t = teacher.steps.map { Self.normalize($0.text) }
        let matched = Self.longestCommonSubsequence(s, t)
        guard !matched.isEmpty else { return result(0, onLastLineOf: input.trace) }
        let f1 = 2 * Double(matched.count) / Double(s.count + t.count)
        let share = f1 / Double(matched.count)
        return RewardResult(total: f1, components: [RewardComponent(name: name, value: f1)],
                            stepRewards: matched.map { StepReward(span: input.trace.steps[$0].span, reward: share) })
    }

    /// A step's comparison key: lowercase, no whitespace, no trailing periods.
    public static func normalize(_ step: String) -> String {
        var s = String(step.lowercased().filter { !$0.isWhitespace })
        while s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// Indices into `a` of one longest common subsequence of `a` and `b` (the standard O(|a||b|) table; ties
    /// prefer the earliest match in `a`).
    public static func longestCommonSubsequence(_ a: [String], _ b: [String]) -> [Int] {
        let n = a.count, m = b.count
        guard n > 0, m > 0 else { return [] }
        // table[i][j] = LCS length of a[i...] and b[j...]
        var table = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var out: [Int] = []
        var i = 0, j = 0
        while i < n, j < m {
            if a[i] == b[j] { out.append(i); i += 1; j += 1 }
            else if table[i + 1][j] >= table[i][j + 1] { i += 1 }
            else { j += 1 }
        }
        return out
    }
}
