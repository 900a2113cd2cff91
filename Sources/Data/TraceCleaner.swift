import Foundation
import Reward

/// What cleaning removes.
public struct CleaningConfig: Sendable, Equatable {
    /// Rows whose answer (trimmed) is shorter than this are removed.
    public var minimumAnswerLength: Int
    /// Remove later copies of a trace already seen (same question, steps and answer, ignoring case and spacing).
    public var removeDuplicates: Bool
    /// Remove rows with an arithmetic claim that does not verify exactly.
    public var requireVerifiedSteps: Bool

    /// Every check on, answers of at least one character.
    public init(minimumAnswerLength: Int = 1, removeDuplicates: Bool = true, requireVerifiedSteps: Bool = true) {
        self.minimumAnswerLength = minimumAnswerLength
        self.removeDuplicates = removeDuplicates
        self.requireVerifiedSteps = requireVerifiedSteps
    }
}

/// Why a row was removed.
public enum RemovalReason: String, Sendable, CaseIterable {
    /// The answer was shorter than `minimumAnswerLength`.
    case answerTooShort = "answer_too_short"
    /// An identical trace came earlier.
    case duplicate
    /// A step's claim did not verify.
    case invalidStep = "invalid_step"
    /// The row's domain has no target share (balancing).
    case domainNotInTargets = "domain_not_in_targets"
    /// The domain had more rows than its target share (balancing).
    case overTargetShare = "over_target_share"
}

/// One removed row and why.
public struct Removal: Sendable, Equatable {
    /// The row's id (or `line N` when it has none).
    public let id: String
    /// The reason.
    public let reason: RemovalReason
    /// Details: the failing claim, the answer length, the earlier duplicate's id.
    public let detail: String

    /// A removal of row `id` for `reason`.
    public init(id: String, reason: RemovalReason, detail: String) {
        self.id = id
        self.reason = reason
        self.detail = detail
    }
}

/// What a cleaning or balancing pass removed and why.
public struct CleaningReport: Sendable, Equatable {
    /// Rows in.
    public let inputCount: Int
    /// Rows kept.
    public let keptCount: Int
    /// Every removed row, in input order.
    public let removals: [Removal]

    /// How many rows each reason removed.
    public var countsByReason: [RemovalReason: Int] {
        removals.reduce(into: [:]) { $0[$1.reason, default: 0] += 1 }
    }

    /// One line per reason: `removed 3 of 100: duplicate 2, invalid_step 1`.
    public var summary: String {
        let parts = RemovalReason.allCases.compactMap { r in countsByReason[r].map { "\(r.rawValue) \($0)" } }
        return "removed \(removals.count) of \(inputCount)" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
    }
}

/// Cleans a trace dataset: short answers, duplicates, and traces with a claim that does not verify.
public struct TraceCleaner: Sendable {
    /// What to remove.
    public let config: CleaningConfig
    /// The verifier used for `requireVerifiedSteps`.
    public let verifier: StepVerifier

    /// A cleaner with `config`.
    /// - Throws: `DataError.invalidSetting` for a negative minimum answer length.
    public init(config: CleaningConfig = CleaningConfig(), verifier: StepVerifier = StepVerifier()) throws {
        guard config.minimumAnswerLength >= 0 else {
            throw DataError.invalidSetting(setting: "minimumAnswerLength", reason: "\(config.minimumAnswerLength) must be >= 0")
        }
        self.config = config
        self.verifier = verifier
    }

    /// The rows that pass every check (in order) and a report of the others. Checks run in the order answer
    /// length, duplicates, verification; a row is reported once, under the first check it fails.
    public func clean(_ records: [TraceRecord]) -> (kept: [TraceRecord], report: CleaningReport) {
        var kept: [TraceRecord] = []
        var removals: [Removal] = []
        var seen: [String: String] = [:]
        for (i, r) in records.enumerated() {
            let id = r.id ?? "line \(i + 1)"
            let answerLength = r.answer.trimmingCharacters(in: .whitespacesAndNewlines).count
            if answerLength < config.minimumAnswerLength {
                removals.append(Removal(id: id, reason: .answerTooShort,
                                        detail: "answer has \(answerLength) characters, minimum \(config.minimumAnswerLength)"))
                continue
            }
            if config.removeDuplicates {
                let key = ([r.question ?? ""] + r.steps + [r.answer]).map(StableHash.canonicalQuestion).joined(separator: "\u{1E}")
                if let first = seen[key] {
                    removals.append(Removal(id: id, reason: .duplicate, detail: "same trace as \(first)"))
                    continue
                }
                seen[key] = id
            }
            if config.requireVerifiedSteps {
                let v = verifier.verify(steps: r.steps)
                if let k = v.firstInvalidStep, let claim = v.steps[k].firstInvalidClaim {
                    removals.append(Removal(id: id, reason: .invalidStep, detail: "step \(k): \(claim.explanation)"))
                    continue
                }
            }
            kept.append(r)
        }
        return (kept, CleaningReport(inputCount: records.count, keptCount: kept.count, removals: removals))
    }
}
