import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Whole-model backward against central finite differences. Loss: cross-entropy of the logits; the
// finite-difference side recomputes it in float64 from the float32 logits of a no-grad forward, so
// only the forward pass's own float32 rounding enters the numeric derivative. Every parameter tensor
// (every name) is sampled at its largest-gradient element plus random ones. Tolerance:
// rtol 1e-2 + atol 1e-4: the numeric side Richardson-extrapolates central differences at h = 1e-2 and
// 5e-3, cancelling the O(h^2) term that float32-safe steps leave (see ModelTestSupport). The check also
// proves a sign error in any tensor's gradient would be caught.

@Suite("Transformer gradients")
struct TransformerGradientTests {
    static let rtol = 1e-2, atol = 1e-4

    /// Samples the gradients of `loss(logits)` for every parameter of `model`.
    static func samples(_ model: Transformer, tokens: [Int32], batch: Int, length: Int, perTensor: Int = 3,
                        names: [String]? = nil, analyticLoss: (ForwardOutput) -> Tensor,
                        referenceLoss: (ForwardOutput) -> Double, options: ForwardOptions = []) -> [ParameterGradientSample] {
        sampleParameterGradients(store: model.parameters, names: names, perTensor: perTensor, h: 1e-2, analytic: {
            analyticLoss(model.forward(tokens: tokens, batch: batch, length: length, options: options)).backward()
        }, objective: {
            withNoGrad { referenceLoss(model.forward(tokens: tokens, batch: batch, length: length, options: options)) }
        })
    }

    @Test("cross-entropy gradient of every parameter tensor matches finite differences",
          arguments: [
            ("GQA + QKV bias, untied", TinyModels.config(vocab: 11, hidden: 8, intermediate: 12, layers: 2, heads: 2, kvHeads: 1, qkvBias: true)),
            ("MHA, tied embeddings, rope_theta 500", TinyModels.config(vocab: 11, hidden: 8, intermediate: 12, layers: 2, heads: 2, kvHeads: 2,
                                                                    qkvBias: false, tied: true, ropeTheta: 500)),
            ("Qwen3: q/k norms, head_dim 6 != hidden / heads, Llama 3 rotary scaling", {
                var c = TinyModels.config(vocab: 11, hidden: 8, intermediate: 12, layers: 2, heads: 2, kvHeads: 1, qkvBias: false)
                c.qkNorm = true
                c.explicitHeadDim = 6
                c.ropeScaling = Llama3RopeScaling(factor: 4, lowFreqFactor: 1, highFreqFactor: 2, originalMaxPositionEmbeddings: 8)
                return c
            }()),
          ])
    func crossEntropyGradients(label: String, config: TransformerConfig) throws {
        let model = try TinyModels.model(config, seed: 42)
        let b = 2, t = 5, v = config.vocabSize
        let tokens = randomIds(b * t, below: v, seed: 7)
        let targets = randomIds(b * t, below: v, seed: 8)
        let s = Self.samples(model, tokens: tokens, batch: b, length: t,
                             analyticLoss: { crossEntropy($0.logits, targets: targets) },
                             referenceLoss: { referenceCrossEntropy(logits: $0.logits.toArray(), vocab: v, targets: targets) })
        #expect(Set(s.map(\.name)) == Set(model.parameters.names), "every parameter tensor is sampled")
        expectGradientsAgree(s, rtol: Self.rtol, atol: Self.atol, label)
        expectSignErrorsDetectable(s, rtol: Self.rtol, atol: Self.atol, label)
    }

    @Test("the gradient comparison fails for a wrong gradient (analytic of a different loss)")
    func checkerCatchesWrongGradient() throws {
        let config = TinyModels.config()
        let model = try TinyModels.model(config, seed: 42)
        let tokens = randomIds(10, below: config.vocabSize, seed: 7)
        let targets = randomIds(10, below: config.vocabSize, seed: 8), other = randomIds(10, below: config.vocabSize, seed: 9)
        let s = Self.samples(model, tokens: tokens, batch: 2, length: 5,
                             analyticLoss: { crossEntropy($0.logits, targets: other) },
                             referenceLoss: { referenceCrossEntropy(logits: $0.logits.toArray(), vocab: config.vocabSize, targets: targets) })
        let bad = s.filter { !$0.agrees(rtol: Self.rtol, atol: Self.atol) }
        #expect(bad.count > s.count / 4, "only \(bad.count) of \(s.count) samples disagree with the wrong loss's gradient")
    }

    @Test("returned hidden states and attention maps carry gradients to the weights (feature alignment)")
    func featureOutputsGradients() throws {
        let config = TinyModels.config()
        let model = try TinyModels.model(config, seed: 3)
        let b = 2, t = 4, d = config.hiddenSize, h = config.numAttentionHeads
        let tokens = randomIds(b * t, below: config.vocabSize, seed: 4)
        let hiddenTarget = randomNormal([b, t, d], seed: 5)
        let attentionTarget = randomUniform([b, h, t, t], seed: 6, low: 0, high: 0.5)
        // loss = MSE(hidden of layer 0, target) + attention-map MSE of layer 1 (float64 reference below)
        let names = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
                     "model.layers.1.self_attn.k_proj.weight", "model.layers.1.self_attn.k_proj.bias",
                     "model.layers.0.input_layernorm.weight"]
        let s = Self.samples(model, tokens: tokens, batch: b, length: t, perTensor: 3, names: names,
                             analyticLoss: { out in
                                 add(mseLoss(out.hiddenStates[0], hiddenTarget), attentionMapLoss(student: out.attentions[1], teacher: attentionTarget))
                             },
                             referenceLoss: { out in
                                 func mse(_ a: Tensor, _ e: Tensor) -> Double {
                                     zip(a.toArray(), e.toArray()).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(a.count)
                                 }
                                 return mse(out.hiddenStates[0], hiddenTarget) + mse(out.attentions[1], attentionTarget)
                             },
                             options: [.hiddenStates, .attentions])
        expectGradientsAgree(s, rtol: Self.rtol, atol: Self.atol, "hidden + attention MSE")
        expectSignErrorsDetectable(s, rtol: Self.rtol, atol: Self.atol, "hidden + attention MSE")
        // Layer 1's k projection cannot affect layer 0's hidden state, only the layer-1 attention map:
        // its gradient must be nonzero (the map is connected) -- checked through detectability above.
    }

    @Test("a frozen parameter gets no gradient while the others do")
    func frozenParameter() throws {
        let config = TinyModels.config()
        let model = try TinyModels.model(config, seed: 11)
        model.parameters.setFrozen("model.embed_tokens.weight", true)
        defer { model.parameters.setFrozen("model.embed_tokens.weight", false) }
        let tokens = randomIds(10, below: config.vocabSize, seed: 1), targets = randomIds(10, below: config.vocabSize, seed: 2)
        model.parameters.zeroGradients()
        crossEntropy(model.forward(tokens: tokens, batch: 2, length: 5).logits, targets: targets).backward()
        let emb = model.parameters.view("model.embed_tokens.weight")!
        let g = UnsafeBufferPointer(start: model.parameters.gradients.base, count: model.parameters.count)
        #expect(g[emb.offset..<(emb.offset + emb.count)].allSatisfy { $0 == 0 })
        #expect(g[(emb.offset + emb.count)...].contains { $0 != 0 })
    }
}
