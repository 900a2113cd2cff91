/// Balances a dataset's domains to target shares by keeping a seeded random subset of each over-represented
/// domain (it never duplicates rows, so the result is as large as the scarcest domain allows).
public struct DomainBalancer: Sendable {
    /// Target share per domain name; normalised to sum to 1.
    public let targetShares: [String: Double]
    /// Seed for choosing which rows of an over-represented domain to keep.
    public let seed: UInt64

    /// A balancer for the given target ratios (`["addition": 2, "linear": 1]` means two thirds addition).
    /// - Throws: `DataError.invalidSetting` for an empty map or a ratio that is not a positive finite number.
    public init(targetRatios: [String: Double], seed: UInt64 = 0) throws {
        guard !targetRatios.isEmpty else {
            throw DataError.invalidSetting(setting: "target ratios", reason: "empty; give each domain to keep a positive ratio, e.g. addition=1,linear=1")
        }
        for (domain, r) in targetRatios where !(r.isFinite && r > 0) {
            throw DataError.invalidSetting(setting: "target ratio for \(domain)", reason: "\(r) must be a positive finite number (leave a domain out to drop it)")
        }
        let total = targetRatios.values.reduce(0, +)
        targetShares = targetRatios.mapValues { $0 / total }
        self.seed = seed
    }

    /// The balanced rows (in their original order) and a report of the removed ones.
    ///
    /// With n_d rows and share s_d per domain, the largest balanced total is T = min_d n_d / s_d; each domain
    /// keeps floor(T s_d) rows. Rows of domains without a target (or without a domain) are removed.
    public func balance(_ records: [TraceRecord]) -> (kept: [TraceRecord], report: CleaningReport) {
        var indices: [String: [Int]] = [:]
        var removals: [(Int, Removal)] = []
        for (i, r) in records.enumerated() {
            let domain = r.domain ?? ""
            if targetShares[domain] == nil {
                removals.append((i, Removal(id: r.id ?? "line \(i + 1)", reason: .domainNotInTargets,
                                            detail: "domain '\(domain)' has no target ratio")))
            } else {
                indices[domain, default: []].append(i)
            }
        }
        let total = targetShares.map { domain, share in Double(indices[domain]?.count ?? 0) / share }.min() ?? 0
        var keep = Set<Int>()
        for (domain, share) in targetShares.sorted(by: { $0.key < $1.key }) {
            let rows = indices[domain] ?? []
            // A tiny epsilon so that exact products (0.5 * 40 = 20) are not floored to 19 by rounding.
            let quota = min(rows.count, Int((total * share + 1e-9).rounded(.down)))
            var rng = SeededGenerator(seed: seed, stream: "balance:" + domain)
            var shuffled = rows
            // Fisher-Yates with our own generator, so the choice is stable across Swift versions.
            if shuffled.count > 1 {
                for k in stride(from: shuffled.count - 1, to: 0, by: -1) {
                    shuffled.swapAt(k, rng.integer(in: 0...k))
                }
            }
            keep.formUnion(shuffled.prefix(quota))
            for i in shuffled.dropFirst(quota) {
                removals.append((i, Removal(id: records[i].id ?? "line \(i + 1)", reason: .overTargetShare,
                                            detail: "domain '\(domain)' keeps \(quota) of \(rows.count) rows for a \(percentText(share)) share")))
            }
        }
        let kept = records.indices.filter(keep.contains).map { records[$0] }
        let report = CleaningReport(inputCount: records.count, keptCount: kept.count,
                                    removals: removals.sorted { $0.0 < $1.0 }.map(\.1))
        return (kept, report)
    }
}

/// A fraction as a percentage with one decimal (`33.3%`).
func percentText(_ share: Double) -> String {
    let tenths = Int((share * 1000).rounded())
    return "\(tenths / 10).\(tenths % 10)%"
}
