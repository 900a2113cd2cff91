import Tensor

// Structured pruning (issue 24): whole attention units and MLP channels come out of the weights, so the model is
// physically smaller, not masked. An attention unit is a KV group: one key/value head with the query heads that
// read it (under GQA, query head h reads kv head h / (H / KVH)). Every layer keeps the same number of groups and of
// channels, because a config (and Hugging Face's and llama.cpp's with it) holds one head count and one MLP width;
// which ones a layer keeps is its own choice.

/// What each layer keeps: the indices of its KV groups and of its MLP channels, ascending.
public struct PruningPlan: Equatable, Sendable {
    /// Per layer, the KV groups kept.
    public var kvGroups: [[Int]]
    /// Per layer, the MLP channels kept.
    public var channels: [[Int]]

    public init(kvGroups: [[Int]], channels: [[Int]]) {
        self.kvGroups = kvGroups
        self.channels = channels
    }
}

/// Importance of each unit, per layer (larger keeps).
public struct PruningScores: Equatable, Sendable {
    /// Per layer, one score per KV group.
    public var kvGroups: [[Double]]
    /// Per layer, one score per MLP channel.
    public var channels: [[Double]]

    public init(kvGroups: [[Double]], channels: [[Double]]) {
        self.kvGroups = kvGroups
        self.channels = channels
    }
}

extension Transformer {
    /// L1 importance: a KV group's is the sum of |w| over the q rows of its query heads, its k and v rows, and the
    /// o_proj columns of its query heads; a channel's is |gate row| + |up row| + |down_proj column|.
    public func l1PruningScores() -> PruningScores {
        let c = config, d = c.headDim, perGroup = c.numAttentionHeads / c.numKeyValueHeads
        var groups: [[Double]] = [], channels: [[Double]] = []
        func rowsL1(_ w: Tensor, _ rows: Range<Int>) -> Double {
            let width = w.shape[1]
            var s = 0.0
            for r in rows { for j in 0..<width { s += Double(abs(w.ptr[r * width + j])) } }
            return s
        }
        func columnsL1(_ w: Tensor, _ columns: Range<Int>) -> Double {
            let width = w.shape[1]
            var s = 0.0
            for r in 0..<w.shape[0] { for j in columns { s += Double(abs(w.ptr[r * width + j])) } }
            return s
        }
        for i in 0..<c.numHiddenLayers {
            let n = "model.layers.\(i)."
            let q = parameters[n + "self_attn.q_proj.weight"], k = parameters[n + "self_attn.k_proj.weight"]
            let v = parameters[n + "self_attn.v_proj.weight"], o = parameters[n + "self_attn.o_proj.weight"]
            groups.append((0..<c.numKeyValueHeads).map { g in
                let heads = (g * perGroup * d)..<((g + 1) * perGroup * d)
                return rowsL1(q, heads) + rowsL1(k, (g * d)..<((g + 1) * d)) + rowsL1(v, (g * d)..<((g + 1) * d)) + columnsL1(o, heads)
            })
            let gate = parameters[n + "mlp.gate_proj.weight"], up = parameters[n + "mlp.up_proj.weight"]
            let down = parameters[n + "mlp.down_proj.weight"]
            channels.append((0..<c.intermediateSize).map { ch in
                rowsL1(gate, ch..<(ch + 1)) + rowsL1(up, ch..<(ch + 1)) + columnsL1(down, ch..<(ch + 1))
            })
        }
        return PruningScores(kvGroups: groups, channels: channels)
    }

