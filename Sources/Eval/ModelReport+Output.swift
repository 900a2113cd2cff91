import Foundation

extension ModelReport {
    /// The headline metrics, in table order: size, greedy accuracy and step metrics, speed, then pass@k, maj@k
    /// and the mean sample accuracy when sampling ran. Values are nil when undefined (no claims, no sampling).
    public var headline: [(name: String, value: Double?)] {
        var out: [(String, Double?)] = [
            ("parameters", Double(parameterCount)),
            ("model_bytes", Double(modelBytes)),
            ("accuracy", greedy.accuracy),
            ("step_validity", greedy.stepValidity),
            ("fully_verified_rate", greedy.fullyVerifiedRate),
            ("step_f1", greedy.stepF1),
            ("first_invalid_step_mean", greedy.firstInvalidStepMean),
            ("mean_steps", greedy.meanSteps),
            ("mean_tokens", greedy.meanTokens),
            ("tokens_per_second", timing.tokensPerSecond),
            ("latency_median_seconds", timing.latencyMedianSeconds),
            ("latency_p95_seconds", timing.latencyP95Seconds),
        ]
        if let sampling {
            out += sampling.passAtK.map { ("pass@\($0.k)", $0.value) }
            out += sampling.majAtK.map { ("maj@\($0.k)", $0.value) }
            out.append(("sample_accuracy", sampling.sampleAccuracy))
        }
        return out
    }

    /// How a headline metric prints in a table cell.
    static func formatHeadline(_ name: String, _ value: Double?) -> String {
        switch name {
        case "parameters": return value.map { Cell.count(Int($0)) } ?? "n/a"
        case "model_bytes": return value.map { Cell.bytes(Int($0)) } ?? "n/a"
        case "first_invalid_step_mean", "mean_steps", "mean_tokens", "tokens_per_second": return Cell.number(value, decimals: 1)
        case "latency_median_seconds", "latency_p95_seconds": return Cell.number(value, decimals: 3) + (value == nil ? "" : " s")
        default: return Cell.percent(value)
        }
    }

