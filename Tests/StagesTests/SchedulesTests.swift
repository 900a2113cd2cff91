import Checkpoint
import Data
import Model
import PPO
import Stages
import Tensor
import Foundation
import Testing

// Schedules and data plumbing of the training stages, checked against values worked out by hand.

@Suite("temperature schedules, data cursor, trace batches")
struct SchedulesTests {
    @Test("step schedule: 1.5x base before 5, base before 15, 0.8x after")
    func stepSchedule() {
        let s = TemperatureSchedule.step(base: 2)
        #expect(s.temperature(at: 0) == 3 && s.temperature(at: 4) == 3)
        #expect(s.temperature(at: 5) == 2 && s.temperature(at: 14) == 2)
        #expect(s.temperature(at: 15) == 1.6 && s.temperature(at: 100) == 1.6)
    }

    @Test("linear decay: start 5, minus 0.5 every 10 intervals, floor")
    func linearDecay() throws {
        let s = TemperatureSchedule.linearDecay(start: 5, decrement: 0.5, interval: 10, floor: 2)
        #expect(s.temperature(at: 0) == 5 && s.temperature(at: 9) == 5)
        #expect(s.temperature(at: 10) == 4.5 && s.temperature(at: 29) == 4)
        #expect(s.temperature(at: 60) == 2 && s.temperature(at: 1000) == 2)
        #expect(throws: TemperatureScheduleError.self) { try TemperatureSchedule.linearDecay(start: 1, decrement: 0.5, interval: 10, floor: 2).validate() }
        #expect(throws: TemperatureScheduleError.self) { try TemperatureSchedule.constant(temperature: 0).validate() }
    }

    @Test("data cursor: every row once per epoch, a new order each epoch, the same draws after restoring a position")
    func cursor() {
        var c = DataCursor(count: 10, seed: 3)
        let first = c.next(7) + c.next(3)
        #expect(Set(first) == Set(0..<10))
        #expect(c.position == DataPosition(epoch: 1, index: 0))
        let straddle = c.next(4) + c.next(8)  // crosses into epoch 2
        #expect(c.position == DataPosition(epoch: 2, index: 2))
        #expect(Array(straddle.prefix(10)).sorted() == Array(0..<10))
        #expect(Array(straddle.prefix(10)) != first, "epochs are reshuffled")
        var resumed = DataCursor(count: 10, seed: 3, position: DataPosition(epoch: 1, index: 4))
        #expect(resumed.next(8) == Array(straddle[4...]))
    }

    @Test("trace batch: targets only on completion positions, padding and prompt ignored")
    func batch() throws {
        let t = Tokenizer.math
        let record = TraceRecord(question: "1+1", steps: ["1 + 1 = 2"], answer: "2")
        let trace = try TokenizedTrace(record, tokenizer: t)
        // <bos> "1+1" "\n" = 5 prompt ids; completion "1 + 1 = 2\nanswer: 2" (19 chars) + <eos>
        #expect(trace.promptLength == 5)
        #expect(trace.tokens.count == 5 + 19 + 1)
        let short = try TokenizedTrace(TraceRecord(question: "2", steps: [], answer: "2"), tokenizer: t)
        let b = TraceBatch([trace, short])
        #expect(b.batch == 2 && b.length == 25)
        // row 0: positions 4...23 predict the 20 completion ids (the last prompt position predicts the first one)
        #expect(b.targets[0..<4].allSatisfy { $0 == TraceBatch.ignoreIndex })
        #expect(Array(b.targets[4..<24]) == Array(trace.tokens[5..<25]))
        #expect(b.targets[24] == TraceBatch.ignoreIndex)
        // row 1: <bos> "2" "\n" then "answer: 2" <eos>: 10 targets, then padding
        #expect(b.targets[25 + 2] == short.tokens[3] && b.targets[25 + 11] == Tokenizer.eos)
        #expect(b.targets[(25 + 12)...].allSatisfy { $0 == TraceBatch.ignoreIndex })
        #expect(b.tokens[(25 + 13)...].allSatisfy { $0 == Tokenizer.pad })
        #expect(b.targetCount == 20 + 10)
    }

    @Test("early stopping: improvement resets the count, patience evaluations without one stop, state round-trips")
    func earlyStopping() {
        var e = EarlyStopping(patience: 2)
        #expect(e.update(1.0, step: 10) == (true, false))
        #expect(e.update(1.2, step: 20) == (false, false))
        #expect(e.update(0.9, step: 30) == (true, false))
        #expect(e.update(0.95, step: 40) == (false, false))
        #expect(e.update(0.91, step: 50) == (false, true))
        var r = EarlyStopping(patience: 2)
        r.restore(e.state)
        #expect(r == e && r.bestStep == 30)
    }

    @Test("rejection sampling: right answer and verified steps are kept with per-step confidence; others are not")
    func sampledTrace() {
        let q = TraceRecord(id: "add-1", domain: "addition", question: "Compute 12 + 5.", steps: [], answer: "17")
        let good = "2 + 5 = 7, write 7\n12 + 5 = 17\nanswer: 17"
        // log-probs: ln(0.5) on the first line's 18 characters, ln(1) elsewhere
        var lp = [Float](repeating: 0, count: good.count + 1)
        for i in 0..<18 { lp[i] = Float(Foundation.log(0.5)) }
        let kept = SampledTrace(text: good, logProbs: lp, question: q)
        #expect(kept.correct && kept.verified)
        #expect(kept.record?.steps == ["2 + 5 = 7, write 7", "12 + 5 = 17"])
        let conf = kept.record?.stepConfidence ?? []
        #expect(conf.count == 2 && abs(conf[0] - 0.5) < 1e-6 && abs(conf[1] - 1) < 1e-6)
        #expect(kept.record?.source == "teacher")

        let wrongStep = SampledTrace(text: "2 + 5 = 8, write 8\n12 + 5 = 17\nanswer: 17", logProbs: lp, question: q)
        #expect(wrongStep.correct && !wrongStep.verified && wrongStep.record == nil)
        let wrongAnswer = SampledTrace(text: "12 + 5 = 17\nanswer: 18", logProbs: lp, question: q)
        #expect(!wrongAnswer.correct && wrongAnswer.record == nil)
        let noAnswer = SampledTrace(text: "12 + 5 = 17", logProbs: lp, question: q)
        #expect(!noAnswer.correct && noAnswer.record == nil)
    }
}
