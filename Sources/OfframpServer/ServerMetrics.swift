import Foundation
import Synchronization

// MARK: - Counters and histograms for GET /metrics (Prometheus text format 0.0.4)

/// A cumulative histogram with fixed upper bounds.
struct Histogram {
    let bounds: [Double]
    var counts: [Int]
    var sum = 0.0, count = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ x: Double) {
        if let i = bounds.firstIndex(where: { x <= $0 }) { counts[i] += 1 }
        sum += x
        count += 1
    }

    /// The `_bucket`, `_sum` and `_count` lines; `labels` is "" or `k="v",`.
    func lines(_ name: String, labels: String) -> [String] {
        var out: [String] = [], cumulative = 0
        for (b, c) in zip(bounds, counts) {
            cumulative += c
            out.append("\(name)_bucket{\(labels)le=\"\(formatNumber(b))\"} \(cumulative)")
        }
        out.append("\(name)_bucket{\(labels)le=\"+Inf\"} \(count)")
        let plain = labels.isEmpty ? "" : "{\(labels.dropLast())}"
        out.append("\(name)_sum\(plain) \(formatNumber(sum))")
        out.append("\(name)_count\(plain) \(count)")
        return out
    }
}

func formatNumber(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
}

/// What the server has done since it started. Thread-safe.
public final class ServerMetrics: Sendable {
    struct EndpointStats {
        var responses: [Int: Int] = [:]  // status -> count
        var latency = Histogram(bounds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
        var texts = 0
    }

    struct State {
        var endpoints: [String: EndpointStats] = [:]
        /// Texts (classification) or words (labeling) that left at each layer.
        var exits: [Int: Int] = [:]
        var exitLayerSum = 0, exitCount = 0
        var flops = 0.0, fullDepthFlops = 0.0
        /// Inputs in the encoder at each layer step, and texts admitted at once.
        var stepInputs = Histogram(bounds: [1, 2, 4, 8, 16, 32, 64, 128, 256])
        var admitted = Histogram(bounds: [1, 2, 4, 8, 16, 32, 64, 128, 256])

        var averageExitLayer: Double { exitCount == 0 ? 0 : Double(exitLayerSum) / Double(exitCount) }
    }

    private let state = Mutex(State())

    public init() {}

    /// One answered request: its endpoint, HTTP status and seconds taken.
    public func recordRequest(endpoint: String, status: Int, seconds: Double) {
        state.withLock {
            $0.endpoints[endpoint, default: EndpointStats()].responses[status, default: 0] += 1
            $0.endpoints[endpoint]!.latency.observe(seconds)
        }
    }

    func recordTexts(endpoint: String, count: Int) {
        state.withLock { $0.endpoints[endpoint, default: EndpointStats()].texts += count }
    }

    /// The exit layers of answered queries (texts, or words for labeling).
    func recordExits(_ layers: [Int]) {
        state.withLock {
            for l in layers { $0.exits[l, default: 0] += 1 }
            $0.exitLayerSum += layers.reduce(0, +)
            $0.exitCount += layers.count
        }
    }

    /// Texts entering the encoder together, and what they would cost at full depth.
    func recordAdmission(_ count: Int, fullDepthFlops: Double) {
        state.withLock {
            $0.admitted.observe(Double(count))
            $0.fullDepthFlops += fullDepthFlops
        }
    }

    /// One layer step over `inputs` inputs that cost `flops`.
    func recordStep(inputs: Int, flops: Double) {
        state.withLock {
            $0.stepInputs.observe(Double(inputs))
            $0.flops += flops
        }
    }

    public var averageExitLayer: Double {
        state.withLock { $0.averageExitLayer }
    }

    /// Requests answered with `status` at `endpoint`.
    public func responses(_ endpoint: String, status: Int) -> Int {
        state.withLock { $0.endpoints[endpoint]?.responses[status] ?? 0 }
    }

    /// The Prometheus exposition text; `queued` is the texts waiting now.
    public func render(queued: Int) -> String {
        let s = state.withLock { $0 }
        var out: [String] = []
        func header(_ name: String, _ type: String, _ help: String) {
            out.append("# HELP \(name) \(help)")
            out.append("# TYPE \(name) \(type)")
        }
        let endpoints = s.endpoints.keys.sorted()
        header("offramp_requests_total", "counter", "Requests answered, by endpoint and HTTP status.")
        for e in endpoints {
            for (status, n) in s.endpoints[e]!.responses.sorted(by: { $0.key < $1.key }) {
                out.append("offramp_requests_total{endpoint=\"\(e)\",status=\"\(status)\"} \(n)")
            }
        }
        header("offramp_request_duration_seconds", "histogram", "Time from request to response, queueing included.")
        for e in endpoints { out += s.endpoints[e]!.latency.lines("offramp_request_duration_seconds", labels: "endpoint=\"\(e)\",") }
        header("offramp_texts_total", "counter", "Texts answered, by endpoint.")
        for e in endpoints { out.append("offramp_texts_total{endpoint=\"\(e)\"} \(s.endpoints[e]!.texts)") }
        header("offramp_exits_total", "counter", "Texts (classification) or words (labeling) answered at each exit layer.")
        for (layer, n) in s.exits.sorted(by: { $0.key < $1.key }) { out.append("offramp_exits_total{layer=\"\(layer)\"} \(n)") }
        header("offramp_average_exit_layer", "gauge", "Mean exit layer over everything answered.")
        out.append("offramp_average_exit_layer \(s.exitCount == 0 ? "0" : String(format: "%.4f", s.averageExitLayer))")
        header("offramp_flops_total", "counter", "FLOPs spent (layers and exits run).")
        out.append("offramp_flops_total \(formatNumber(s.flops))")
        header("offramp_full_depth_flops_total", "counter", "FLOPs the same texts would have taken at full depth.")
        out.append("offramp_full_depth_flops_total \(formatNumber(s.fullDepthFlops))")
        header("offramp_step_inputs", "histogram", "Inputs in the encoder at each layer step (the running batch size).")
        out += s.stepInputs.lines("offramp_step_inputs", labels: "")
        header("offramp_admitted_texts", "histogram", "Texts that entered the encoder together.")
        out += s.admitted.lines("offramp_admitted_texts", labels: "")
        header("offramp_queued_texts", "gauge", "Texts waiting for a place in the encoder.")
        out.append("offramp_queued_texts \(queued)")
        return out.joined(separator: "\n") + "\n"
    }
}
