import ArgumentParser
import Foundation
import Offramp
import OfframpLoadTest

// MARK: - offramp loadtest

struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Load a running `offramp serve` on loopback: throughput and latency at several client counts.",
        discussion: """
            Each client keeps one connection and sends the next request as soon as the last is answered \
            (closed loop). Texts come from --data (a classification .tsv/.csv/.jsonl/.txt file, or a labeling \
            .conll / word/TAG file for /v1/label), --texts-per-request at a time. Each policy in --policies is \
            measured at each client count; "default" sends no policy (the model's calibrated one).
            """)

    @Option(help: "Server port on 127.0.0.1.") var port = 8080
    @Option(help: "Endpoint: /v1/classify or /v1/label.") var path = "/v1/classify"
    @Option(help: "Texts to send.") var data: String
    @Option(help: "Texts per request.") var textsPerRequest = 1
    @Option(help: "Client counts, comma-separated.") var clients = "1,8,64"
    @Option(help: "Seconds per measurement (after 1 s of warm-up).") var duration = 10.0
    @Option(help: "Policies as JSON fragments separated by ';', e.g. 'default;\"policy\":\"full\";\"policy\":\"entropy\",\"threshold\":0.4'.")
    var policies = "default;\"policy\":\"full\""
    @Flag(help: "JSON lines instead of a table.") var json = false

    func validate() throws {
        try requireCount(textsPerRequest, "--texts-per-request", in: 1...4096)
        try requireNumber(duration, "--duration", "in (0, 3600] seconds") { $0 > 0 && $0 <= 3600 }
        try requireCount(port, "--port", in: 1...65535)
        try require(["/v1/classify", "/v1/label"].contains(path), "--path must be /v1/classify or /v1/label, got \(path)")
        _ = try counts
    }

    /// --clients, each checked.
    var counts: [Int] { get throws { try parseList(clients, option: "--clients", valid: { (1...4096).contains($0) }, range: "a client count in 1...4096") } }

    func run() throws {
        let url = URL(fileURLWithPath: data)
        let texts: [String]
        if path == "/v1/label" {
            texts = try TokenLabelData.load(url).map { $0.words.joined(separator: " ") }
        } else {
            texts = try ClassificationData.load(url, requireLabels: false).map(\.text)
        }
        guard !texts.isEmpty else { throw OfframpError("\(data): no texts") }
        let counts = try self.counts
        if !json {
            print("| policy | clients | requests/s | texts/s | p50 ms | p90 ms | p99 ms | max ms | mean exit layer | errors |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        }
        for fragment in policies.split(separator: ";").map(String.init) {
            let extra = fragment == "default" ? "" : "," + fragment
            var bodies: [Data] = []
            var i = 0
            while bodies.count < max(1, texts.count / textsPerRequest) {
                let chunk = (0..<textsPerRequest).map { texts[(i + $0) % texts.count] }
                i += textsPerRequest
                bodies.append(Data("{\"texts\":[\(chunk.map(jsonString).joined(separator: ","))]\(extra)}".utf8))
            }
            for n in counts {
                let exitsBefore = exitLayerCounts()
                let r = generateLoad(port: port, path: path, bodies: bodies, textsPerBody: textsPerRequest, clients: n, duration: duration)
                let name = fragment == "default" ? "default" : fragment.replacingOccurrences(of: "\"", with: "")
                // The server counts exits per layer: the difference is this level's.
                let exits = exitLayerCounts().map { layer, n in (layer, n - (exitsBefore[layer] ?? 0)) }
                let answered = exits.reduce(0) { $0 + $1.1 }
                let meanExit = answered == 0 ? 0 : Double(exits.reduce(0) { $0 + $1.0 * $1.1 }) / Double(answered)
                if json {
                    print(String(format: "{\"policy\":%@,\"clients\":%d,\"requests_per_s\":%.1f,\"texts_per_s\":%.1f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"mean_exit_layer\":%.3f,\"requests\":%d,\"errors\":%d}",
                                 jsonString(name), n, r.requestsPerSecond, r.textsPerSecond,
                                 r.p50 * 1000, r.p90 * 1000, r.p99 * 1000, r.max * 1000, meanExit, r.requests, r.errors))
                } else {
                    print(String(format: "| %@ | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %d |", name, n, r.requestsPerSecond, r.textsPerSecond,
                                 r.p50 * 1000, r.p90 * 1000, r.p99 * 1000, r.max * 1000, meanExit, r.errors))
                }
                for s in r.errorSamples { printError("loadtest: error: \(s)") }
            }
        }
    }

    /// The server's offramp_exits_total by layer (empty if /metrics cannot be read).
    func exitLayerCounts() -> [Int: Int] {
        guard let r = try? LoopbackHTTPClient(port: port).request("GET", "/metrics"), r.status == 200 else { return [:] }
        var counts: [Int: Int] = [:]
        for line in r.text.split(separator: "\n") where line.hasPrefix("offramp_exits_total{layer=\"") {
            let parts = line.dropFirst("offramp_exits_total{layer=\"".count).split(separator: "\"")
            if parts.count == 2, let layer = Int(parts[0]), let n = Int(parts[1].dropFirst(2)) { counts[layer] = n }
        }
        return counts
    }
}
