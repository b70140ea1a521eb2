import Foundation
import Hummingbird
import Offramp
import Synchronization

// MARK: - offramp serve: the routes

/// An HTTP server for one multi-exit model:
///
/// - `POST /v1/classify` (classification models) and `POST /v1/label`
///   (labeling models): body `{"texts": [...], "policy": ..., "threshold": ...}`
///   (see `InferenceRequest`); answer `{"policy": ..., "results": [...]}`.
/// - `GET /health`: `{"status": "ok", ...}` (503 `draining` while shutting down).
/// - `GET /metrics`: Prometheus text (requests, latency, exit layers, batch sizes).
///
/// Every error is JSON `{"error": {"message": ...}}` with its status: 400
/// malformed, 404 no such route, 413 too large, 422 invalid value, 503
/// overloaded, timed out or shutting down.
public final class InferenceServer: Sendable {
    public let model: MultiExitModel
    public let limits: ServerLimits
    public let metrics = ServerMetrics()
    @_spi(Testing) public let batcher: InferenceBatcher
    let served: ServedModel
    private let draining = Atomic<Bool>(false)

    public init(model: MultiExitModel, limits: ServerLimits = ServerLimits()) throws {
        try limits.validate()
        self.model = model
        self.limits = limits
        let maxTokens = limits.maxTokens ?? model.defaultMaxLength
        guard maxTokens <= model.config.maxTokens else {
            throw ServerError.invalidSetting("--max-tokens \(maxTokens) is more than the model's \(model.config.maxTokensDescription)")
        }
        served = try ServedModel(model, maxTokens: maxTokens)
        batcher = InferenceBatcher(runner: served.runner, limits: limits, metrics: metrics)
    }

    /// The endpoint this model answers on.
    public var inferencePath: String { served.path }

    /// Whether a graceful shutdown has begun (/health says so).
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    func beginDraining() { draining.store(true, ordering: .relaxed) }

