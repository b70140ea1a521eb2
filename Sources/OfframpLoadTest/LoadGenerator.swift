import Foundation

// MARK: - Closed-loop load on loopback: N clients, each one request at a time

/// What one load level measured.
public struct LoadResult: Sendable {
    public let clients: Int
    public let seconds: Double
    public let requests: Int
    public let texts: Int
    /// Responses other than 200, and requests that failed outright.
    public let errors: Int
    /// Latency percentiles of the answered (200) requests, in seconds.
    public let p50: Double, p90: Double, p99: Double, max: Double
    /// The first few error descriptions, to say what went wrong.
    public let errorSamples: [String]

    public var requestsPerSecond: Double { Double(requests) / seconds }
    public var textsPerSecond: Double { Double(texts) / seconds }
}

/// `clients` threads, each with its own keep-alive connection, send the
/// `bodies` round robin (each starting at its own offset) to `path` for
/// `duration` seconds, the next request as soon as the last is answered.
/// `textsPerBody` counts texts for the throughput figure.
public func generateLoad(port: Int, path: String, bodies: [Data], textsPerBody: Int, clients: Int,
                         duration: Double, warmup: Double = 1) -> LoadResult {
    precondition(!bodies.isEmpty && clients > 0)
    final class Tally: @unchecked Sendable {
        let lock = NSLock()
        var latencies: [Double] = []
        var requests = 0, errors = 0
        var samples: [String] = []
        func add(_ l: [Double], _ r: Int, _ e: Int, _ s: [String]) {
            lock.lock(); defer { lock.unlock() }
            latencies += l; requests += r; errors += e
            if samples.count < 5 { samples += s.prefix(5 - samples.count) }
        }
    }
    let tally = Tally()
    let start = Date().addingTimeInterval(warmup)
    let end = start.addingTimeInterval(duration)
    let group = DispatchGroup()
    for c in 0..<clients {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            let client = LoopbackHTTPClient(port: port)
            var latencies: [Double] = [], requests = 0, errors = 0, samples: [String] = []
            var i = (c * 7919) % bodies.count
            let clock = ContinuousClock()
            while Date() < end {
                let counted = Date() >= start  // warm-up requests are not counted
                let t0 = clock.now
                var failed: String?
                do {
                    let r = try client.request("POST", path, body: bodies[i])
                    if r.status != 200 { failed = "HTTP \(r.status): \(r.text.prefix(200))" }
                } catch {
                    failed = "\(error)"
                }
                let elapsed = t0.duration(to: clock.now)
                i = (i + 1) % bodies.count
                if let failed {
                    if counted { errors += 1; if samples.count < 5 { samples.append(failed) } }
                    Thread.sleep(forTimeInterval: 0.01)  // no busy loop against a server that is down
                    continue
                }
                guard counted else { continue }
                requests += 1
                latencies.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            }
            tally.add(latencies, requests, errors, samples)
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    let sorted = tally.latencies.sorted()
    func percentile(_ p: Double) -> Double {  // nearest rank
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
    return LoadResult(clients: clients, seconds: duration, requests: tally.requests, texts: tally.requests * textsPerBody,
                      errors: tally.errors, p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99),
                      max: sorted.last ?? 0, errorSamples: tally.samples)
}
