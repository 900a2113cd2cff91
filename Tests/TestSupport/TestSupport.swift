import Foundation
import Tensor
import Testing

// Shared test helpers: tolerance comparison with a readable report, a central finite-difference
// gradient checker, and seeded random tensors. Comparisons run in Double so the check itself adds no
// float32 rounding.

// MARK: - Closeness

/// The outcome of comparing two arrays elementwise: `ok` when |actual - expected| <= atol + rtol * |expected|
/// everywhere (numpy's `allclose` rule); `description` names the worst elements when it is not.
public struct Closeness: CustomStringConvertible, Sendable {
    /// True when every element is within tolerance and the shapes agree.
    public let ok: Bool
    /// A one-paragraph report: shape mismatch, or how many elements differ and the worst ones.
    public let description: String
}

/// Compares `actual` with `expected` under |a - e| <= atol + rtol * |e| (infinities must match exactly;
/// NaN matches only NaN). `shape` (if given) is used to print multi-dimensional indices.
public func closeness(_ actual: [Float], _ expected: [Double], shape: [Int]? = nil,
                      rtol: Double, atol: Double) -> Closeness {
    guard actual.count == expected.count else {
        return Closeness(ok: false, description: "element counts differ: actual \(actual.count), expected \(expected.count)")
    }
    var bad: [(index: Int, excess: Double)] = []
    var maxAbs = 0.0, maxRel = 0.0
    for i in 0..<actual.count {
        let a = Double(actual[i]), e = expected[i]
        if a.isNaN || e.isNaN {
            if !(a.isNaN && e.isNaN) { bad.append((i, .infinity)) }
            continue
        }
        if a.isInfinite || e.isInfinite {
            if a != e { bad.append((i, .infinity)) }
            continue
        }
        let d = abs(a - e), tol = atol + rtol * abs(e)
        maxAbs = max(maxAbs, d)
        if e != 0 { maxRel = max(maxRel, d / abs(e)) }
        if d > tol { bad.append((i, d - tol)) }
    }
    guard !bad.isEmpty else {
        return Closeness(ok: true, description: "all \(actual.count) elements close (max abs diff \(fmt(maxAbs)), max rel diff \(fmt(maxRel)))")
    }
    let worst = bad.sorted { $0.excess > $1.excess }.prefix(5).map { b -> String in
        let e = expected[b.index], a = Double(actual[b.index])
        return "\(indexText(b.index, shape)): actual \(fmt(a)) expected \(fmt(e)) diff \(fmt(abs(a - e)))"
    }
    return Closeness(ok: false, description: """
        \(bad.count) of \(actual.count) elements differ beyond atol \(fmt(atol)) + rtol \(fmt(rtol)) * |expected| \
        (max abs diff \(fmt(maxAbs)), max rel diff \(fmt(maxRel))); worst: \(worst.joined(separator: "; "))
        """)
}

/// Asserts that `actual` is elementwise close to `expected` (|a - e| <= atol + rtol * |e|), recording an
/// issue at the caller that names the worst elements otherwise. Returns whether it was close.
@discardableResult
public func allClose(_ actual: [Float], _ expected: [Double], rtol: Double = 1e-5, atol: Double = 1e-6,
                     _ comment: String = "", shape: [Int]? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    let c = closeness(actual, expected, shape: shape, rtol: rtol, atol: atol)
    if !c.ok { Issue.record(Comment(rawValue: prefix(comment) + c.description), sourceLocation: sourceLocation) }
    return c.ok
}

/// `allClose` for float expectations.
@discardableResult
public func allClose(_ actual: [Float], _ expected: [Float], rtol: Double = 1e-5, atol: Double = 1e-6,
                     _ comment: String = "", shape: [Int]? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    allClose(actual, expected.map(Double.init), rtol: rtol, atol: atol, comment, shape: shape,
             sourceLocation: sourceLocation)
}

