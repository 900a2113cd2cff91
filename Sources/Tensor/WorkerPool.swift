import CPrefetch
import Dispatch
import Foundation
import Synchronization

/// The threads `Parallel` hands parts of a piece of work to. A worker stays awake for a moment
/// after each piece (`spinWindow`), so that the next one, usually a few microseconds later, starts at once; then it
/// sleeps until a caller wakes it.
///
/// It replaces `DispatchQueue.concurrentPerform`, whose workers on these 2-vCPU virtual machines fall asleep between
/// calls and take tens of microseconds to wake: two halves of 37 us each took 85-90 us through it and 38 us through
/// this pool (AMD EPYC, 2026-12-06). A SmolLM2-135M decoding step makes 211 split products of 0.1-0.3 ms each, so the
/// hand-offs were a sixth to a third of the step (README, "Generation").
///
/// Parts are claimed in order from one counter, by the workers and by the caller, so each part runs exactly once
/// and a job never waits for a worker that has not woken: the caller runs the parts nobody took. Which thread runs a
/// part never changes what it computes (`Parallel`'s rule for every body). A second job while one runs (from another
/// thread, or from inside a part) goes through `concurrentPerform` instead, so nested or concurrent use never waits
/// for the pool.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long a worker looks for the next job before it sleeps: long enough to bridge the gaps between a decoding
    /// step's products, short enough not to hold a core other processes want (ranks sharing a host). On the AMD EPYC
    /// machine, 16-row products over SmolLM2-135M's weights (`distill bench --lm-phase products`) took 43-48 ms a step
    /// with 50 us, 42-70 ms with 20 us and 42-67 ms with none, against 76-86 ms through `concurrentPerform`.
    static let spinWindow: UInt64 = 50_000  // nanoseconds
    /// Most parts one job takes (the ticket's 16-bit fields); more go through `concurrentPerform`.
    static let maximumParts = 0xFFFF

    /// The job being run: (job << 32) | (parts << 16) | next unclaimed part.
    private let ticket = Atomic<UInt64>(0)
    /// Parts of the current job finished.
    private let finished = Atomic<Int>(0)
    /// Whether a caller owns the pool (its job runs or is being set up).
    private let inUse = Atomic<Bool>(false)
    /// The current job's body: written only by the owning caller before it publishes the job, read by a thread only
    /// after it claimed one of the job's parts (the caller waits for that part before it clears or replaces it).
    private nonisolated(unsafe) var body: ((Int) -> Void)?
    private nonisolated(unsafe) var job: UInt64 = 0
    private nonisolated(unsafe) var workers: [Worker] = []

    /// A worker thread's sleep state.
    final class Worker: @unchecked Sendable {
        let sleeping = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
    }

    /// Runs `body(0)`, ..., `body(parts - 1)` on the caller and up to `threads - 1` workers; returns when all are done.
    func run(_ parts: Int, threads: Int, _ body: (Int) -> Void) {
        guard parts >= 2, parts <= Self.maximumParts, threads >= 2,
              inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            withoutActuallyEscaping(body) { body in DispatchQueue.concurrentPerform(iterations: parts) { body($0) } }
            return
        }
        defer { inUse.store(false, ordering: .releasing) }
        while workers.count < threads - 1 { start() }
        withoutActuallyEscaping(body) { body in
            self.body = body
            job &+= 1
            let id = job & 0xFFFF_FFFF
            finished.store(0, ordering: .relaxed)
            ticket.store(id << 32 | UInt64(parts) << 16, ordering: .sequentiallyConsistent)
            for w in workers where w.sleeping.compareExchange(expected: true, desired: false, ordering: .sequentiallyConsistent).exchanged {
                w.wake.signal()
            }
            drain(job: id)
            var spins = 0
            while finished.load(ordering: .acquiring) < parts {
                tracedistill_pause()
                spins += 1
                if spins & 1023 == 0 { sched_yield() }  // a worker descheduled by other processes gets the core back
            }
            self.body = nil
        }
    }

    /// Claims and runs parts of job `id` until none is left (or another job has replaced it).
    private func drain(job id: UInt64) {
        var t = ticket.load(ordering: .acquiring)
        while t >> 32 == id, t & 0xFFFF < (t >> 16) & 0xFFFF {
            let (exchanged, now) = ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing)
            guard exchanged else { t = now; continue }
            body!(Int(t & 0xFFFF))
            finished.add(1, ordering: .releasing)
            t = ticket.load(ordering: .acquiring)
        }
    }

    private func start() {
        let w = Worker()
        workers.append(w)
        let thread = Thread { [self] in loop(w) }
        thread.name = "tracedistill-worker"
        thread.start()
    }

    /// A worker: runs each new job's parts, looks for the next job for `spinWindow`, then sleeps until a caller wakes it.
    private func loop(_ w: Worker) {
        var seen = ticket.load(ordering: .acquiring) >> 32
        while true {
            var since = DispatchTime.now().uptimeNanoseconds, spins = 0
            while ticket.load(ordering: .acquiring) >> 32 == seen {
                tracedistill_pause()
                spins += 1
                guard spins & 63 == 0 else { continue }
                guard DispatchTime.now().uptimeNanoseconds - since > Self.spinWindow else { continue }
                w.sleeping.store(true, ordering: .sequentiallyConsistent)
                if ticket.load(ordering: .sequentiallyConsistent) >> 32 == seen { w.wake.wait() }
                w.sleeping.store(false, ordering: .sequentiallyConsistent)
                since = DispatchTime.now().uptimeNanoseconds
            }
            seen = ticket.load(ordering: .acquiring) >> 32
            drain(job: seen)
        }
    }
}
