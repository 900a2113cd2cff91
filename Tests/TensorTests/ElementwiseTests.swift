import Foundation
import Tensor
import Testing
import TestSupport

// Elementwise ops (Sources/Tensor/Ops/Elementwise.swift): binary ops with broadcasting over leading dims,
// scalar ops, the activations and the clipping family. Forward against numpy fixtures (and a few hand
// values), gradients against central finite differences. Lengths 1, 5, 17, 33 cover the SIMD tail.
// Tolerances: exact arithmetic ops to rtol 1e-6; ops built on the vectorised exp to rtol 1e-5.

@Suite("Elementwise")
struct ElementwiseTests {
    private static let binary: [(String, (Tensor, Tensor) -> Tensor)] = [
        ("add", add), ("sub", sub), ("mul", mul), ("div", div),
    ]

    @Test("add/sub/mul/div forward match numpy, including bias (C) against (B, T, C) and (T, C) against (B, T, C)",
          arguments: ["add", "sub", "mul", "div"])
    func binaryForward(op: String) throws {
        let f = Self.binary.first { $0.0 == op }!.1
        for (name, c) in try Fixtures.cases(op) {
            allClose(f(c.input("a"), c.input("b")), c.output(), rtol: 1e-6, atol: 1e-7, name)
        }
    }

    @Test("add/sub/mul/div gradients of both operands match finite differences (broadcast side summed)",
          arguments: ["add", "sub", "mul", "div"])
    func binaryGradient(op: String) throws {
        let f = Self.binary.first { $0.0 == op }!.1
        for (name, c) in try Fixtures.cases(op) {
            checkGradients([c.input("a"), c.input("b")], name) { f($0[0], $0[1]) }
            // each side on its own, the other a constant
            let a = c.input("a"), b = c.input("b")
            checkGradients([a], name + " da") { f($0[0], b) }
            checkGradients([b], name + " db") { f(a, $0[0]) }
        }
    }

    @Test("bias broadcast by hand: (2, 2, 3) + (3), and its gradient sums over the 4 rows")
    func biasByHand() {
        let x = Tensor(shape: [2, 2, 3], values: (0..<12).map(Float.init))
        let b = Tensor(shape: [3], values: [10, 20, 30], requiresGrad: true)
        let y = add(x, b)
        #expect(y.shape == [2, 2, 3])
        #expect(y.toArray() == [10, 21, 32, 13, 24, 35, 16, 27, 38, 19, 30, 41])
        y.backward()
        #expect(b.grad?.toArray() == [4, 4, 4])
        // div with the broadcast operand first: (3) / (2, 3)
        let d = div(Tensor(shape: [3], values: [1, 2, 3]), Tensor(shape: [2, 3], values: [1, 2, 3, 2, 4, 6]))
        #expect(d.toArray() == [1, 1, 1, 0.5, 0.5, 0.5])
    }

    @Test("scale and addScalar forward and gradient")
    func scalarOps() throws {
        for (name, c) in try Fixtures.cases("scale") {
            let s = c.float("s")
            allClose(scale(c.input("x"), s), c.output(), rtol: 1e-6, atol: 1e-7, name)
            checkGradients([c.input("x")], name) { scale($0[0], s) }
        }
        for (name, c) in try Fixtures.cases("addScalar") {
            let s = c.float("s")
            allClose(addScalar(c.input("x"), s), c.output(), rtol: 1e-6, atol: 1e-6, name)
            checkGradients([c.input("x")], name) { addScalar($0[0], s) }
        }
        let x = Tensor(shape: [3], values: [1, -2, 0.5])
        #expect(neg(x).toArray() == [-1, 2, -0.5])
    }

    private static let unary: [(String, (Tensor) -> Tensor)] = [
        ("exp", { exp($0) }), ("log", { log($0) }), ("tanh", { tanh($0) }), ("sigmoid", sigmoid),
        ("silu", silu), ("gelu", gelu), ("relu", relu),
    ]

    @Test("activation forward matches numpy (gelu is PyTorch's tanh approximation)",
          arguments: ["exp", "log", "tanh", "sigmoid", "silu", "gelu", "relu"])
    func unaryForward(op: String) throws {
        let f = Self.unary.first { $0.0 == op }!.1
        for (name, c) in try Fixtures.cases(op) {
            allClose(f(c.input("x")), c.output(), rtol: 1e-5, atol: 1e-6, name)
        }
    }

    @Test("activation gradient matches finite differences",
          arguments: ["exp", "log", "tanh", "sigmoid", "silu", "gelu", "relu"])
    func unaryGradient(op: String) throws {
        let f = Self.unary.first { $0.0 == op }!.1
        for (name, c) in try Fixtures.cases(op) {
            checkGradients([c.input("x")], name) { f($0[0]) }
        }
    }

