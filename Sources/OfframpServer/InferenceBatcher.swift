import Foundation
import Offramp

// MARK: - Dynamic, continuous batching across requests

/// Runs the texts of all requests through one `ExitStream` on a thread of
/// its own (the encoder's kernels block; they must not sit on the async
/// executor's threads).
///
/// Requests' texts wait in one queue. When the encoder is idle the thread
/// waits up to `maxBatchWait` for a full batch, then starts with what it
/// has; while inputs are in the encoder, waiting texts join as soon as a
/// quarter of the slots are free (or all of them fit), so easy texts leave
/// after a layer or two and the texts behind them take their places
/// (continuous batching across depth). A request resumes when its last text
/// leaves. Every input's result equals running it alone.
public final class InferenceBatcher: @unchecked Sendable {
    public let runner: EarlyExitRunner
    let limits: ServerLimits
    let metrics: ServerMetrics

    /// One request's texts in flight.
    private struct Job {
        var results: [ExitResult?]
        var remaining: Int
        /// Texts still in the queue (not yet in the encoder).
        var queued: Int
        var continuation: CheckedContinuation<[ExitResult], any Error>?
    }

    private struct Waiting {
        let job: Int, index: Int
        let example: EncodedExample
        let policy: ExitPolicy
    }

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [Int: Job] = [:]
    private var queue: [Waiting] = []
    /// Texts accepted and not yet in the encoder (reserved before they are queued).
    private var queuedTexts = 0
    /// Which job and text an input in the stream belongs to.
    private var owners: [Int: (job: Int, index: Int)] = [:]
    private var nextJob = 0, nextTag = 0
    private var stopping = false
    private var paused = false
    private let stopped = DispatchSemaphore(value: 0)
    private var started = false

    public init(runner: EarlyExitRunner, limits: ServerLimits, metrics: ServerMetrics) {
        self.runner = runner
        self.limits = limits
        self.metrics = metrics
    }

    /// Starts the batching thread (once).
    public func start() throws {
        let stream = try ExitStream(runner: runner, batchSize: limits.batchSize)
        condition.lock(); defer { condition.unlock() }
        guard !started else { return }
        started = true
        nonisolated(unsafe) let owned = stream  // handed over to the thread, used by it alone
        let thread = Thread { [self] in loop(owned) }
        thread.name = "offramp-batcher"
        thread.start()
    }

    /// Takes no new work, lets everything queued or in flight finish, and
    /// stops the thread.
    public func shutdown() {
        condition.lock()
        let wasStarted = started && !stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if wasStarted { stopped.wait() }
    }

    /// Runs `examples` (checked by `runner.check`) under `policy` (checked by
    /// `runner.validate`); returns their results in order. Cancelling the
    /// task takes its texts out of the queue (texts already in the encoder
    /// finish, and their results are dropped).
    public func submit(_ examples: [EncodedExample], policy: ExitPolicy) async throws -> [ExitResult] {
        guard !examples.isEmpty else { return [] }
        let id = try reserve(examples.count)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[ExitResult], any Error>) in
                condition.lock()
                guard jobs[id] != nil else {  // cancelled before it was queued
                    condition.unlock()
                    continuation.resume(throwing: CancellationError())
                    return
                }
                jobs[id]!.continuation = continuation
                for (i, e) in examples.enumerated() { queue.append(Waiting(job: id, index: i, example: e, policy: policy)) }
                condition.signal()
                condition.unlock()
            }
        } onCancel: {
            cancel(id)
        }
    }

    /// Holds the encoder still (nothing admitted, no layer run) until
    /// `resumeForTesting`: lets tests fill the queue, hit the timeout or
    /// shut down with requests in flight, deterministically.
    @_spi(Testing) public func pauseForTesting() {
        condition.lock(); paused = true; condition.unlock()
    }

    @_spi(Testing) public func resumeForTesting() {
        condition.lock(); paused = false; condition.broadcast(); condition.unlock()
    }

    /// Texts waiting for the encoder.
    public var queuedCount: Int {
        condition.lock(); defer { condition.unlock() }
        return queuedTexts
    }

    private func reserve(_ count: Int) throws -> Int {
        condition.lock(); defer { condition.unlock() }
        if stopping { throw ServerError.shuttingDown }
        if queuedTexts + count > limits.maxQueuedTexts { throw ServerError.overloaded }
        let id = nextJob
        nextJob += 1
        jobs[id] = Job(results: Array(repeating: nil, count: count), remaining: count, queued: count)
        queuedTexts += count
        return id
    }

    private func cancel(_ id: Int) {
        condition.lock()
        let job = jobs.removeValue(forKey: id)
        if let job {
            queuedTexts -= job.queued
            queue.removeAll { $0.job == id }
        }
        condition.unlock()
        job?.continuation?.resume(throwing: CancellationError())
    }

    // MARK: The batching thread

    private func loop(_ stream: ExitStream) {
        while true {
            condition.lock()
            while ((queue.isEmpty && stream.inFlight == 0) || paused) && !stopping { condition.wait() }
            if queue.isEmpty && stream.inFlight == 0 {  // stopping, and nothing left
                condition.unlock()
                break
            }
            if stream.inFlight == 0 && queue.count < limits.batchSize && limits.maxBatchWait > 0 && !stopping {
                let deadline = Date(timeIntervalSinceNow: limits.maxBatchWait)
                while queue.count < limits.batchSize && !stopping && condition.wait(until: deadline) {}
            }
            let admitted = takeAdmissible(into: stream)
            condition.unlock()

            stream.admit(admitted)
            if !admitted.isEmpty {
                metrics.recordAdmission(admitted.count, fullDepthFlops: admitted.reduce(0) { $0 + runner.fullDepthFlops($1.example) })
            }
            let inFlight = stream.inFlight, spent = stream.flops
            let finished = stream.step()
            metrics.recordStep(inputs: inFlight, flops: stream.flops - spent)
            complete(finished)
        }
        stopped.signal()
    }

    /// The queue's head, up to the stream's free slots, when the stream's
    /// admission rule says it is time (caller holds the lock).
    private func takeAdmissible(into stream: ExitStream) -> [ExitStream.Item] {
        guard stream.shouldAdmit(waiting: queue.count) else { return [] }
        let taken = queue.prefix(stream.freeSlots)
        queue.removeFirst(taken.count)
        return taken.map { w in
            jobs[w.job]!.queued -= 1
            queuedTexts -= 1
            let tag = nextTag
            nextTag += 1
            owners[tag] = (w.job, w.index)
            return ExitStream.Item(tag: tag, example: w.example, policy: w.policy)
        }
    }

    /// Files the finished inputs under their requests and resumes the
    /// requests that are complete.
    private func complete(_ finished: [(tag: Int, result: ExitResult)]) {
        guard !finished.isEmpty else { return }
        var done: [(CheckedContinuation<[ExitResult], any Error>, [ExitResult])] = []
        condition.lock()
        for (tag, result) in finished {
            guard let (id, index) = owners.removeValue(forKey: tag), var job = jobs[id] else { continue }  // cancelled
            job.results[index] = result
            job.remaining -= 1
            if job.remaining == 0 {
                jobs[id] = nil
                if let c = job.continuation { done.append((c, job.results.map { $0! })) }
            } else {
                jobs[id] = job
            }
        }
        condition.unlock()
        for (continuation, results) in done { continuation.resume(returning: results) }
    }
}
