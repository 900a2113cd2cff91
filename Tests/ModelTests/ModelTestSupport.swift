import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Model-specific test helpers: the Fixtures/model.json loader (NumPy reference forward passes written
// by scripts/make_model_fixtures.py), tiny configs with non-trivial random weights, float64 reference
// math (log-softmax, cross-entropy, entropy), and a finite-difference checker over a ParameterStore's
// named views (TestSupport's checker works on free input tensors, not on a model's stored parameters).

// MARK: - Fixtures/model.json

/// One NumPy reference case: HF-keyed config, HF-named weights, token ids and expected outputs.
struct ModelFixtureCase {
    let name: String
    /// The case's `config` object re-serialised as JSON text (what `TransformerConfig.fromJSON` reads).
    let configJSON: String
    let batch: Int
    let length: Int
    /// (B, T) ids, row-major.
    let tokens: [Int32]
    /// HF state-dict name -> row-major float64 values (exactly representable in float32).
    let weights: [String: [Double]]
    /// (B, T, V) logits computed in float64.
    let logits: [Double]
    /// (B, T, C) output of the last decoder layer (before the final norm).
    let hiddenLast: [Double]
}

private struct ModelFixtureNumbers: Decodable {
    let name: String
    let batch: Int
    let length: Int
    let tokens: [Int32]
    let weights: [String: [Double]]
    let logits: [Double]
    let hiddenLast: [Double]
    enum CodingKeys: String, CodingKey {
        case name, batch, length, tokens, weights, logits, hiddenLast = "hidden_last"
    }
}

private struct ModelFixtureFile: Decodable {
    let generator: String
    let cases: [ModelFixtureNumbers]
}

enum ModelFixtureError: Error, CustomStringConvertible {
    case missingFile
    case malformed(String)
    var description: String {
        switch self {
        case .missingFile: "Fixtures/model.json is not in the test bundle (run scripts/make_model_fixtures.py)"
        case .malformed(let what): "Fixtures/model.json: \(what) (regenerate with scripts/make_model_fixtures.py)"
        }
    }
}

enum ModelFixtures {
    /// Every case of Fixtures/model.json, loaded once.
    static let all: Result<[ModelFixtureCase], Error> = Result {
        guard let url = Bundle.module.url(forResource: "model", withExtension: "json", subdirectory: "Fixtures") else {
            throw ModelFixtureError.missingFile
        }
        let data = try Data(contentsOf: url)
        let numbers = try JSONDecoder().decode(ModelFixtureFile.self, from: data).cases
        // The config objects go through JSONSerialization so they reach fromJSON exactly as written.
        guard let top = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let raw = top["cases"] as? [[String: Any]], raw.count == numbers.count else {
            throw ModelFixtureError.malformed("no \"cases\" array")
        }
        return try zip(numbers, raw).map { n, r in
            guard let config = r["config"] else { throw ModelFixtureError.malformed("case \(n.name) has no config") }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
            return ModelFixtureCase(name: n.name, configJSON: text, batch: n.batch, length: n.length, tokens: n.tokens,
                                    weights: n.weights, logits: n.logits, hiddenLast: n.hiddenLast)
        }
    }
}

// MARK: - Tiny models

enum TinyModels {
    /// The small GQA + QKV-bias config used by the gradient, cache and sampler tests.
    static func config(vocab: Int = 11, hidden: Int = 8, intermediate: Int = 12, layers: Int = 2, heads: Int = 2,
                       kvHeads: Int = 1, qkvBias: Bool = true, tied: Bool = false, maxPositions: Int = 32,
                       ropeTheta: Double = 10_000) -> TransformerConfig {
        TransformerConfig(vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate, numHiddenLayers: layers,
                          numAttentionHeads: heads, numKeyValueHeads: kvHeads, ropeTheta: ropeTheta,
                          maxPositionEmbeddings: maxPositions, tieWordEmbeddings: tied, qkvBias: qkvBias)
    }

    /// A model whose weights are large enough that attention, norms and the MLP all matter
    /// (HF's N(0, 0.02) init makes every distribution nearly uniform and hides mistakes).
    static func model(_ config: TransformerConfig, seed: UInt64, std: Float = 0.3) throws -> Transformer {
        var rng = RandomGenerator(seed: seed)
        let model = try Transformer(config: config, rng: &rng)
        randomize(model.parameters, seed: seed &+ 1, std: std)
        return model
    }
}

/// Fills a store: norm weights 1 + N(0, 0.1), biases N(0, 0.2), every other weight N(0, std).
func randomize(_ store: ParameterStore, seed: UInt64, std: Float) {
    var rng = RandomGenerator(seed: seed)
    store.initialize(rng: &rng) { view, rng in
        (0..<view.count).map { _ in
            if view.name.hasSuffix("norm.weight") { return 1 + 0.1 * rng.nextNormal() }
            if view.name.hasSuffix(".bias") { return 0.2 * rng.nextNormal() }
            return std * rng.nextNormal()
        }
    }
}

// MARK: - Float64 reference math

/// log-softmax of one row in float64.
func referenceLogSoftmax(_ z: [Double]) -> [Double] {
    let m = z.max()!
    let lse = m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) })
    return z.map { $0 - lse }
}