    @Test("activation hand values")
    func activationHandValues() {
        let ln2 = Float(Foundation.log(2.0))
        allClose(exp(Tensor(shape: [3], values: [0, ln2, -ln2])).toArray(), [1, 2, 0.5], rtol: 1e-6, atol: 0)
        allClose(log(Tensor(shape: [2], values: [1, 4])).toArray(), [0, 2 * Foundation.log(2.0)], rtol: 1e-7, atol: 0)
        // tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 3/5
        allClose(tanh(Tensor(shape: [2], values: [ln2, -ln2])).toArray(), [0.6, -0.6], rtol: 1e-6, atol: 0)
        // sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4
        allClose(sigmoid(Tensor(shape: [2], values: [0, Float(Foundation.log(3.0))])).toArray(), [0.5, 0.75],
                 rtol: 1e-6, atol: 0)
        // silu(ln 3) = ln 3 * 3/4
        allClose(silu(Tensor(shape: [1], values: [Float(Foundation.log(3.0))])).toArray(),
                 [Foundation.log(3.0) * 0.75], rtol: 1e-6, atol: 0)
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in float64 at x = 1, -1, 3
        allClose(gelu(Tensor(shape: [3], values: [1, -1, 3])).toArray(), [0.84119199, -0.15880801, 2.99636261],
                 rtol: 2e-6, atol: 1e-7)
        #expect(relu(Tensor(shape: [3], values: [-1, 0, 2])).toArray() == [0, 0, 2])
    }

    @Test("activations over 5,001 elements (the two-thread path, odd split) match the formulas in Double")
    func largeTensors() {
        let x = randomUniform([5001], seed: 71, low: -6, high: 6)
        let xs = x.toArray().map(Double.init)
        let c = (2 / Double.pi).squareRoot()
        func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        allClose(exp(x).toArray(), xs.map { Foundation.exp($0) }, rtol: 1e-6, atol: 0, "exp")
        allClose(tanh(x).toArray(), xs.map { Foundation.tanh($0) }, rtol: 1e-5, atol: 1e-6, "tanh")
        allClose(sigmoid(x).toArray(), xs.map(sig), rtol: 1e-5, atol: 1e-7, "sigmoid")
        allClose(silu(x).toArray(), xs.map { $0 * sig($0) }, rtol: 1e-5, atol: 1e-6, "silu")
        allClose(gelu(x).toArray(), xs.map { 0.5 * $0 * (1 + Foundation.tanh(c * ($0 + 0.044715 * $0 * $0 * $0))) },
                 rtol: 1e-5, atol: 1e-6, "gelu")
        allClose(relu(x).toArray(), xs.map { max($0, 0) }, rtol: 0, atol: 0, "relu")
        // and the backward over the same size: d silu / dx with seed 1
        let leaf = Tensor(shape: [5001], values: x.toArray(), requiresGrad: true)
        silu(leaf).backward()
        allClose(leaf.grad!.toArray(), xs.map { sig($0) * (1 + $0 * (1 - sig($0))) }, rtol: 1e-5, atol: 1e-6, "silu'")
    }

    @Test("saturated tails: no NaN, exact limits")
    func saturation() {
        let x = Tensor(shape: [4], values: [-200, -90, 90, 200])
        #expect(tanh(x).toArray() == [-1, -1, 1, 1])
        #expect(sigmoid(x).toArray() == [0, 0, 1, 1])
        let s = silu(x).toArray()
        #expect(s[0] == 0 && s[1] == 0 && s[2] == 90 && s[3] == 200)
        let g = gelu(x).toArray()
        #expect(g[0] == 0 && g[1] == 0 && g[2] == 90 && g[3] == 200)
        #expect(exp(x).toArray() == [0, 0, .infinity, .infinity])
    }

    @Test("swiglu (silu(gate) * up, fused) forward matches numpy; gradients of gate and up match finite differences")
    func swigluOp() throws {
        for (name, c) in try Fixtures.cases("swiglu") {
            allClose(swiglu(gate: c.input("gate"), up: c.input("up")), c.output(), rtol: 1e-5, atol: 1e-6, name)
            checkGradients([c.input("gate"), c.input("up")], name) { swiglu(gate: $0[0], up: $0[1]) }
        }
        // the two-thread path (5,001 elements) agrees with the unfused ops
        let g = randomNormal([5001], seed: 73, std: 2), u = randomNormal([5001], seed: 74)
        allClose(swiglu(gate: g, up: u), mul(silu(g), u), rtol: 1e-5, atol: 1e-6, "swiglu vs silu * up")
    }

    @Test("clamp forward and gradient (zero outside [min, max])")
    func clampOp() throws {
        for (name, c) in try Fixtures.cases("clamp") {
            let lo = c.float("low"), hi = c.float("high")
            allEqual(clamp(c.input("x"), min: lo, max: hi), c.output(), name)
            checkGradients([c.input("x")], name) { clamp($0[0], min: lo, max: hi) }
        }
        let x = Tensor(shape: [4], values: [-2, -0.5, 0.5, 2], requiresGrad: true)
        let y = clamp(x, min: -1, max: 1)
        #expect(y.toArray() == [-1, -0.5, 0.5, 1])
        y.backward()
        #expect(x.grad?.toArray() == [0, 1, 1, 0])
    }

    @Test("minimum and maximum forward and gradient (routed to the selected operand)",
          arguments: ["minimum", "maximum"])
    func selection(op: String) throws {
        let f: (Tensor, Tensor) -> Tensor = op == "minimum" ? minimum : maximum
        for (name, c) in try Fixtures.cases(op) {
            allEqual(f(c.input("a"), c.input("b")), c.output(), name)
            checkGradients([c.input("a"), c.input("b")], name) { f($0[0], $0[1]) }
        }
        // ties go to a
        let a = Tensor(shape: [2], values: [1, 3], requiresGrad: true)
        let b = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        f(a, b).backward()
        #expect(a.grad?.toArray() == (op == "minimum" ? [1, 0] : [1, 1]))
        #expect(b.grad?.toArray() == (op == "minimum" ? [0, 1] : [0, 0]))
    }
}
