import Stages
import Testing

// The stage life cycle is a pure function: every allowed (state, event) pair is listed here by hand from the
// design (pending -> running -> evaluating -> completed, failed with a reason) and every other pair must be
// rejected with an InvalidTransition.

@Suite("stage state machine")
struct StageStateTests {
    static let states: [StageState] = [.pending, .running, .evaluating, .completed, .failed(reason: "x")]
    static let events: [StageEvent] = [.start, .stepDone, .evalDue, .evalDone, .budgetExhausted, .earlyStop, .error(reason: "boom")]

    /// The allowed transitions, written out independently of the implementation.
    static func expected(_ s: StageState, _ e: StageEvent) -> StageState? {
        switch (s.name, e) {
        case ("pending", .start): return .running
        case ("running", .stepDone): return .running
        case ("running", .evalDue): return .evaluating
        case ("running", .budgetExhausted): return .completed
        case ("evaluating", .evalDone): return .running
        case ("evaluating", .budgetExhausted): return .completed
        case ("evaluating", .earlyStop): return .completed
        case ("pending", .error), ("running", .error), ("evaluating", .error): return .failed(reason: "boom")
        default: return nil
        }
    }

    @Test("every (state, event) pair: allowed ones move as designed, all others throw InvalidTransition")
    func fullTable() {
        var allowed = 0
        for s in Self.states {
            for e in Self.events {
                if let want = Self.expected(s, e) {
                    allowed += 1
                    #expect((try? transition(s, e)) == want, "\(s) + \(e)")
                } else {
                    #expect(throws: InvalidTransition(state: s, event: e), "\(s) + \(e) must be rejected") { try transition(s, e) }
                }
            }
        }
        #expect(allowed == 10)
    }

    @Test("a failed stage keeps its reason; final states take no event")
    func failureReason() throws {
        let failed = try transition(.running, .error(reason: "loss is nan"))
        #expect(failed == .failed(reason: "loss is nan"))
        #expect(failed.isFinal && StageState.completed.isFinal && !StageState.running.isFinal)
        #expect(throws: InvalidTransition.self) { try transition(failed, .error(reason: "again")) }
        #expect(StageState(name: "failed", reason: "r") == .failed(reason: "r"))
        #expect(StageState(name: "evaluating") == .evaluating && StageState(name: "bogus") == nil)
    }

    @Test("a whole life: start, steps, an evaluation, more steps, final evaluation, completed")
    func life() throws {
        var s = StageState.pending
        for e in [StageEvent.start, .stepDone, .evalDue, .evalDone, .stepDone, .evalDue, .budgetExhausted] {
            s = try transition(s, e)
        }
        #expect(s == .completed)
    }
}