/// log-softmax(z / T) in float64.
func referenceLogSoftmax(_ z: [Float], temperature: Double = 1) -> [Double] {
    referenceLogSoftmax(z.map { Double($0) / temperature })
}

/// Entropy (nats) of the distribution whose log-probabilities are `logp`.
func referenceEntropy(_ logp: [Double]) -> Double {
    -logp.reduce(0) { $0 + ($1.isFinite ? Foundation.exp($1) * $1 : 0) }
}

/// Mean cross-entropy in float64 over rows whose target is not `ignoreIndex`, with PyTorch's label
/// smoothing (target (1 - eps) one-hot + eps / V). `logits` is (R, V) row-major.
func referenceCrossEntropy(logits: [Float], vocab v: Int, targets: [Int32], ignoreIndex: Int32 = -100,
                           labelSmoothing eps: Double = 0) -> Double {
    var total = 0.0, counted = 0
    for (r, t) in targets.enumerated() where t != ignoreIndex {
        let lp = referenceLogSoftmax(Array(logits[(r * v)..<((r + 1) * v)]))
        total += -(1 - eps) * lp[Int(t)] - eps / Double(v) * lp.reduce(0, +)
        counted += 1
    }
    return counted == 0 ? 0 : total / Double(counted)
}

/// Row `r` of a tensor viewed as (rows, lastDim).
func row(_ t: Tensor, _ r: Int) -> [Float] {
    let c = t.lastDim
    return Array(UnsafeBufferPointer(start: t.ptr + r * c, count: c))
}

/// Index of the largest element (first one on ties).
func argmax(_ x: [Float]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}

// MARK: - Finite differences over a parameter store

/// One sampled parameter element: its analytic derivative (from backward) and the central difference.
struct ParameterGradientSample: CustomStringConvertible {
    let name: String
    /// Flat index inside the named view.
    let index: Int
    let analytic: Double
    let numeric: Double
    var description: String {
        "\(name)[\(index)]: analytic \(String(format: "%.6g", analytic)) numeric \(String(format: "%.6g", numeric))"
    }

    /// Whether |a - n| <= atol + rtol * max(|a|, |n|), with the analytic value optionally negated
    /// (to prove the comparison would notice a sign error).
    func agrees(rtol: Double, atol: Double, flipSign: Bool = false) -> Bool {
        let a = flipSign ? -analytic : analytic
        return abs(a - numeric) <= atol + rtol * max(abs(a), abs(numeric))
    }
}

