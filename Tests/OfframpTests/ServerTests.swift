import Foundation
import Offramp
import OfframpLoadTest
@_spi(Testing) import OfframpServer
import Testing

/// `offramp serve` on loopback: every endpoint, limit and error, answers
/// equal to the library's under concurrent load, timeouts, overload and a
/// graceful shutdown with requests in flight.
@Suite(.serialized) struct ServerTests {
    /// A blocking request on a thread of its own (the test's async threads
    /// must stay free for the server's handlers).
    static func http(_ port: Int, _ method: String, _ path: String, body: String? = nil,
                     headers: [String: String] = [:]) async throws -> LoopbackHTTPClient.Response {
        try await http(port, method, path, bytes: body.map { Data($0.utf8) }, headers: headers)
    }

    static func http(_ port: Int, _ method: String, _ path: String, bytes: Data?,
                     headers: [String: String] = [:]) async throws -> LoopbackHTTPClient.Response {
        try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread {
                let client = LoopbackHTTPClient(port: port)
                c.resume(with: Result { try client.request(method, path, body: bytes, headers: headers) })
            }
        }
    }

    /// Raw bytes on a new connection (malformed HTTP); the response, or the error.
    static func raw(_ port: Int, _ text: String) async -> Result<LoopbackHTTPClient.Response, any Error> {
        await withCheckedContinuation { c in
            Thread.detachNewThread { c.resume(returning: Result { try LoopbackHTTPClient(port: port).send(Array(text.utf8)) }) }
        }
    }

    /// Waits until `condition` holds, failing after `seconds`.
    static func waitUntil(_ what: String, seconds: Double = 5, _ condition: () -> Bool) async throws {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !condition() {
            guard Date() < deadline else { throw OfframpError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func json(_ r: LoopbackHTTPClient.Response) throws -> JSONValue { try JSONValue.parse(r.body) }

    static func errorMessage(_ r: LoopbackHTTPClient.Response) -> String {
        (try? json(r))?["error"]?["message"]?.stringValue ?? "<no message: \(r.text)>"
    }

    static func body(_ texts: [String], _ extra: String = "") -> String {
        "{\"texts\":[\(texts.map(jsonStringLiteral).joined(separator: ","))]\(extra)}"
    }

    /// Texts of the tiny models' vocabulary (w0 ... w34), of several lengths.
    static let texts = (0..<24).map { i in (0..<(2 + i % 6)).map { "w\(($0 * 7 + i * 3) % 35)" }.joined(separator: " ") }

    static func withServer<T>(_ model: MultiExitModel, limits: ServerLimits = ServerLimits(),
                              _ body: (InferenceServer, Int) async throws -> T) async throws -> T {
        let server = try InferenceServer(model: model, limits: limits)
        let running = try await server.start()
        do {
            let result = try await body(server, running.port)
            try await running.stop()
            return result
        } catch {
            server.batcher.resumeForTesting()
            try? await running.stop()
            throw error
        }
    }

    /// The tiny trained classifier of the early-exit tests, served.
    static func withTinyClassifier(limits: ServerLimits = ServerLimits(),
                                   _ body: (InferenceServer, Int) async throws -> Void) async throws {
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await withServer(model, limits: limits, body)
    }

    // MARK: Answers

    /// Each text's label, probabilities and exit layer equal the library's
    /// (AdaptiveClassifier, one call per policy), with 12 clients at once
    /// sending mixed policies, so requests share cohorts and join mid-flight.
    @Test func classifyUnderConcurrentLoadEqualsTheLibrary() async throws {
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let classifier = try AdaptiveClassifier(model: model)
        let policies: [(String, ExitPolicy)] = [
            ("", classifier.defaultPolicy), (",\"policy\":\"entropy\",\"threshold\":0.6", .entropy(0.6)),
            (",\"policy\":\"patience\",\"patience\":1", .patience(1)), (",\"policy\":\"budget\",\"layer\":2", .budget(layer: 2)),
        ]
        let expected = try policies.map { try classifier.classify(Self.texts, policy: $0.1, batchSize: 1) }
        var limits = ServerLimits()
        limits.batchSize = 5
        try await Self.withServer(model, limits: limits) { server, port in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<12 {
                    group.addTask {
                        for round in 0..<4 {
                            let p = (client + round) % policies.count
                            let first = (client * 5 + round * 3) % Self.texts.count
                            let picked = (0..<(1 + client % 3)).map { (first + $0) % Self.texts.count }
                            let r = try await Self.http(port, "POST", "/v1/classify", body: Self.body(picked.map { Self.texts[$0] }, policies[p].0))
                            #expect(r.status == 200, "\(r.text)")
                            let results = try #require(try Self.json(r)["results"]?.arrayValue)
                            try #require(results.count == picked.count)
                            #expect(try Self.json(r)["policy"]?.stringValue == policies[p].1.encoded)
                            for (k, i) in picked.enumerated() {
                                let want = expected[p][i], got = results[k]
                                #expect(got["label"]?.stringValue == want.label)
                                #expect(got["exit_layer"]?.intValue == want.exitLayer, "text \(i) policy \(policies[p].1)")
                                for (label, prob) in zip(classifier.labels, want.probabilities) {
                                    #expect(abs((got["probabilities"]?[label]?.doubleValue ?? -1) - Double(prob)) < 1e-5)
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let metrics = try await Self.http(port, "GET", "/metrics")
            #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
            #expect(metrics.text.contains("offramp_requests_total{endpoint=\"/v1/classify\",status=\"200\"} 48"))
            #expect(server.metrics.responses("/v1/classify", status: 200) == 48)
            #expect(metrics.text.contains("offramp_request_duration_seconds_count{endpoint=\"/v1/classify\"} 48"))
            #expect(server.metrics.averageExitLayer > 1 && server.metrics.averageExitLayer < 4)
            #expect(metrics.text.contains("# TYPE offramp_step_inputs histogram"))
        }
    }

    /// Sentence pairs, as [a, b] items or with text_pair, answer as AdaptiveClassifier's pairs do.
    @Test func pairsEqualTheLibrary() async throws {
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pairs = (0..<6).map { (Self.texts[$0], Self.texts[$0 + 6]) }
        let want = try AdaptiveClassifier(model: model).classify(pairs: pairs, policy: .full)
        let single = try AdaptiveClassifier(model: model).classify(pairs.map(\.0), policy: .full)
        #expect(want.map(\.probabilities) != single.map(\.probabilities), "the second texts change the answers")
        try await Self.withServer(model) { _, port in
            let items = pairs.map { "[\(jsonStringLiteral($0.0)),\(jsonStringLiteral($0.1))]" }.joined(separator: ",")
            let asItems = try await Self.http(port, "POST", "/v1/classify", body: "{\"texts\":[\(items)],\"policy\":\"full\"}")
            let asField = try await Self.http(port, "POST", "/v1/classify",
                                              body: Self.body(pairs.map(\.0), ",\"text_pair\":[\(pairs.map { jsonStringLiteral($0.1) }.joined(separator: ","))],\"policy\":\"full\""))
            for r in [asItems, asField] {
                #expect(r.status == 200, "\(r.text)")
                let results = try #require(try Self.json(r)["results"]?.arrayValue)
                #expect(results.map { $0["label"]?.stringValue } == want.map(\.label))
                for (got, p) in zip(results, want) {
                    let probabilities = model.labels.map { got["probabilities"]?[$0]?.doubleValue ?? .nan }
                    #expect(zip(probabilities, p.probabilities).allSatisfy { abs($0 - Double($1)) < 1e-6 })
                }
            }
        }
    }

    /// /v1/label answers each word as AdaptiveTagger does under TOKEE.
    @Test func labelEqualsTheLibrary() async throws {
        let (model, _, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tagger = try AdaptiveTagger(model: model)
        let sentences = Array(Self.texts.prefix(8))
        let want = try tagger.tag(sentences.map(AdaptiveTagger.words), policy: .tokee(window: 1, tau: 0.4, .entropy))
        try await Self.withServer(model) { _, port in
            let r = try await Self.http(port, "POST", "/v1/label", body: Self.body(sentences, ",\"policy\":\"tokee\",\"window\":1,\"threshold\":0.4"))
            #expect(r.status == 200, "\(r.text)")
            let results = try #require(try Self.json(r)["results"]?.arrayValue)
            try #require(results.count == want.count)
            for (got, words) in zip(results, want) {
                let gotWords = try #require(got["words"]?.arrayValue)
                #expect(gotWords.map { $0["word"]?.stringValue } == words.map(\.word))
                #expect(gotWords.map { $0["label"]?.stringValue } == words.map(\.label))
                #expect(gotWords.map { $0["exit_layer"]?.intValue } == words.map(\.exitLayer))
                #expect(got["exit_layer"]?.intValue == words.map(\.exitLayer).max())
            }
            let wrong = try await Self.http(port, "POST", "/v1/classify", body: Self.body(["w1"]))
            #expect(wrong.status == 404 && Self.errorMessage(wrong).contains("/v1/label"))
            let sentencePolicy = try await Self.http(port, "POST", "/v1/label", body: Self.body(["w1"], ",\"policy\":\"entropy\",\"threshold\":0.3"))
            #expect(sentencePolicy.status == 422 && Self.errorMessage(sentencePolicy).contains("labels words"))
            let tooManyWords = try await Self.http(port, "POST", "/v1/label", body: Self.body([String(repeating: "w1 ", count: 1025)]))
            #expect(tooManyWords.status == 422 && Self.errorMessage(tooManyWords).contains("1025 words; the limit is 1024"))
        }
    }

    // MARK: Errors and limits

    @Test func everyBadRequestGetsItsStatusAndAMessage() async throws {
        var limits = ServerLimits()
        limits.maxBodyBytes = 2000
        limits.maxTexts = 3
        limits.maxTokens = 6
        try await Self.withTinyClassifier(limits: limits) { _, port in
            let cases: [(String, String, String?, Int, String)] = [
                ("POST", "/v1/classify", "{\"texts\": [\"w1\",", 400, "not valid JSON"),
                ("POST", "/v1/classify", "[\"w1\"]", 400, "JSON object"),
                ("POST", "/v1/classify", "{}", 400, "missing field \"texts\""),
                ("POST", "/v1/classify", "{\"texts\": \"w1\"}", 400, "array of strings"),
                ("POST", "/v1/classify", "{\"texts\": [1]}", 400, "texts[0] must be a string or a pair"),
                ("POST", "/v1/classify", "{\"texts\": [[\"w1\"]]}", 400, "texts[0] must be a string or a pair"),
                ("POST", "/v1/classify", "{\"texts\": [[\"w1\", \"w2\"], \"w3\"]}", 400, "mixes single texts and pairs"),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"text_pair\": [\"w2\", \"w3\"]}", 400, "has 2 texts for 1"),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"text_pair\": \"w2\"}", 400, "\"text_pair\" must be an array of strings"),
                ("POST", "/v1/classify", "{\"texts\": [[\"w1\", \"w2\"]], \"text_pair\": [\"w2\"]}", 400, "use one or the other"),
                ("POST", "/v1/classify", "{\"texts\": [[\"w1\", \" \"]]}", 422, "text 1"),
                ("POST", "/v1/classify", "{\"texts\": []}", 400, "empty"),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"treshold\": 0.3}", 400, "unknown field \"treshold\""),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"threshold\": 0.3}", 400, "without \"policy\""),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"policy\": 3}", 400, "\"policy\" must be a string"),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"policy\": \"patience\", \"patience\": 1.5}", 400, "integer"),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"truncate\": 1}", 400, "true or false"),
                ("POST", "/v1/classify", "{\"texts\": [\"w1\"], \"texts\": [\"w2\"]}", 400, "duplicate"),
                ("POST", "/v1/classify", Self.body(["w1", "w2", "w3", "w4"]), 413, "limit is 3"),
                ("POST", "/v1/classify", Self.body([String(repeating: "w1 ", count: 900)]), 413, "limit is 2000"),
                ("POST", "/v1/classify", Self.body(["w1"], ",\"policy\":\"entropic\",\"threshold\":0.3"), 422, "unknown policy"),
                ("POST", "/v1/classify", Self.body(["w1"], ",\"policy\":\"entropy\",\"threshold\":1.5"), 422, "threshold 1.5 is out of range"),
                ("POST", "/v1/classify", Self.body(["w1"], ",\"policy\":\"entropy\""), 422, "needs threshold"),
                ("POST", "/v1/classify", Self.body(["w1"], ",\"policy\":\"budget\",\"layer\":9"), 422, "layer 9 is out of range"),
                ("POST", "/v1/classify", Self.body(["w1"], ",\"policy\":\"tokee\",\"threshold\":0.3"), 422, "classifies whole inputs"),
                ("POST", "/v1/classify", Self.body(["w1", "  "]), 422, "text 2"),
                ("POST", "/v1/classify", Self.body(["w1 w2 w3 w4 w5 w6 w7"], ",\"truncate\":false"), 422, "longer than 6 tokens"),
                ("GET", "/v1/nothing", nil, 404, "no route GET /v1/nothing"),
                ("GET", "/v1/classify", nil, 405, "not allowed"),
            ]
            for (method, path, body, status, message) in cases {
                let r = try await Self.http(port, method, path, body: body)
                #expect(r.status == status, "\(method) \(path) \(body ?? ""): \(r.status) \(r.text)")
                #expect(r.headers["content-type"]?.hasPrefix("application/json") == true)
                #expect(Self.errorMessage(r).contains(message), "\(body ?? path): \(Self.errorMessage(r))")
            }
            // Content-Length over the limit is refused before the body is read.
            let big = try await Self.http(port, "POST", "/v1/classify", body: "{}", headers: ["Content-Length": "5000000"])
            #expect(big.status == 413)
            // Cut to 6 tokens: answered, and marked.
            let cut = try await Self.http(port, "POST", "/v1/classify", body: Self.body(["w1 w2 w3 w4 w5 w6 w7", "w1"]))
            #expect(cut.status == 200)
            #expect(try Self.json(cut)["results"]?.arrayValue?.map { $0["truncated"]?.boolValue } == [true, false])
            let health = try await Self.http(port, "GET", "/health")
            let status = try Self.json(health)["status"]?.stringValue
            #expect(health.status == 200 && status == "ok")
            #expect(try Self.json(health)["max_tokens"]?.intValue == 6)
        }
    }

    /// Random bytes, random JSON-ish text and random valid shapes: the
    /// server answers every one with a 2xx or 4xx JSON reply and stays up.
    @Test func garbageNeverCrashesTheServer() async throws {
        try await Self.withTinyClassifier { server, port in
            var rng = SeededRandom(seed: 99)
            let pieces = ["{", "}", "[", "]", "\"texts\"", ":", ",", "\"w1 w2\"", "\"policy\"", "\"entropy\"", "0.5", "-1e999",
                          "null", "true", "\"\\u0000\"", "\"\\ud800\"", "\u{7f}", "\"threshold\"", "\"é\"", " "]
            for i in 0..<150 {
                var body: [UInt8]
                if i % 3 == 0 {
                    body = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                } else {
                    body = Array((0..<Int(rng.next() % 12)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined().utf8)
                }
                let r = try await Self.http(port, "POST", "/v1/classify", bytes: Data(body))
                #expect((200..<500).contains(r.status) && r.status != 404, "\(r.status) for \(body)")
            }
            // Malformed HTTP: a bad chunk size is a 400 from the HTTP layer, never a 500.
            let badChunk = await Self.raw(port, "POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            if case .success(let r) = badChunk { #expect(r.status == 400) }
            let health = try await Self.http(port, "GET", "/health")
            #expect(health.status == 200)
            #expect(server.metrics.responses("/v1/classify", status: 500) == 0)
        }
    }

    // MARK: Timeouts, overload, shutdown

    @Test func slowRequestsTimeOutAndLeaveTheQueue() async throws {
        var limits = ServerLimits()
        limits.requestTimeout = 0.3
        try await Self.withTinyClassifier(limits: limits) { server, port in
            server.batcher.pauseForTesting()
            let slow = try await Self.http(port, "POST", "/v1/classify", body: Self.body(["w1 w2"]))
            #expect(slow.status == 503 && Self.errorMessage(slow).contains("0.3 s"))
            #expect(server.batcher.queuedCount == 0)  // the timed-out text left the queue
            server.batcher.resumeForTesting()
            let fine = try await Self.http(port, "POST", "/v1/classify", body: Self.body(["w1 w2"]))
            #expect(fine.status == 200)
        }
    }

    @Test func aFullQueueTurnsRequestsAway() async throws {
        var limits = ServerLimits()
        limits.maxTexts = 3
        limits.maxQueuedTexts = 4
        try await Self.withTinyClassifier(limits: limits) { server, port in
            server.batcher.pauseForTesting()
            // Three texts wait (paused); two more would pass the limit of four.
            async let waiting = Self.http(port, "POST", "/v1/classify", body: Self.body(["w1", "w2", "w3"]))
            try await Self.waitUntil("3 queued texts") { server.batcher.queuedCount == 3 }
            let turnedAway = try await Self.http(port, "POST", "/v1/classify", body: Self.body(["w4", "w5"]))
            #expect(turnedAway.status == 503 && Self.errorMessage(turnedAway).contains("overloaded"))
            #expect(turnedAway.headers["retry-after"] == "1")
            server.batcher.resumeForTesting()
            #expect(try await waiting.status == 200)
        }
    }

    /// A client that stops half-way through its body is cut off after the idle timeout.
    @Test func stalledConnectionsAreClosed() async throws {
        var limits = ServerLimits()
        limits.idleTimeout = 0.3
        try await Self.withTinyClassifier(limits: limits) { server, port in
            let started = Date()
            let outcome: Result<LoopbackHTTPClient.Response, any Error> = await withCheckedContinuation { c in
                Thread.detachNewThread {
                    let client = LoopbackHTTPClient(port: port)
                    let head = "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"texts\": [\"w1"
                    c.resume(returning: Result { try client.send(Array(head.utf8)) })
                }
            }
            #expect(throws: (any Error).self) { try outcome.get() }
            #expect(Date().timeIntervalSince(started) < 5)
            let health = try await Self.http(port, "GET", "/health")
            #expect(health.status == 200)
            #expect(server.metrics.responses("/v1/classify", status: 500) == 0)
        }
    }

    /// Graceful shutdown: /health turns "draining" while requests are still
    /// served for the grace period, requests in flight are answered, the
    /// port then closes.
    @Test func shutdownDrainsRequestsInFlight() async throws {
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        var limits = ServerLimits()
        limits.drainGrace = 1
        let server = try InferenceServer(model: model, limits: limits)
        let running = try await server.start()
        server.batcher.pauseForTesting()
        async let inFlight = Self.http(running.port, "POST", "/v1/classify", body: Self.body(["w1 w2", "w3"]))
        try await Self.waitUntil("2 queued texts") { server.batcher.queuedCount == 2 }
        async let stopped: Void = running.stop()
        try await Self.waitUntil("draining") { server.isDraining }
        let health = try await Self.http(running.port, "GET", "/health")
        let status = try Self.json(health)["status"]?.stringValue
        #expect(health.status == 503 && status == "draining")
        server.batcher.resumeForTesting()
        let during = try await Self.http(running.port, "POST", "/v1/classify", body: Self.body(["w4"]))
        #expect(during.status == 200)
        let r = try await inFlight
        let count = try Self.json(r)["results"]?.arrayValue?.count
        #expect(r.status == 200 && count == 2)
        try await stopped
        await #expect(throws: (any Error).self) { try await Self.http(running.port, "GET", "/health") }
    }

    @Test func aTakenPortIsAnErrorNotAHang() async throws {
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try await InferenceServer(model: model).start()
        await #expect(throws: (any Error).self) { _ = try await InferenceServer(model: model).start(port: first.port) }
        try await first.stop()
    }
}