    /// As JSON (every key present; undefined values null). Per-problem answers are left out (see `completionLines`).
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "label": label, "role": role, "parameters": parameterCount, "model_bytes": modelBytes, "architecture": architecture,
            "greedy": greedy.jsonObject,
            "domains": domains.map { ["domain": $0.domain, "metrics": $0.metrics.jsonObject] as [String: Any] },
            "timing": ["batch_size": timing.batchSize, "generated_tokens": timing.generatedTokens, "seconds": timing.seconds,
                       "tokens_per_second": timing.tokensPerSecond, "latency_median_seconds": timing.latencyMedianSeconds,
                       "latency_p95_seconds": timing.latencyP95Seconds] as [String: Any],
            "not_attempted": problems.compactMap { p in
                p.score.notAttempted.map { ["id": p.id, "reason": $0] as [String: Any] }
            },
        ]
        if let s = sampling {
            object["sampling"] = [
                "samples": s.samples, "temperature": s.temperature, "top_p": json(s.topP), "seed": s.seed,
                "pass_at_k": s.passAtK.map { ["k": $0.k, "value": $0.value] as [String: Any] },
                "maj_at_k": s.majAtK.map { ["k": $0.k, "value": $0.value] as [String: Any] },
                "sample_accuracy": s.sampleAccuracy, "generated_tokens": s.generatedTokens, "seconds": s.seconds,
                "tokens_per_second": s.tokensPerSecond,
            ] as [String: Any]
        } else {
            object["sampling"] = NSNull()
        }
        return object
    }

    /// One JSON line per problem: the greedy completion and how it scored (for reading what the model wrote).
    public func completionLines() throws -> [String] {
        try problems.map { p in
            let s = p.score
            let object: [String: Any] = [
                "model": label, "role": role, "id": p.id, "domain": p.domain, "reference_answer": p.referenceAnswer,
                "completion": p.completion, "answer": s.answer as Any? ?? NSNull(), "correct": s.correct, "steps": s.stepCount,
                "claims": s.claimCount, "valid_claims": s.validClaimCount,
                "first_invalid_step": s.firstInvalidStep as Any? ?? NSNull(), "step_f1": json(s.stepF1), "tokens": s.tokenCount,
                "finished": s.finished, "not_attempted": s.notAttempted as Any? ?? NSNull(),
                "correct_samples": p.correctSamples as Any? ?? NSNull(), "majority_answer": p.majorityAnswer as Any? ?? NSNull(),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Per-domain accuracy and step validity, a column pair per model.
    static func domainSection(_ models: [ModelReport]) -> [String] {
        guard let first = models.first else { return [] }
        let headers = ["domain", "problems"] + models.flatMap { ["\($0.label) accuracy", "\($0.label) step validity"] }
        let rows = first.domains.map { d -> [String] in
            [d.domain, String(d.metrics.problems)] + models.flatMap { m -> [String] in
                let x = m.domains.first { $0.domain == d.domain }?.metrics
                return [Cell.percent(x?.accuracy), Cell.percent(x?.stepValidity)]
            }
        }
        return ["## Per domain", "", MarkdownTable(headers: headers, rows: rows).text, ""]
    }

    /// Rows by the index of their first invalid step, a column per model.
    static func firstInvalidSection(_ models: [ModelReport]) -> [String] {
        let steps = Set(models.flatMap { $0.greedy.firstInvalidStepCounts.map(\.step) }).sorted()
        var rows = steps.map { step in
            ["step \(step)"] + models.map { m in String(m.greedy.firstInvalidStepCounts.first { $0.step == step }?.rows ?? 0) }
        }
        rows.append(["no failing claim"] + models.map { String($0.greedy.problems - $0.greedy.rowsWithInvalidStep) })
        return ["## First invalid step (0-based)", "", MarkdownTable(headers: ["first invalid step"] + models.map(\.label), rows: rows).text, ""]
    }

    /// Problems that could not be attempted, if any.
    static func notAttemptedSection(_ models: [ModelReport]) -> [String] {
        var out: [String] = []
        for m in models {
            let skipped = m.problems.filter { $0.score.notAttempted != nil }
            guard !skipped.isEmpty else { continue }
            out += ["## Not attempted by \(m.label): \(skipped.count) (scored as wrong)", ""]
            out += skipped.prefix(10).map { "- \($0.id): \($0.score.notAttempted!)" }
            if skipped.count > 10 { out.append("- ... and \(skipped.count - 10) more (see report.json)") }
            out.append("")
        }
        return out
    }

    /// What the metrics mean, appended to every Markdown report.
    static let definitions: [String] = [
        "## Definitions", "",
        "- accuracy: greedy final answers (`answer: VALUE` line) equivalent to the reference (exact value or canonical text), over all problems.",
        "- step_validity: arithmetic claims in the steps that verify exactly / all claims (pooled over the suite).",
        "- fully_verified_rate: rows with at least one claim and no failing claim / problems.",
        "- step_f1: step-level LCS F1 with the reference trace (normalised steps), mean over problems.",
        "- first_invalid_step_mean: mean 0-based index of the first step with a failing claim, over rows that have one.",
        "- tokens_per_second: greedy tokens generated / generation wall time; latency: wall time of the batch that produced a problem.",
        "- pass@k: unbiased estimator 1 - C(n-c, k)/C(n, k) (Chen et al. 2021), mean over problems; "
            + "maj@k: majority answer of the first k samples is correct (ties: the earliest answer wins).",
        "- problems that could not be attempted (prompt outside the vocabulary or context) count as wrong.",
    ]
}

extension SuiteMetrics {
    /// As JSON (every key present; undefined values null).
    var jsonObject: [String: Any] {
        ["problems": problems, "attempted": attempted, "answered": answered, "finished": finished, "accuracy": accuracy,
         "claims": claims, "valid_claims": validClaims, "step_validity": json(stepValidity),
         "fully_verified_rate": fullyVerifiedRate, "rows_with_invalid_step": rowsWithInvalidStep,
         "first_invalid_step_mean": json(firstInvalidStepMean), "first_invalid_step_median": json(firstInvalidStepMedian),
         "first_invalid_step_counts": firstInvalidStepCounts.map { ["step": $0.step, "rows": $0.rows] },
         "step_f1": json(stepF1), "mean_steps": meanSteps, "mean_tokens": meanTokens]
    }
}