    /// The plan that keeps, in every layer, the `groups` highest-scoring KV groups and the `channels` highest-scoring
    /// MLP channels (equal scores: the lower index stays).
    public static func plan(keeping scores: PruningScores, groups: Int, channels: Int) -> PruningPlan {
        func top(_ s: [Double], _ count: Int) -> [Int] {
            Array(s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }.prefix(count)).sorted()
        }
        return PruningPlan(kvGroups: scores.kvGroups.map { top($0, groups) }, channels: scores.channels.map { top($0, channels) })
    }

    /// A physically smaller copy of this model that keeps, in each layer, the KV groups and MLP channels `plan`
    /// names: the config's head counts and MLP width shrink (the head width is kept, written out as `head_dim`), and
    /// every other weight is copied as it is.
    /// - Throws: `ConfigurationError` (key `prune`) when the plan has another number of layers, keeps different
    ///   counts in different layers, keeps nothing, or names a unit twice or one that does not exist.
    public func pruned(_ plan: PruningPlan) throws -> Transformer {
        let c = config, layers = c.numHiddenLayers
        func check(_ kept: [[Int]], _ what: String, _ available: Int) throws -> Int {
            guard kept.count == layers else {
                throw ConfigurationError(key: "prune", message: "the plan lists \(what) for \(kept.count) layers; the model has \(layers)")
            }
            let count = kept.first?.count ?? 0
            guard count >= 1 else { throw ConfigurationError(key: "prune", message: "every layer must keep at least one of its \(what)") }
            for (i, k) in kept.enumerated() {
                guard k.count == count else {
                    throw ConfigurationError(key: "prune", message: "layer \(i) keeps \(k.count) \(what), layer 0 keeps \(count); every layer keeps "
                                             + "the same number (a config holds one head count and one MLP width)")
                }
                guard Set(k).count == k.count, k.allSatisfy({ (0..<available).contains($0) }) else {
                    throw ConfigurationError(key: "prune", message: "layer \(i): \(k) repeats \(what) or names one outside 0..<\(available)")
                }
            }
            return count
        }
        let groupsKept = try check(plan.kvGroups, "KV groups", c.numKeyValueHeads)
        let channelsKept = try check(plan.channels, "MLP channels", c.intermediateSize)
        let perGroup = c.numAttentionHeads / c.numKeyValueHeads, d = c.headDim
        var smaller = c
        smaller.numKeyValueHeads = groupsKept
        smaller.numAttentionHeads = groupsKept * perGroup
        smaller.explicitHeadDim = d
        smaller.intermediateSize = channelsKept
        let model = try Transformer(config: smaller)
        model.dropoutProbability = dropoutProbability
        for view in model.parameters.views {
            let source = parameters[view.name], target = model.parameters[view.name]
            guard let (layer, rest) = Transformer.layerOf(view.name) else {
                target.ptr.update(from: source.ptr, count: view.count)
                continue
            }
            let groups = plan.kvGroups[layer].sorted(), channels = plan.channels[layer].sorted()
            // the rows (or columns) each tensor keeps, in source coordinates
            let queryRows = groups.flatMap { g in (g * perGroup * d)..<((g + 1) * perGroup * d) }
            let kvRows = groups.flatMap { g in (g * d)..<((g + 1) * d) }
            switch rest.split(separator: ".").dropLast().joined(separator: ".") {  // the module: self_attn.q_proj, ...
            case "self_attn.q_proj": copy(source, rows: queryRows, into: target)
            case "self_attn.k_proj", "self_attn.v_proj": copy(source, rows: kvRows, into: target)
            case "self_attn.o_proj": copy(source, columns: queryRows, into: target)
            case "mlp.gate_proj", "mlp.up_proj": copy(source, rows: channels, into: target)
            case "mlp.down_proj": copy(source, columns: channels, into: target)
            default: target.ptr.update(from: source.ptr, count: view.count)  // norms (q/k norms are per head width)
            }
        }
        return model
    }
}

/// Copies the chosen rows of `source` (a weight (rows, width) or a bias (rows)) into `target`, in order.
private func copy(_ source: Tensor, rows: [Int], into target: Tensor) {
    let width = source.rank == 2 ? source.shape[1] : 1
    for (i, r) in rows.enumerated() { (target.ptr + i * width).update(from: source.ptr + r * width, count: width) }
}

/// Copies the chosen columns of `source` (rows, width) into `target` (rows, columns.count), in order.
private func copy(_ source: Tensor, columns: [Int], into target: Tensor) {
    let width = source.shape[1], kept = columns.count
    for r in 0..<source.shape[0] {
        for (j, col) in columns.enumerated() { target.ptr[r * kept + j] = source.ptr[r * width + col] }
    }
}

extension Transformer {
    /// Activation-weighted importance, measured on `calibration` token sequences (each run on its own, so no padding
    /// is counted): for an input column j of an output projection (o_proj for attention, down_proj for the MLP),
    /// a_j = mean over the calibration tokens of |x_tj|, the input that column multiplies, and the column's weight is
    /// its L1 norm; a unit's score is the sum over its columns of a_j * ||W[:, j]||_1 (a KV group: the columns of its
    /// query heads in o_proj; an MLP channel: its column in down_proj). That is the mean size of what the unit adds
    /// to the residual stream, bounded by the triangle inequality, as Wanda weighs |W| by the input's norm.
    public func activationPruningScores(calibration: [[Int32]]) -> PruningScores {
        let c = config, d = c.headDim, perGroup = c.numAttentionHeads / c.numKeyValueHeads
        var sums: [String: [Double]] = [:]
        var tokens = 0
        let watched = Set((0..<c.numHiddenLayers).flatMap { i in
            ["model.layers.\(i).self_attn.o_proj.weight", "model.layers.\(i).mlp.down_proj.weight"]
        })
        linearInputObserver = { name, x in
            guard watched.contains(name) else { return }
            let width = x.shape[x.rank - 1], rows = x.count / width
            var s = sums[name] ?? [Double](repeating: 0, count: width)
            for r in 0..<rows { for j in 0..<width { s[j] += Double(abs(x.ptr[r * width + j])) } }
            sums[name] = s
        }
        defer { linearInputObserver = nil }
        withNoGrad {
            for sequence in calibration where !sequence.isEmpty {
                _ = forward(tokens: sequence, batch: 1, length: sequence.count)
                tokens += sequence.count
            }
        }
        func weighted(_ name: String, _ columns: Range<Int>) -> Double {
            let w = parameters[name], width = w.shape[1], mean = sums[name] ?? []
            var s = 0.0
            for j in columns {
                var norm = 0.0
                for r in 0..<w.shape[0] { norm += Double(abs(w.ptr[r * width + j])) }
                s += (mean.isEmpty ? 0 : mean[j] / Double(max(tokens, 1))) * norm
            }
            return s
        }
        var groups: [[Double]] = [], channels: [[Double]] = []
        for i in 0..<c.numHiddenLayers {
            let o = "model.layers.\(i).self_attn.o_proj.weight", down = "model.layers.\(i).mlp.down_proj.weight"
            groups.append((0..<c.numKeyValueHeads).map { g in weighted(o, (g * perGroup * d)..<((g + 1) * perGroup * d)) })
            channels.append((0..<c.intermediateSize).map { ch in weighted(down, ch..<(ch + 1)) })
        }
        return PruningScores(kvGroups: groups, channels: channels)
    }

