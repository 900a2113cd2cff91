import Foundation
import Model
import Tensor
import TestSupport
import Testing

// PPO's value head: (B, T, C) -> (B, T) as w . h + b (float64 hand computation), gradients to the
// weight, the bias and the hidden state against finite differences, and through a whole model.

@Suite("Value head")
struct ValueHeadTests {
    @Test("values are (B, T) and equal w . h + b")
    func values() {
        var rng = RandomGenerator(seed: 1)
        let head = ValueHead(hiddenSize: 8, rng: &rng)
        #expect(head.parameters.names == ["v_head.weight", "v_head.bias"])
        #expect(head.parameters["v_head.weight"].shape == [1, 8] && head.parameters["v_head.bias"].toArray() == [0])
        head.parameters["v_head.bias"].ptr[0] = 0.25
        let hidden = randomNormal([2, 3, 8], seed: 2)
        let v = head(hidden)
        #expect(v.shape == [2, 3])
        let w = head.parameters["v_head.weight"].toArray().map(Double.init)
        let expected = (0..<6).map { r in zip(w, row(hidden, r)).reduce(0.25) { $0 + $1.0 * Double($1.1) } }
        allClose(v, expected, shape: [2, 3], rtol: 1e-5, atol: 1e-6)
    }

    @Test("gradient flows to the weight, the bias and the hidden state (finite differences)")
    func gradients() {
        var rng = RandomGenerator(seed: 3)
        let head = ValueHead(hiddenSize: 8, rng: &rng)
        randomize(head.parameters, seed: 4, std: 0.5)
        let hidden = randomNormal([2, 3, 8], seed: 5)
        let weights = randomNormal([2, 3], seed: 6).toArray()  // L = sum(values * R)
        func objective() -> Double { zip(withNoGrad { head(hidden) }.toArray(), weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        let samples = sampleParameterGradients(store: head.parameters, perTensor: 4, h: 1e-2, analytic: {
            head(hidden).backward(seed: Tensor(shape: [2, 3], values: weights))
        }, objective: objective)
        #expect(samples.count == 5)  // 4 weight elements + the bias
        expectGradientsAgree(samples, rtol: 1e-2, atol: 1e-5, "value head")
        expectSignErrorsDetectable(samples, rtol: 1e-2, atol: 1e-5, "value head")
        // d L / d bias = sum R
        let bias = samples.first { $0.name == "v_head.bias" }!
        allClose(Float(bias.analytic), weights.reduce(0.0) { $0 + Double($1) }, rtol: 1e-5, atol: 1e-6)
        #expect(checkGradients([hidden], h: 1e-2, rtol: 1e-2, atol: 1e-5, "hidden") { head($0[0]) })
    }

    @Test("value loss on the model's final hidden state reaches the transformer weights")
    func throughModel() throws {
        let config = TinyModels.config()
        let model = try TinyModels.model(config, seed: 8)
        var rng = RandomGenerator(seed: 9)
        let head = ValueHead(hiddenSize: config.hiddenSize, rng: &rng)
        randomize(head.parameters, seed: 10, std: 0.5)
        let tokens = randomIds(6, below: config.vocabSize, seed: 11)
        let returns = randomNormal([2, 3], seed: 12)
        let names = ["model.norm.weight", "model.layers.1.mlp.down_proj.weight", "model.embed_tokens.weight"]
        let samples = sampleParameterGradients(store: model.parameters, names: names, perTensor: 3, h: 1e-2, analytic: {
            mseLoss(head(model.forward(tokens: tokens, batch: 2, length: 3).finalHidden), returns).backward()
        }, objective: {
            let v = withNoGrad { head(model.forward(tokens: tokens, batch: 2, length: 3).finalHidden) }.toArray()
            return zip(v, returns.toArray()).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / 6
        })
        expectGradientsAgree(samples, rtol: 1e-2, atol: 1e-4, "value loss through the model")
        expectSignErrorsDetectable(samples, rtol: 1e-2, atol: 1e-4, "value loss through the model")
    }
}
