import Foundation
import Tensor
import Testing
import TestSupport

// The checkers themselves (Tests/TestSupport): they must reject wrong answers, or every passing test
// above would prove nothing.

@Suite("TestSupport")
struct TestSupportTests {
    @Test("closeness rejects values outside atol + rtol * |expected| and names the worst element")
    func closenessRejects() {
        #expect(closeness([1, 2, 3], [1, 2, 3], rtol: 0, atol: 0).ok)
        #expect(closeness([1, 2.001, 3], [1, 2, 3], rtol: 1e-4, atol: 0).ok == false)
        #expect(closeness([1, 2.0001], [1, 2], rtol: 1e-4, atol: 0).ok)
        let c = closeness([0, 0, 0, 0, 9, 0], [0, 0, 0, 0, 0, 0], shape: [2, 3], rtol: 1e-5, atol: 1e-6)
        #expect(!c.ok && c.description.contains("[1, 1]"), "\(c)")
        #expect(!closeness([.nan], [1], rtol: 1, atol: 1).ok)
        #expect(!closeness([.infinity], [1e30], rtol: 1, atol: 1).ok)
        #expect(closeness([-.infinity], [-Double.infinity], rtol: 0, atol: 0).ok)
        #expect(!closeness([1, 2], [1, 2, 3], rtol: 1, atol: 1).ok)
    }

    @Test("the gradient checker rejects a wrong backward and accepts a right one")
    func gradientCheckerRejects() {
        let x = randomNormal([5], seed: 1)
        // forward 2x, but the detached copy hides half of the dependence: backward says 1, the truth is 2
        let wrong = gradientCheck([x]) { v in add(v[0], v[0].detached()) }
        #expect(!wrong.ok && wrong.checked == 5, "\(wrong)")
        let right = gradientCheck([x]) { v in add(v[0], v[0]) }
        #expect(right.ok && right.maxAbsError < 1e-3, "\(right)")
        // nothing recorded at all is a failure, not a pass
        let constant = gradientCheck([x]) { v in v[0].detached() }
        #expect(!constant.ok)
    }
}