    /// The parameters one KV group (its query heads' q rows and o_proj columns, its k and v rows, their biases) and one
    /// MLP channel (gate and up rows, down_proj column) hold in one layer.
    public static func pruningUnitSizes(_ config: TransformerConfig) -> (group: Int, channel: Int) {
        let d = config.headDim, h = config.hiddenSize, perGroup = config.numAttentionHeads / config.numKeyValueHeads
        let bias = config.qkvBias ? (perGroup + 2) * d : 0
        return ((2 * perGroup + 2) * d * h + bias, 3 * h)
    }

    /// The parameter count of this architecture with `groups` KV groups and `channels` MLP channels in every layer.
    public static func parameterCount(_ config: TransformerConfig, groups: Int, channels: Int) -> Int {
        parameterSpecs(config.keeping(groups: groups, channels: channels)).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// How many KV groups and MLP channels every layer keeps after one pruning round that removes at most `budget`
    /// parameters and keeps at least `floor`.
    ///
    /// Units go one at a time (one per layer, as counts stay uniform), the cheaper kind first: the next KV group's
    /// and the next channel's scores, each the mean over layers of the lowest score still kept in the layer, divided
    /// by the unit's weight count (a group's q, k, v rows and o_proj columns; a channel's gate and up rows and
    /// down_proj column), so the two kinds compare per weight. A unit that does not fit the budget or the floor is
    /// passed over for the other kind; every layer keeps at least one group and one channel. Ties go to the channel.
    /// - Returns: the counts kept; equal to the config's when nothing fits.
    public static func pruningRound(_ config: TransformerConfig, scores: PruningScores, budget: Int, floor: Int) -> (groups: Int, channels: Int) {
        let layers = config.numHiddenLayers, d = config.headDim, h = config.hiddenSize
        let perGroup = config.numAttentionHeads / config.numKeyValueHeads
        let groupWeights = Double((2 * perGroup + 2) * d * h), channelWeights = Double(3 * h)
        let sortedGroups = scores.kvGroups.map { $0.sorted() }, sortedChannels = scores.channels.map { $0.sorted() }
        let start = parameterCount(config, groups: config.numKeyValueHeads, channels: config.intermediateSize)
        var g = config.numKeyValueHeads, c = config.intermediateSize
        func fits(_ groups: Int, _ channels: Int) -> Bool {
            let n = parameterCount(config, groups: groups, channels: channels)
            return start - n <= budget && n >= floor
        }
        while true {
            // the removed count so far is the index of the next lowest score in each layer
            let groupScore: Double? = g > 1 && fits(g - 1, c)
                ? (0..<layers).reduce(0.0) { $0 + sortedGroups[$1][config.numKeyValueHeads - g] } / Double(layers) / groupWeights : nil
            let channelScore: Double? = c > 1 && fits(g, c - 1)
                ? (0..<layers).reduce(0.0) { $0 + sortedChannels[$1][config.intermediateSize - c] } / Double(layers) / channelWeights : nil
            switch (groupScore, channelScore) {
            case (nil, nil): return (g, c)
            case (let gs?, let cs?) where gs < cs: g -= 1
            case (_, .some): c -= 1
            case (.some, nil): g -= 1
            }
        }
    }
}

extension TransformerConfig {
    /// This architecture with `groups` KV groups (and their query heads) and `channels` MLP channels per layer, the
    /// head width kept (written out as `head_dim`): the shape `Transformer.pruned` gives.
    public func keeping(groups: Int, channels: Int) -> TransformerConfig {
        var c = self
        let perGroup = numAttentionHeads / numKeyValueHeads
        c.explicitHeadDim = headDim
        c.numKeyValueHeads = groups
        c.numAttentionHeads = groups * perGroup
        c.intermediateSize = channels
        return c
    }
}
