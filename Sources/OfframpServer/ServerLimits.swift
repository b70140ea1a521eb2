import Foundation

// MARK: - What the server accepts and how it batches

/// Limits on requests and the batching settings of `offramp serve`.
public struct ServerLimits: Sendable {
    /// Largest request body in bytes (larger: 413).
    public var maxBodyBytes = 1 << 20
    /// Most texts in one request (more: 413).
    public var maxTexts = 256
    /// Tokens per text, special tokens included (default: the model's
    /// maximum length). Longer texts are cut unless the request says
    /// `"truncate": false`, which makes them a 422.
    public var maxTokens: Int?
    /// Seconds a request may take, queueing included (longer: 503).
    public var requestTimeout = 10.0
    /// Seconds a connection may sit idle (a client that stops sending
    /// half-way through a request included) before the server closes it.
    public var idleTimeout = 30.0
    /// Seconds between the start of a graceful shutdown (SIGTERM) and the
    /// listener closing: /health already says "draining", requests are
    /// still served (time for a load balancer to notice).
    public var drainGrace = 0.0
    /// Words per text for /v1/label (more: 422): every word gets an entry
    /// in the answer, so this bounds the answer's size.
    public var maxWords = 1024
    /// Texts waiting for a slot before new requests are turned away (503).
    public var maxQueuedTexts = 4096
    /// Most inputs in the encoder at once.
    public var batchSize = 32
    /// When the encoder is idle and fewer than `batchSize` texts wait, how
    /// long to wait for more before starting (dynamic batching).
    public var maxBatchWait = 0.002

    public init() {}

    /// Throws when a setting makes no sense, naming its command-line option.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ServerError.invalidSetting(message) } }
        try check(maxBodyBytes > 0, "--max-body-bytes must be positive")
        try check(maxTexts > 0, "--max-texts must be positive")
        try check(maxTokens.map { $0 >= 2 } ?? true, "--max-tokens must be at least 2 ([CLS] and [SEP])")
        try check(requestTimeout > 0 && requestTimeout <= 3600, "--timeout must be in (0, 3600] seconds")
        try check(idleTimeout > 0 && idleTimeout <= 3600, "--idle-timeout must be in (0, 3600] seconds")
        try check(drainGrace >= 0 && drainGrace <= 600, "--drain-grace must be in [0, 600] seconds")
        try check(maxWords > 0, "--max-words must be positive")
        try check(maxQueuedTexts >= maxTexts, "--max-queued-texts must be at least --max-texts")
        try check(batchSize > 0, "--batch-size must be positive")
        try check(maxBatchWait >= 0 && maxBatchWait < 1, "--max-batch-wait-ms must be in [0, 1000)")
    }
}

/// Why the server refused to start or to take a request.
public enum ServerError: Error, CustomStringConvertible {
    case invalidSetting(String)
    /// The queue already holds `maxQueuedTexts` texts.
    case overloaded
    /// The server is shutting down and takes no new work.
    case shuttingDown

    public var description: String {
        switch self {
        case .invalidSetting(let m): m
        case .overloaded: "the server is overloaded: too many texts are waiting; retry later"
        case .shuttingDown: "the server is shutting down"
        }
    }
}