    /// The routes, with error and metrics handling around them. Internal:
    /// they need the batcher, which `application` starts.
    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestAccounting(metrics: metrics, routes: [
            "/v1/classify": "POST", "/v1/label": "POST", "/health": "GET", "/metrics": "GET",
        ]))
        router.get("/health") { _, _ in try self.health() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: self.metrics.render(queued: self.batcher.queuedCount))))
        }
        router.post("/v1/classify") { request, _ in try await self.infer(request, path: "/v1/classify") }
        router.post("/v1/label") { request, _ in try await self.infer(request, path: "/v1/label") }
        return router
    }

    // MARK: Handlers

    private func health() throws -> Response {
        let draining = isDraining
        var body: [String: JSONValue] = [
            "status": .string(draining ? "draining" : "ok"),
            "task": .string(model.settings.task.rawValue),
            "endpoint": .string(inferencePath),
            "layers": .number(Double(model.layerCount)),
            "labels": .array(model.labels.map(JSONValue.string)),
            "policy": .string(served.defaultPolicy.encoded),
            "max_tokens": .number(Double(served.maxTokens)),
        ]
        if let g = model.settings.guarantee, model.settings.policy == served.defaultPolicy.encoded { body["guarantee"] = g }
        return try json(.object(body), status: draining ? .serviceUnavailable : .ok)
    }

    private func infer(_ request: Request, path: String) async throws -> Response {
        guard path == inferencePath else {
            throw HTTPError(.notFound, message: "this model \(served.work): use POST \(inferencePath)")
        }
        let body = try await collectBody(request)
        let parsed = try InferenceRequest.parse(body, layers: model.layerCount, maxTexts: limits.maxTexts)
        let policy = parsed.policy ?? served.defaultPolicy
        do { try batcher.runner.validate(policy) } catch let e as OfframpError {
            throw HTTPError(.unprocessableContent, message: e.message)
        }
        let encoded = try encode(parsed)
        let results = try await run(encoded.map(\.example), policy: policy)
        metrics.recordTexts(endpoint: path, count: results.count)
        metrics.recordExits(results.flatMap(\.exitLayers))
        let items: [JSONValue] = zip(parsed.texts, zip(results, encoded)).map { text, pair in
            let (r, e) = pair
            switch served {
            case .classifier(let classifier):
                let p = classifier.prediction(r)
                return .object([
                    "label": .string(p.label),
                    "probabilities": .object(Dictionary(uniqueKeysWithValues: zip(classifier.labels, p.probabilities.map(shortest)))),
                    "exit_layer": .number(Double(p.exitLayer)),
                    "truncated": .bool(e.truncated),
                ])
            case .tagger(let tagger):
                let words = tagger.tagged(AdaptiveTagger.words(text), r, e.wordQueries).map { w -> JSONValue in
                    .object(["word": .string(w.word), "label": w.label.map(JSONValue.string) ?? .null,
                             "probability": shortest(w.probability), "exit_layer": .number(Double(w.exitLayer))])
                }
                return .object(["words": .array(words), "exit_layer": .number(Double(r.exitLayer)), "truncated": .bool(e.truncated)])
            }
        }
        return try json(.object(["policy": .string(policy.encoded), "results": .array(items)]), status: .ok)
    }

    /// The body, refusing more than `maxBodyBytes` (413) before reading it when
    /// Content-Length says so.
    private func collectBody(_ request: Request) async throws -> Data {
        let limit = limits.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw HTTPError(.contentTooLarge, message: "the body has \(length) bytes; the limit is \(limit)")
        }
        do {
            return Data(buffer: try await request.body.collect(upTo: limit))
        } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
            throw HTTPError(.contentTooLarge, message: "the body is larger than the limit of \(limit) bytes")
        }
    }

    /// One example per text (a sentence of words for labeling); a blank text
    /// or an over-long one under `"truncate": false` is a 422 naming it.
    private func encode(_ r: InferenceRequest) throws -> [(example: EncodedExample, wordQueries: [Int: Int], truncated: Bool)] {
        let maxTokens = served.maxTokens
        return try r.texts.enumerated().map { i, text in
            do {
                let e: (example: EncodedExample, wordQueries: [Int: Int], truncated: Bool)
                switch served {
                case .classifier(let classifier):
                    let c = try classifier.encode(text, pair: r.pairs?[i], position: i + 1)
                    e = (c.example, [:], c.truncated)
                case .tagger(let tagger):
                    guard r.pairs == nil else { throw OfframpError("sentence pairs are for classifiers; this model labels words") }
                    let words = AdaptiveTagger.words(text)
                    guard words.count <= limits.maxWords else {
                        throw OfframpError("text \(i + 1) has \(words.count) words; the limit is \(limits.maxWords)")
                    }
                    e = try tagger.encode(words, position: i + 1)
                }
                if e.truncated && !r.truncate {
                    throw OfframpError("text \(i + 1) is longer than \(maxTokens) tokens (send \"truncate\": true to cut it)")
                }
                try batcher.runner.check(e.example, position: i + 1)
                return e
            } catch let error as OfframpError {
                throw HTTPError(.unprocessableContent, message: error.message)
            }
        }
    }

    /// Runs the examples through the batcher, giving up after the request timeout.
    private func run(_ examples: [EncodedExample], policy: ExitPolicy) async throws -> [ExitResult] {
        let timeout = limits.requestTimeout
        do {
            return try await withThrowingTaskGroup(of: [ExitResult]?.self) { group in
                group.addTask { try await self.batcher.submit(examples, policy: policy) }
                group.addTask {
                    try await Task.sleep(for: .seconds(timeout))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let results = first else {
                    throw HTTPError(.serviceUnavailable, message: "the request took longer than the \(timeout) s limit")
                }
                return results
            }
        } catch let e as ServerError {
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "1"], message: e.description)
        }
    }

    private func json(_ value: JSONValue, status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A probability as its shortest Float spelling ("0.9", not 0.8999999761581421).
private func shortest(_ p: Float) -> JSONValue { .number(Double("\(p)") ?? Double(p)) }
