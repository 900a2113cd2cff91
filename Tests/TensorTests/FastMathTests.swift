import Foundation
import Tensor
import Testing
import TestSupport

// The vectorised kernels of Sources/Tensor/FastMath.swift: vexp against Foundation.exp in Double, its
// saturation and NaN behaviour, and vsum / vmax / vdot against Double references for lengths around the
// SIMD width.

@Suite("FastMath")
struct FastMathTests {
    @Test("vexp relative error < 1e-6 against Foundation.exp over [-80, 80]")
    func vexpAccuracy() {
        // 320,000 evenly spaced points (step 5e-4), 16 lanes per call
        var worst = 0.0, worstX: Float = 0
        let n = 320_000
        var lanes = Vec()
        for i in 0..<n {
            let x = Float(-80 + 160 * Double(i) / Double(n - 1))
            lanes[i % 16] = x
            if i % 16 == 15 {
                let y = vexp(lanes)
                for j in 0..<16 {
                    let ref = Foundation.exp(Double(lanes[j]))
                    let rel = abs(Double(y[j]) - ref) / ref
                    if rel > worst { worst = rel; worstX = lanes[j] }
                }
            }
        }
        #expect(worst < 1e-6, "worst relative error \(worst) at x = \(worstX)")
        // the end points and integers (n ln 2 boundaries are exercised by the sweep)
        for x: Float in [-80, -1, 0, 1, 80, 0.5, -0.5, 88] {
            let ref = Foundation.exp(Double(x))
            #expect(abs(Double(fexp(x)) - ref) / ref < 1e-6, "x = \(x)")
        }
        #expect(fexp(0) == 1)
    }

    @Test("vexp gives 0 below -87.4 and +inf above 88; NaN stays NaN")
    func vexpSaturation() {
        for x: Float in [-87.41, -87.5, -88, -100, -1e4, -Float.greatestFiniteMagnitude, -.infinity] {
            #expect(fexp(x) == 0, "exp(\(x)) = \(fexp(x))")
        }
        for x: Float in [88.01, 88.5, 89, 100, 1e4, Float.greatestFiniteMagnitude, .infinity] {
            #expect(fexp(x) == .infinity, "exp(\(x)) = \(fexp(x))")
        }
        #expect(fexp(.nan).isNaN)
        // mixed lanes: saturation is per lane
        var v = Vec(repeating: 1)
        v[3] = -1000; v[7] = 1000; v[11] = .nan
        let y = vexp(v)
        #expect(y[3] == 0 && y[7] == .infinity && y[11].isNaN)
        #expect(abs(Double(y[0]) - M_E) / M_E < 1e-6)
    }

    @Test("vsum, vmax and vdot match Double references for lengths 0...70 and 1000")
    func reductions() {
        for n in Array(0...70) + [1000] {
            let x = randomUniform([max(n, 1)], seed: UInt64(100 + n), low: -1, high: 1).toArray()
            let y = randomUniform([max(n, 1)], seed: UInt64(200 + n), low: -1, high: 1).toArray()
            x.withUnsafeBufferPointer { px in
                y.withUnsafeBufferPointer { py in
                    let refSum = x.prefix(n).reduce(0.0) { $0 + Double($1) }
                    let absSum = x.prefix(n).reduce(0.0) { $0 + abs(Double($1)) }
                    let refDot = zip(x.prefix(n), y.prefix(n)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    // relaxed-order float32 sums: error bounded by ~n eps sum|x|
                    let tol = 1e-6 * max(absSum, 1)
                    #expect(abs(Double(vsum(px.baseAddress!, n)) - refSum) <= tol, "vsum n = \(n)")
                    #expect(abs(Double(vdot(px.baseAddress!, py.baseAddress!, n)) - refDot) <= tol, "vdot n = \(n)")
                    if n > 0 { #expect(vmax(px.baseAddress!, n) == x.prefix(n).max()!, "vmax n = \(n)") }
                }
            }
        }
    }

    @Test("vaxpy adds alpha * x into y for lengths around the SIMD width")
    func axpy() {
        for n in [1, 5, 16, 17, 33] {
            let x = randomNormal([n], seed: UInt64(300 + n)).toArray()
            var y = randomNormal([n], seed: UInt64(400 + n)).toArray()
            let expected = zip(x, y).map { Double($1) + 0.5 * Double($0) }
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in vaxpy(n, 0.5, px.baseAddress!, py.baseAddress!) }
            }
            allClose(y, expected, rtol: 1e-6, atol: 1e-7, "n = \(n)")
        }
    }

