import Foundation
import Model
import Tensor

// The two objectives of on-policy distillation, as functions of per-token quantities. Shapes: logits (R, V)
// with R = B*T rows (one per position), per-token arrays and mask (R); mask is 1 on completion tokens.

/// Which loss the on-policy distillation stage minimises on the student's own samples.
public enum OnPolicyObjective: String, Sendable, CaseIterable, Codable {
    /// Generalised JSD between teacher and student over every vocabulary entry at each sampled position
    /// (Agarwal et al. 2024, "On-Policy Distillation of Language Models: Learning from Self-Generated
    /// Mistakes"; TRL's GKDTrainer): beta 0 is KL(teacher || student), beta 1 is KL(student || teacher).
    case gkd
    /// Policy gradient with the per-token reward log p_teacher - log p_student (stop-gradient) and discount 0,
    /// no length normalisation beyond the token mean (Thinking Machines "On-Policy Distillation" 2025; verl's
    /// PG-OPD; MiniLLM, Gu et al. 2024): its expectation is the gradient of the sampled reverse KL.
    case reverseKLPolicyGradient = "reverse_kl_pg"
}

/// GKD's loss: the mean over masked positions of the generalised JSD(beta) between the teacher's and the
/// student's next-token distributions at temperature 1, in TRL's `generalized_jsd_loss` convention:
/// beta KL(p_t || m) + (1 - beta) KL(p_s || m) with m = beta p_t + (1 - beta) p_s, and the ends taken
/// as the plain KLs (beta 0: KL(p_t || p_s), beta 1: KL(p_s || p_t)). Gradients flow to the student only.
/// - Parameters:
///   - student: (R, V) student logits (differentiable).
///   - teacher: (R, V) teacher logits (no gradient). With a large vocabulary this is where a top-k teacher
///     cache would enter (the teacher's top-k log-probs and the student's logits gathered at the same ids).
///   - mask: (R), 1 where a sampled token is scored.
public func gkdLoss(student: Tensor, teacher: Tensor, mask: [Float], beta: Float) -> Tensor {
    precondition(mask.count == student.rows, "gkdLoss: mask of \(mask.count) for \(student.rows) rows")
    return distillationLoss(student: student, teacher: teacher, temperature: 1, divergence: .jsd(beta: beta),
                            rowMask: mask.map { $0 != 0 })
}

/// The PG-OPD advantage of each token: log p_teacher(y_t) - log p_student(y_t) with discount 0 (a token's
/// advantage is its own reward, no later token's), 0 off the mask.
public func reverseKLAdvantages(teacherLogProbs: [Float], studentLogProbs: [Float], mask: [Float]) -> [Float] {
    precondition(teacherLogProbs.count == mask.count && studentLogProbs.count == mask.count,
                 "reverseKLAdvantages: \(teacherLogProbs.count) teacher, \(studentLogProbs.count) student, \(mask.count) mask")
    return mask.indices.map { i in mask[i] != 0 ? teacherLogProbs[i] - studentLogProbs[i] : 0 }
}

/// Rewards placed on tokens (one completion's, in order) turned into per-token advantages: the discounted sum
/// of the rewards from each token on, sum_{k >= t} discount^(k - t) r_k. Discount 0 keeps each reward on the
/// token it was placed on (a step's reward on the token that ends the step); discount 1 credits a reward to
/// every token before it as well.
public func rewardToGo(_ rewards: [Float], discount: Float) -> [Float] {
    var out = [Float](repeating: 0, count: rewards.count)
    var running: Float = 0
    for t in rewards.indices.reversed() {
        running = rewards[t] + discount * running
        out[t] = running
    }
    return out
}

/// The policy-gradient loss -mean over masked tokens of A_t log p(y_t): its gradient is the REINFORCE
/// estimator with the given per-token advantages (constants, no gradient through them).
/// - Parameters:
///   - logProbs: (R) log-probabilities of the sampled tokens under the student (differentiable).
///   - advantages, mask: (R).
public func policyGradientLoss(logProbs: Tensor, advantages: [Float], mask: [Float]) -> Tensor {
    let n = logProbs.count
    precondition(advantages.count == n && mask.count == n,
                 "policyGradientLoss: logProbs \(n), advantages \(advantages.count), mask \(mask.count)")
    var total = 0.0, count = 0
    for i in 0..<n where mask[i] != 0 {
        total -= Double(advantages[i]) * Double(logProbs.ptr[i])
        count += 1
    }
    let denom = Float(max(count, 1))
    let out = Tensor(shape: [], values: [Float(total / Double(max(count, 1)))])
    Tensor.record(out, inputs: [logProbs]) { g in
        let s = g.ptr[0] / denom, gp = logProbs.gradPointer()
        for i in 0..<n where mask[i] != 0 { gp[i] -= s * advantages[i] }
    }
    return out
}
