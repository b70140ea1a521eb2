import ArgumentParser
import Foundation
import Offramp
import OfframpServer

// MARK: - offramp serve

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a multi-exit model over HTTP with early exit and continuous batching.",
        discussion: """
            POST /v1/classify (classification models) or /v1/label (labeling models) with \
            {"texts": [...], "policy": "entropy", "threshold": 0.3, "truncate": true}; policy fields are optional \
            (default: the model's calibrated policy). GET /health, GET /metrics (Prometheus). \
            Concurrent requests share the encoder: texts join the running batch as others exit. \
            SIGINT / SIGTERM drain the requests in flight, then stop.
            """)

    @OptionGroup var checkpoint: ModelOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port).") var port = 8080
    @Option(help: "Most texts in the encoder at once.") var batchSize = 32
    @Option(help: "Milliseconds an idle encoder waits to fill a batch.") var maxBatchWaitMs = 2.0
    @Option(help: "Largest request body in bytes.") var maxBodyBytes = 1 << 20
    @Option(help: "Most texts per request.") var maxTexts = 256
    @Option(help: "Tokens per text (default: the model's maximum length); longer texts are cut or refused.") var maxTokens: Int?
    @Option(help: "Seconds a request may take, queueing included.") var timeout = 10.0
    @Option(help: "Texts waiting before new requests get 503.") var maxQueuedTexts = 4096
    @Option(help: "Seconds a connection may sit idle (or stall mid-request) before it is closed.") var idleTimeout = 30.0
    @Option(help: "Seconds between SIGTERM and closing the listener (/health says draining; requests still served).") var drainGrace = 0.0
    @Option(help: "Words per text for /v1/label.") var maxWords = 1024

    func validate() throws {
        try requireCount(port, "--port", in: 0...65535)
        try requireNumber(maxBatchWaitMs, "--max-batch-wait-ms", "in [0, 1000)") { $0 >= 0 && $0 < 1000 }
        do { try limits.validate() } catch let e as ServerError { throw ValidationError(e.description) }
    }

    /// The server's limits as the options set them.
    var limits: ServerLimits {
        var limits = ServerLimits()
        limits.batchSize = batchSize
        limits.maxBatchWait = maxBatchWaitMs / 1000
        limits.maxBodyBytes = maxBodyBytes
        limits.maxTexts = maxTexts
        limits.maxTokens = maxTokens
        limits.requestTimeout = timeout
        limits.maxQueuedTexts = maxQueuedTexts
        limits.idleTimeout = idleTimeout
        limits.drainGrace = drainGrace
        limits.maxWords = maxWords
        return limits
    }

    func run() async throws {
        let m = try checkpoint.load()
        let server = try InferenceServer(model: m, limits: limits)
        let host = self.host, path = server.inferencePath
        let group = server.serviceGroup(host: host, port: port) { bound in
            printError("offramp serve: \(m.layerCount)-layer \(m.settings.task.rawValue) model on http://\(host):\(bound) (POST \(path), GET /health, GET /metrics)")
        }
        try await group.run()
        printError("offramp serve: stopped")
    }
}
