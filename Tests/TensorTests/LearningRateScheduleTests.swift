import Foundation
import Tensor
import Testing
import TestSupport

// LearningRateSchedule (Sources/Tensor/LearningRateSchedule.swift) at chosen steps, against its
// documented formulas: warmup rises from rate/W at step 0 to rate at step W-1; cosine anneals from rate
// at step W to floor at totalSteps and stays at floor after.

@Suite("LearningRateSchedule")
struct LearningRateScheduleTests {
    @Test("constant: the same rate at every step")
    func constant() {
        let s = LearningRateSchedule.constant(rate: 3e-4)
        for step in [0, 1, 99, 1_000_000] { #expect(s.rate(at: step) == 3e-4) }
    }

    @Test("linearWarmup: rate/W at step 0, half-way mid-warmup, rate at the end of warmup and after")
    func linearWarmup() {
        let s = LearningRateSchedule.linearWarmup(rate: 1e-3, warmupSteps: 10)
        allClose(s.rate(at: 0), 1e-4, rtol: 1e-6)
        allClose(s.rate(at: 4), 5e-4, rtol: 1e-6)   // (4 + 1) / 10
        allClose(s.rate(at: 9), 1e-3, rtol: 1e-6)   // end of warmup
        #expect(s.rate(at: 10) == 1e-3)
        #expect(s.rate(at: 5000) == 1e-3)
        // strictly increasing during warmup
        let rates = (0..<10).map { s.rate(at: $0) }
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test("cosine: warmup, rate at its end, (rate + floor)/2 mid-way, floor at and past totalSteps")
    func cosine() {
        let rate: Float = 1e-3, floor: Float = 1e-4
        let s = LearningRateSchedule.cosine(rate: rate, warmupSteps: 10, totalSteps: 110, floor: floor)
        allClose(s.rate(at: 0), 1e-4, rtol: 1e-6)                 // rate / 10
        allClose(s.rate(at: 4), 5e-4, rtol: 1e-6)                 // mid-warmup
        allClose(s.rate(at: 9), 1e-3, rtol: 1e-6)                 // end of warmup
        allClose(s.rate(at: 10), 1e-3, rtol: 1e-6)                // cosine starts at rate
        allClose(s.rate(at: 60), (1e-3 + 1e-4) / 2, rtol: 1e-6)   // half-way through the 100 cosine steps
        // a quarter of the way: floor + (rate - floor) (1 + cos(pi/4)) / 2
        allClose(s.rate(at: 35), 1e-4 + 9e-4 * (1 + Foundation.cos(Double.pi / 4)) / 2, rtol: 1e-5)
        #expect(s.rate(at: 110) == floor)
        #expect(s.rate(at: 10_000) == floor)
        // non-increasing after warmup
        let rates = (10...110).map { s.rate(at: $0) }
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 >= $1 })
    }

    @Test("schedules round-trip through Codable")
    func codable() throws {
        let all: [LearningRateSchedule] = [.constant(rate: 0.1), .linearWarmup(rate: 0.2, warmupSteps: 3),
                                           .cosine(rate: 0.3, warmupSteps: 4, totalSteps: 50, floor: 0.01)]
        let data = try JSONEncoder().encode(all)
        #expect(try JSONDecoder().decode([LearningRateSchedule].self, from: data) == all)
    }
}