/// `allClose` for a tensor against expected values of a given shape; the shapes must be equal.
@discardableResult
public func allClose(_ actual: Tensor, _ expected: [Double], shape: [Int], rtol: Double = 1e-5,
                     atol: Double = 1e-6, _ comment: String = "",
                     sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard actual.shape == shape else {
        Issue.record(Comment(rawValue: prefix(comment) + "shape \(actual.shape) != expected shape \(shape)"),
                     sourceLocation: sourceLocation)
        return false
    }
    return allClose(actual.toArray(), expected, rtol: rtol, atol: atol, comment, shape: shape,
                    sourceLocation: sourceLocation)
}

/// `allClose` for two tensors; the shapes must be equal.
@discardableResult
public func allClose(_ actual: Tensor, _ expected: Tensor, rtol: Double = 1e-5, atol: Double = 1e-6,
                     _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    allClose(actual, expected.toArray().map(Double.init), shape: expected.shape, rtol: rtol, atol: atol,
             comment, sourceLocation: sourceLocation)
}

/// `allClose` for one scalar.
@discardableResult
public func allClose(_ actual: Float, _ expected: Double, rtol: Double = 1e-5, atol: Double = 1e-6,
                     _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    allClose([actual], [expected], rtol: rtol, atol: atol, comment, sourceLocation: sourceLocation)
}

private func prefix(_ comment: String) -> String { comment.isEmpty ? "" : comment + ": " }

private func fmt(_ x: Double) -> String { String(format: "%.7g", x) }

private func indexText(_ flat: Int, _ shape: [Int]?) -> String {
    guard let shape, shapeCount(shape) > 0, !shape.isEmpty else { return "[\(flat)]" }
    var rest = flat
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        idx[d] = rest % shape[d]
        rest /= shape[d]
    }
    return "[" + idx.map(String.init).joined(separator: ", ") + "]"
}

// MARK: - Finite differences

/// The comparison of analytic gradients (from `backward()`) with central finite differences.
public struct GradientCheck: CustomStringConvertible, Sendable {
    /// True when every checked element agrees within tolerance and every gradient has its input's shape.
    public let ok: Bool
    /// Number of input elements compared.
    public let checked: Int
    /// The largest |analytic - numeric| seen.
    public let maxAbsError: Double
    /// Summary and, on failure, the worst elements.
    public let description: String
}

