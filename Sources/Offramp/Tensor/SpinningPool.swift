import Foundation
import Synchronization

// MARK: - Worker threads that spin briefly before sleeping

/// The threads behind `parallelFor`. Dispatch parks its workers between
/// calls, and waking one costs tens of microseconds: at batch 1 a forward
/// pass makes dozens of parallel calls of a few microseconds each. These
/// workers spin (yielding the core) for a while after each job, so the next
/// job starts at once, and park on a condition when none comes.
///
/// One job at a time (callers are the encoder's kernels, one thread at a
/// time per encoder): the caller publishes a job by bumping `generation`,
/// takes iterations itself, and waits until every worker has finished that
/// generation, so no worker ever runs iterations of a stale job.
final class SpinningPool: @unchecked Sendable {
    static let shared = SpinningPool(workers: Threads.count - 1)

    private let workers: Int
    private let generation = Atomic<Int>(0)
    /// Jobs finished, summed over workers: every worker finishes every
    /// generation once, so generation g is done at g × workers.
    private let completed = Atomic<Int>(0)
    private let nextIteration = Atomic<Int>(0)
    private let parked = Atomic<Int>(0)
    private let condition = NSCondition()
    private let busy = Mutex<Bool>(false)
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    nonisolated(unsafe) private var iterations = 0

    /// About 100 µs of spinning before a worker parks.
    private static let spinsBeforeParking = 20_000

    private init(workers: Int) {
        self.workers = max(0, workers)
        for _ in 0..<self.workers {
            let thread = Thread { [unowned self] in self.work() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs body(i) for i in 0..<count on the caller and the workers. Returns
    /// false (running nothing) when another job holds the pool: the caller
    /// then falls back to Dispatch.
    func run(_ count: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard workers > 0, busy.withLock({ held in
            if held { return false }
            held = true
            return true
        }) else { return false }
        defer { busy.withLock { $0 = false } }
        job = body
        iterations = count
        nextIteration.store(0, ordering: .relaxed)
        let g = generation.add(1, ordering: .sequentiallyConsistent).newValue
        if parked.load(ordering: .sequentiallyConsistent) > 0 {
            condition.lock(); condition.broadcast(); condition.unlock()
        }
        claim(body, count)
        var spins = 0
        while completed.load(ordering: .acquiring) != g * workers {
            spins += 1
            if spins > 64 { sched_yield() }
        }
        job = nil
        return true
    }

    private func claim(_ body: (Int) -> Void, _ count: Int) {
        while true {
            let i = nextIteration.add(1, ordering: .relaxed).oldValue
            if i >= count { return }
            body(i)
        }
    }

    private func work() {
        var seen = 0
        while true {
            var spins = 0
            var g = generation.load(ordering: .acquiring)
            while g == seen {
                spins += 1
                if spins > Self.spinsBeforeParking {
                    condition.lock()
                    parked.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
                    parked.subtract(1, ordering: .sequentiallyConsistent)
                    condition.unlock()
                    spins = 0
                } else if spins > 64 {
                    sched_yield()
                }
                g = generation.load(ordering: .acquiring)
            }
            if let body = job { claim(body, iterations) }
            completed.add(1, ordering: .releasing)
            seen = g
        }
    }
}