/// Compares a store's gradients with central finite differences on a sample of elements of each view.
///
/// `analytic` must run the forward pass and `backward()` (gradients are zeroed first, then read from the
/// store's flat gradient buffer). `objective` must return the same loss computed without recording
/// (ideally in float64 from the model's outputs). For each view the sample holds the element with the
/// largest |analytic gradient| (so every tensor is checked where it matters) plus `perTensor - 1` others
/// drawn from a seeded generator. Each element is moved by +-h and +-h/2 in float32 (each difference
/// divides by the step actually taken) and the two central differences are Richardson-extrapolated.
func sampleParameterGradients(store: ParameterStore, names: [String]? = nil, perTensor: Int = 3, seed: UInt64 = 17,
                              h: Float = 1e-2, analytic: () -> Void, objective: () -> Double) -> [ParameterGradientSample] {
    store.zeroGradients()
    analytic()
    let grads = Array(UnsafeBufferPointer(start: store.gradients.base, count: store.count))
    var rng = RandomGenerator(seed: seed)
    var samples: [ParameterGradientSample] = []
    let values = store.values.base
    for name in names ?? store.names {
        guard let view = store.view(name) else { preconditionFailure("no parameter \(name)") }
        var picks: [Int] = []
        var largest = 0
        for j in 0..<view.count where abs(grads[view.offset + j]) > abs(grads[view.offset + largest]) { largest = j }
        picks.append(largest)
        while picks.count < min(perTensor, view.count) {
            let j = rng.nextInt(below: view.count)
            if !picks.contains(j) { picks.append(j) }
        }
        for j in picks {
            let i = view.offset + j, x0 = values[i]
            func central(_ step: Float) -> Double {
                let xp = x0 + step, xm = x0 - step
                values[i] = xp
                let lp = objective()
                values[i] = xm
                let lm = objective()
                values[i] = x0
                return (lp - lm) / (Double(xp) - Double(xm))
            }
            // Richardson extrapolation: (4 D(h/2) - D(h)) / 3 cancels the O(h^2) truncation term, which
            // is what dominates at float32-safe steps where the loss has strong curvature.
            let numeric = (4 * central(h / 2) - central(h)) / 3
            samples.append(ParameterGradientSample(name: name, index: j, analytic: Double(grads[i]), numeric: numeric))
        }
    }
    return samples
}

/// Records one issue listing every sample outside tolerance; returns how many there were.
@discardableResult
func expectGradientsAgree(_ samples: [ParameterGradientSample], rtol: Double, atol: Double, _ comment: String = "",
                          sourceLocation: SourceLocation = #_sourceLocation) -> Int {
    let bad = samples.filter { !$0.agrees(rtol: rtol, atol: atol) }
    if !bad.isEmpty {
        Issue.record(Comment(rawValue: "\(comment): \(bad.count) of \(samples.count) parameter gradients differ from "
                             + "finite differences (rtol \(rtol), atol \(atol)): "
                             + bad.prefix(8).map(\.description).joined(separator: "; ")),
                     sourceLocation: sourceLocation)
    }
    return bad.count
}

/// Asserts that, for every named tensor, negating its analytic gradient would fail the comparison for at
/// least one sampled element (so the check above is not vacuous for any tensor).
func expectSignErrorsDetectable(_ samples: [ParameterGradientSample], rtol: Double, atol: Double, _ comment: String = "",
                                sourceLocation: SourceLocation = #_sourceLocation) {
    let byName = Dictionary(grouping: samples, by: \.name)
    let blind = byName.filter { _, s in s.allSatisfy { $0.agrees(rtol: rtol, atol: atol, flipSign: true) } }.keys.sorted()
    if !blind.isEmpty {
        Issue.record(Comment(rawValue: "\(comment): a sign error in these tensors' gradients would go unnoticed "
                             + "(every sampled derivative is within atol of zero): \(blind)"),
                     sourceLocation: sourceLocation)
    }
}
