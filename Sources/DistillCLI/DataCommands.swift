import ArgumentParser
import Data
import Foundation
import Reward

/// `distill generate-data`: a split of a generated trace dataset, written as JSONL.
struct GenerateDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-data",
        abstract: "Generate math problems with reference step-by-step traces (JSONL, one row per problem).",
        discussion: """
            Domains: \(TaskDomain.allCases.map(\.rawValue).joined(separator: ", ")) (or all). Every step's \
            arithmetic verifies exactly. Questions are assigned to train/validation/test by a hash of the \
            question, so files of different splits never share a question, whatever the seed.
            """)

    @Option(help: "Comma-separated domains, e.g. addition,linear (or all).")
    var domain: String

    // parsing: .unconditional on numeric options: `--count -5` reaches validation ("must be at least 1, got -5")
    // instead of being taken for an unknown option `-5` ("Missing value for '--count'").
    @Option(parsing: .unconditional, help: "Total number of rows, shared evenly across the domains.")
    var count: Int

    @Option(help: "The split: train, validation or test.")
    var split = "train"

    @Option(parsing: .unconditional, help: "Seed; the same options give the same file.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Difficulty 1 (easiest, the default, as a curriculum's data) to 5: digits, coefficient and modulus sizes grow with it.")
    var difficulty = 1

    @Option(help: "The JSONL file to write.")
    var out: String

    func validate() throws {
        do { _ = try TaskDomain.parseList(domain) } catch let DataError.invalidSetting(_, reason) {
            throw ValidationError("--domain: \(reason)")
        }
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard DatasetSplit(rawValue: split) != nil else {
            throw ValidationError("--split must be train, validation or test, got '\(split)'")
        }
        guard TaskDomain.difficultyLevels.contains(difficulty) else {
            throw ValidationError("--difficulty must be in 1...5, got \(difficulty)")
        }
    }

    func run() throws {
        try reportingErrors {
            let config = GenerationConfig(domains: try TaskDomain.parseList(domain), count: count,
                                          split: DatasetSplit(rawValue: split) ?? .train, seed: seed, difficulty: difficulty)
            // Refuses a count beyond what the domains can write distinctly before anything is made or written.
            let generator = try DatasetGenerator(config: config)
            // Rows go to the file as they are made (a temporary name until the last one), not into memory.
            let writer = try JSONLinesWriter(path: out)
            var perDomain: [String: Int] = [:]
            do {
                try generator.generate { record in
                    try writer.append(record.jsonLine)
                    perDomain[record.domain ?? "", default: 0] += 1
                }
                try writer.commit()
            } catch {
                writer.discard()
                throw error
            }
            print("wrote \(writer.lineCount) rows to \(out) (split \(split), seed \(seed), difficulty \(difficulty)): "
                  + config.domains.map { "\($0.rawValue) \(perDomain[$0.rawValue] ?? 0)" }.joined(separator: ", "))
        }
    }
}

/// `distill verify`: checks every arithmetic claim of every step of a dataset.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify every arithmetic claim in every step of a trace file with exact rational arithmetic.",
        discussion: """
            Prints the number of valid and invalid claims, the rows with an invalid step, and for each such row \
            its id, the step and the correct value. A claim beyond a limit that keeps checking fast (\(limits)) is \
            counted as unchecked, never as invalid. Claims are GSM8K calculator annotations <<expr=value>> \
            and equations in the text (a = b = c). Exit code 0 whatever it finds; 1 when the file cannot be read \
            or a line is malformed.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case traces, gsm8k
    }

    /// The verifier's limits against abuse, in words.
    static let limits = "numbers of up to \(ArithmeticExpression.maximumLiteralDigits) digits, exponents up to "
        + "\(ArithmeticExpression.maximumExponent), powers of up to \(ArithmeticExpression.maximumPowerBits) bits"

    enum Claims: String, ExpressibleByArgument, CaseIterable {
        case all, calculator, inline
    }

    @Argument(help: "The JSONL file.")
    var file: String

    @Option(help: "traces (TraceDistill rows) or gsm8k (question/answer rows as published).")
    var format: Format = .traces

    @Option(help: "Which claims to check: all, calculator (<<...>> annotations only) or inline (equations in the text).")
    var claims: Claims = .all

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            let dataset = format == .gsm8k ? try GSM8KProblem.loadTraces(file) : try TraceDataset.load(file)
            let kinds: Set<ArithmeticClaim.Kind> = claims == .all ? [.calculator, .inline]
                : claims == .calculator ? [.calculator] : [.inline]
            let report = DatasetVerification(dataset: dataset, verifier: StepVerifier(extractor: ClaimExtractor(kinds: kinds)))
            json ? try printJSON(jsonObject(report)) : printText(report)
        }
    }

    private func jsonObject(_ r: DatasetVerification) -> [String: Any] {
        var byKind: [String: Any] = [:]
        for kind in [ArithmeticClaim.Kind.calculator, .inline] {
            byKind[kind.rawValue] = ["claims": r.claimsByKind[kind] ?? 0, "valid": r.validClaimsByKind[kind] ?? 0,
                                     "unchecked": r.uncheckedClaimsByKind[kind] ?? 0]
        }
        return [
            "file": file, "format": format.rawValue, "rows": r.rowCount, "steps": r.stepCount,
            "steps_with_claims": r.stepsWithClaims, "claims": r.claimCount, "valid_claims": r.validClaimCount,
            "invalid_claims": r.invalidClaimCount, "unchecked_claims": r.uncheckedClaimCount, "claims_by_kind": byKind, "rows_with_invalid_step": r.badRows.count,
            "bad_rows": r.badRows.map { b -> [String: Any] in
                ["id": b.id, "line": b.line, "step_index": b.step, "step_text": b.stepText, "claim": b.claim,
                 "correct_value": b.correctValue.map { $0 as Any } ?? NSNull(),
                 "stated_value": b.statedValue.map { $0 as Any } ?? NSNull(),
                 "explanation": b.explanation, "invalid_claims": b.invalidClaims]
            },
        ]
    }

    private func printText(_ r: DatasetVerification) {
        func kind(_ k: ArithmeticClaim.Kind) -> String {
            "\(k.rawValue) \(r.validClaimsByKind[k] ?? 0)/\(r.claimsByKind[k] ?? 0) valid"
        }
        print("file:    \(file) (\(format.rawValue)): \(r.rowCount) rows, \(r.stepCount) steps, \(r.stepsWithClaims) with claims")
        print("claims:  \(r.claimCount) found, \(r.validClaimCount) valid, \(r.invalidClaimCount) invalid, "
              + "\(r.uncheckedClaimCount) unchecked (\(kind(.calculator)); \(kind(.inline)))")
        if r.uncheckedClaimCount > 0 {
            print("unchecked: beyond a limit that keeps checking fast (\(Self.limits)); neither valid nor invalid")
        }
        print("rows with an invalid step: \(r.badRows.count) of \(r.rowCount)")
        for b in r.badRows {
            let place = b.id == "line \(b.line)" ? b.id : "\(b.id) (line \(b.line))"
            print("\(place) step \(b.step + 1) (step_index \(b.step)): \(b.explanation)")
            print("    \(b.stepText)")
        }
    }
}