/// Compares the gradients `backward()` gives for `f`'s inputs with central finite differences.
///
/// The scalar objective is L = sum(f(x) * R) for a fixed random R (seeded by `projectionSeed`), so every
/// output element contributes with its own weight; analytically this is `out.backward(seed: R)`.
/// Each input element is moved by +-h in float32 and L is summed in Double; the numeric derivative
/// divides by the step actually taken (x+h and x-h after float rounding). Output elements that are not
/// finite in the unperturbed forward (causalMask's -inf) get weight 0.
/// An element passes when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
/// - Parameters:
///   - inputs: values of the inputs; the checker makes its own copies (with requiresGrad for the analytic pass).
///   - h: the finite-difference step (1e-2 suits float32 with O(1) inputs; pick inputs h away from kinks).
///   - f: the computation; must be a pure function of its inputs (recreate any generator inside).
public func gradientCheck(_ inputs: [Tensor], h: Float = 1e-2, rtol: Double = 1e-2, atol: Double = 1e-3,
                          projectionSeed: UInt64 = 0x5EED, _ f: ([Tensor]) -> Tensor) -> GradientCheck {
    // Analytic pass.
    let leaves = inputs.map { Tensor(shape: $0.shape, values: $0.toArray(), requiresGrad: true) }
    let out = f(leaves)
    var rng = RandomGenerator(seed: projectionSeed)
    let outValues = out.toArray()
    let projection = outValues.map { v -> Float in
        let r = rng.nextNormal()
        return v.isFinite ? r : 0
    }
    guard out.requiresGrad else {
        return GradientCheck(ok: false, checked: 0, maxAbsError: .infinity,
                             description: "output \(out.shape) does not require a gradient: nothing was recorded")
    }
    out.backward(seed: Tensor(shape: out.shape, values: projection))
    var problems: [String] = []
    var analytic: [[Float]] = []
    for (i, leaf) in leaves.enumerated() {
        if let g = leaf.grad {
            if g.shape != leaf.shape { problems.append("input \(i): gradient shape \(g.shape) != value shape \(leaf.shape)") }
            analytic.append(g.toArray())
        } else {
            analytic.append([Float](repeating: 0, count: leaf.count))
        }
    }

    // Numeric pass on private copies.
    let work = inputs.map { $0.copy() }
    func objective() -> Double {
        let y = withNoGrad { f(work) }
        precondition(y.count == projection.count, "f changed its output size between calls")
        let p = y.ptr
        var s = 0.0
        for k in 0..<y.count where projection[k] != 0 { s += Double(p[k]) * Double(projection[k]) }
        return s
    }
    var bad: [(excess: Double, text: String)] = []
    var checked = 0, maxErr = 0.0
    for (i, x) in work.enumerated() {
        for j in 0..<x.count {
            let x0 = x.ptr[j]
            let xp = x0 + h, xm = x0 - h
            x.ptr[j] = xp
            let lp = objective()
            x.ptr[j] = xm
            let lm = objective()
            x.ptr[j] = x0
            let numeric = (lp - lm) / (Double(xp) - Double(xm))
            let a = Double(analytic[i][j])
            let err = abs(a - numeric), tol = atol + rtol * max(abs(a), abs(numeric))
            checked += 1
            if err.isNaN || err > tol {
                bad.append((err.isNaN ? .infinity : err - tol,
                            "input \(i) \(indexText(j, x.shape)): analytic \(fmt(a)) numeric \(fmt(numeric))"))
            }
            if !err.isNaN { maxErr = max(maxErr, err) }
        }
    }
    let ok = bad.isEmpty && problems.isEmpty
    var text = "\(checked) gradient elements, max |analytic - numeric| \(fmt(maxErr)) (h \(h), rtol \(rtol), atol \(atol))"
    if !bad.isEmpty {
        text += "; \(bad.count) mismatches, worst: "
            + bad.sorted { $0.excess > $1.excess }.prefix(6).map(\.text).joined(separator: "; ")
    }
    if !problems.isEmpty { text += "; " + problems.joined(separator: "; ") }
    return GradientCheck(ok: ok, checked: checked, maxAbsError: maxErr, description: text)
}

/// Asserts `gradientCheck`, recording an issue at the caller with the worst mismatches.
@discardableResult
public func checkGradients(_ inputs: [Tensor], h: Float = 1e-2, rtol: Double = 1e-2, atol: Double = 1e-3,
                           _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                           _ f: ([Tensor]) -> Tensor) -> Bool {
    let r = gradientCheck(inputs, h: h, rtol: rtol, atol: atol, f)
    if !r.ok { Issue.record(Comment(rawValue: prefix(comment) + r.description), sourceLocation: sourceLocation) }
    return r.ok
}

// MARK: - Seeded tensors

/// Normal(0, std) tensor from a generator seeded with `seed`.
public func randomNormal(_ shape: [Int], seed: UInt64, std: Float = 1, requiresGrad: Bool = false) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let t = Tensor.randn(shape, std: std, rng: &rng)
    t.requiresGrad = requiresGrad
    return t
}

/// Uniform [low, high) tensor from a generator seeded with `seed`.
public func randomUniform(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1,
                          requiresGrad: Bool = false) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let t = Tensor.rand(shape, low: low, high: high, rng: &rng)
    t.requiresGrad = requiresGrad
    return t
}

/// `count` ids uniform in 0..<below from a generator seeded with `seed`.
public func randomIds(_ count: Int, below: Int, seed: UInt64) -> [Int32] {
    var rng = RandomGenerator(seed: seed)
    return (0..<count).map { _ in Int32(rng.nextInt(below: below)) }
}

/// The bit patterns of a tensor's elements (for bit-identical comparisons).
public func bitPatterns(_ t: Tensor) -> [UInt32] { t.toArray().map(\.bitPattern) }
