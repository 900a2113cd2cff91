import Dispatch
import Foundation
import Tensor
import Testing

/// `Parallel`'s hand-offs (`WorkerPool`): every part of every job runs exactly once, whoever calls and however often.
@Suite("WorkerPool")
struct WorkerPoolTests {
    /// Runs `jobs` jobs of 2...9 parts through `Parallel.forParts` (over the split threshold); each part adds 1 to its
    /// own slot of the job's row. Returns the rows: all ones when every part ran once.
    static func counts(jobs: Int, pauseMicroseconds: UInt32 = 0, inner: Bool = false) -> [[Int]] {
        var rows: [[Int]] = []
        for j in 0..<jobs {
            let parts = 2 + j % 8
            var row = [Int](repeating: 0, count: parts)
            row.withUnsafeMutableBufferPointer { slots in
                Parallel.forParts(parts, work: Int.max) { p in
                    if inner {
                        // a job from inside a part: the pool is taken, so it goes through concurrentPerform
                        var sub = [Int](repeating: 0, count: 64)
                        sub.withUnsafeMutableBufferPointer { s in Parallel.forRanges(64, work: Int.max) { r in for i in r { s[i] += 1 } } }
                        if sub.allSatisfy({ $0 == 1 }) { slots[p] += 1 }
                    } else {
                        slots[p] += 1
                    }
                }
            }
            rows.append(row)
            if pauseMicroseconds > 0 { usleep(pauseMicroseconds) }
        }
        return rows
    }

    @Test("back-to-back jobs: each part once")
    func backToBack() {
        #expect(Self.counts(jobs: 5_000).allSatisfy { $0.allSatisfy { $0 == 1 } })
    }

    @Test("jobs after the workers fell asleep: each part once, none lost in the wake-up")
    func afterSleeping() {
        // 300 us between jobs is past the 50 us the workers spin before they sleep
        #expect(Self.counts(jobs: 200, pauseMicroseconds: 300).allSatisfy { $0.allSatisfy { $0 == 1 } })
    }

    @Test("four callers at once: each part of each caller's jobs once")
    func concurrentCallers() {
        var ok = [Bool](repeating: false, count: 4)
        ok.withUnsafeMutableBufferPointer { ok in
            DispatchQueue.concurrentPerform(iterations: 4) { c in
                ok[c] = Self.counts(jobs: 1_000, pauseMicroseconds: c == 3 ? 20 : 0).allSatisfy { $0.allSatisfy { $0 == 1 } }
            }
        }
        #expect(ok == [true, true, true, true])
    }

    @Test("a job started from inside a part: both levels run every part once")
    func nested() {
        #expect(Self.counts(jobs: 300, inner: true).allSatisfy { $0.allSatisfy { $0 == 1 } })
    }

    @Test("split and forRanges: every index once, the halves' results in place")
    func splitAndRanges() {
        for n in [2, 3, 17, 1_000] {
            var seen = [Int](repeating: 0, count: n)
            seen.withUnsafeMutableBufferPointer { s in Parallel.forRanges(n, work: Int.max) { r in for i in r { s[i] += 1 } } }
            #expect(seen == [Int](repeating: 1, count: n))
        }
        var halves = [Int](repeating: 0, count: 2)
        halves.withUnsafeMutableBufferPointer { h in Parallel.split(2) { i in h[i] = (i + 1) * 10 } }
        #expect(halves == [10, 20])
    }
}