    @Test("sumVec2 and accumulateVec2 match Double references, tails included, with an f that is not 0 at 0")
    func twoInputKernels() {
        for n in [1, 7, 16, 17, 40, 64] {
            let x = randomNormal([n], seed: UInt64(500 + n)).toArray()
            let y = randomNormal([n], seed: UInt64(600 + n)).toArray()
            var out = randomNormal([n], seed: UInt64(700 + n)).toArray()
            // f(u, v) = exp(u) * (u - v) + 1: the +1 would leak from padded tail lanes if they counted
            let refSum = zip(x, y).reduce(0.0) { $0 + exp(Double($1.0)) * (Double($1.0) - Double($1.1)) + 1 }
            let refOut = (0..<n).map { Double(out[$0]) + 2 * (Double(x[$0]) - Double(y[$0])) + 1 }
            x.withUnsafeBufferPointer { px in
                y.withUnsafeBufferPointer { py in
                    let s = sumVec2(n, px.baseAddress!, py.baseAddress!) { u, v in vexp(u) * (u - v) + 1 }
                    let scale = zip(x, y).reduce(1.0) { $0 + abs(exp(Double($1.0)) * (Double($1.0) - Double($1.1))) + 1 }
                    #expect(abs(Double(s) - refSum) <= 1e-6 * scale, "sumVec2 n = \(n)")
                    out.withUnsafeMutableBufferPointer { po in
                        accumulateVec2(n, px.baseAddress!, py.baseAddress!, into: po.baseAddress!) { u, v in 2 * (u - v) + 1 }
                    }
                }
            }
            allClose(out, refOut, rtol: 1e-6, atol: 1e-6, "accumulateVec2 n = \(n)")
        }
    }

    @Test("sumVecPair and mapVec2Sum (in place over x) match Double references, tails included, with f not 0 at 0")
    func pairedKernels() {
        for n in [1, 7, 16, 17, 40, 64] {
            let x = randomNormal([n], seed: UInt64(800 + n)).toArray()
            let y = randomNormal([n], seed: UInt64(900 + n)).toArray()
            // the +1 and +2 would leak from padded tail lanes if they counted
            let ref0 = x.reduce(0.0) { $0 + exp(Double($1)) + 1 }, ref1 = x.reduce(0.0) { $0 + Double($1) * Double($1) + 2 }
            let refOut = (0..<n).map { 3 * Double(x[$0]) - Double(y[$0]) + 1 }
            let refSum = (0..<n).reduce(0.0) { $0 + Double(x[$1]) * Double(y[$1]) + 1 }
            var io = x
            let (s0, s1) = x.withUnsafeBufferPointer { px in sumVecPair(n, px.baseAddress!) { u in (vexp(u) + 1, u * u + 2) } }
            let s = io.withUnsafeMutableBufferPointer { pio in
                y.withUnsafeBufferPointer { py in
                    mapVec2Sum(n, pio.baseAddress!, py.baseAddress!, into: pio.baseAddress!) { u, v in (3 * u - v + 1, u * v + 1) }
                }
            }
            #expect(abs(Double(s0) - ref0) <= 1e-6 * ref0 && abs(Double(s1) - ref1) <= 1e-6 * ref1, "sumVecPair n = \(n)")
            let scale = (0..<n).reduce(1.0) { $0 + abs(Double(x[$1]) * Double(y[$1])) + 1 }
            #expect(abs(Double(s) - refSum) <= 1e-6 * scale, "mapVec2Sum sum n = \(n)")
            allClose(io, refOut, rtol: 1e-6, atol: 1e-6, "mapVec2Sum out n = \(n)")
        }
    }

    @Test("laneSum gives the standard library's sum() bit for bit: random lanes of mixed magnitude, all -0, -0 with +0, +-inf")
    func laneSumIsSum() {
        var rng = RandomGenerator(seed: 31)
        var cases: [Vec] = (0..<2000).map { _ in
            var v = Vec()
            for i in 0..<simdWidth { v[i] = rng.nextNormal() * Float(pow(10, Double(rng.nextInt(below: 13) - 6))) }
            return v
        }
        cases.append(Vec(repeating: -0.0))
        var mixed = Vec(repeating: -0.0)
        mixed[7] = 0
        cases.append(mixed)
        var infinite = Vec(repeating: 1)
        infinite[3] = .infinity
        cases.append(infinite)
        infinite[9] = -.infinity
        cases.append(infinite)
        for v in cases { #expect(laneSum(v).bitPattern == v.sum().bitPattern, "\(v)") }
    }

    @Test("laneMax is the largest lane wherever it sits, with -inf, +inf, ties and one lane above the rest")
    func laneMaxEveryLane() {
        let x = randomNormal([4096], seed: 77).toArray()
        for start in stride(from: 0, to: x.count, by: 16) {
            let v = Vec(x[start..<start + 16])
            #expect(laneMax(v) == x[start..<start + 16].max()!, "vector at \(start)")
        }
        for lane in 0..<16 {
            var v = Vec(repeating: -.infinity)
            #expect(laneMax(v) == -.infinity)
            v[lane] = -3.5
            #expect(laneMax(v) == -3.5, "lane \(lane) alone above -inf")
            var w = Vec(repeating: 2)
            w[lane] = 2.000_000_2
            #expect(laneMax(w) == 2.000_000_2, "lane \(lane) one ulp above its ties")
            w[lane] = .infinity
            #expect(laneMax(w) == .infinity, "lane \(lane) +inf")
        }
    }
}
