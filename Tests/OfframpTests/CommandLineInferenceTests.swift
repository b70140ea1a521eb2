import Foundation
import Offramp
import Testing

/// eval, sweep, calibrate, predict, encode and info through the built
/// executable, each checked on what it printed or wrote.
@Suite("offramp: inference commands") struct CommandLineInferenceTests {
    typealias F = CommandLineFixtures

    static func json(_ line: String) throws -> JSONValue { try JSONValue.parse(Data(line.utf8)) }

    @Test func evalPrintsEveryExit() throws {
        let model = try F.classifier.get().path, dev = try F.data("dev.tsv")
        let table = try F.succeed(["eval", "--model", model, "--data", dev])
        #expect(table.stdout.contains("12 examples") && table.stdout.contains("accuracy"), "\(table.transcript)")
        let lines = try F.succeed(["eval", "--model", model, "--data", dev, "--json"]).stdoutLines.map(Self.json)
        #expect(lines.map { $0["exit"]?.doubleValue } == [1, 2, 3, 4])
        #expect(lines.allSatisfy { ($0["accuracy"]?.doubleValue).map { (0...1).contains($0) } ?? false })
        let policy = try F.succeed(["eval", "--model", model, "--data", dev, "--policy", "budget", "--layer", "2", "--json"])
        #expect(policy.stdoutLines.count == 2, "full depth and budget(2): \(policy.transcript)")
    }

    /// --json and --plot write what they are told; without --plot nothing
    /// lands in the working directory.
    @Test func sweepWritesJSONAndThePlotOnlyWhereTold() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["sweep", "--model", try F.classifier.get().path, "--data", try F.data("dev.tsv"), "--policies", "entropy,patience",
                    "--thresholds", "0.2,0.6"]
        let plot = dir.appendingPathComponent("plots/s.svg")
        try FileManager.default.createDirectory(at: plot.deletingLastPathComponent(), withIntermediateDirectories: true)
        let r = try F.succeed(base + ["--json", "--plot", plot.path], directory: dir)
        let points = try r.stdoutLines.map(Self.json)
        #expect(points.count == 1 + 2 + 3, "full, entropy at 2 thresholds, patience 1...3: \(r.transcript)")
        #expect(points.first?["policy"]?.stringValue == "full")
        #expect(points.first?["wall_noise"]?.doubleValue != nil, "the full line carries the run's noise: \(r.transcript)")
        #expect(points.allSatisfy { $0["flops_speedup"]?.doubleValue != nil && $0["accuracy"]?.doubleValue != nil })
        #expect(try String(contentsOf: plot, encoding: .utf8).contains("<svg"))
        let table = try F.succeed(base, directory: dir)
        #expect(table.stdout.contains("entropy"), "\(table.transcript)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["plots"], "sweep wrote into the working directory")
    }

    @Test(arguments: ["none", "0.1"])
    func calibrateSavesThePolicy(_ delta: String) throws {
        let model = try F.copy(try F.classifier.get())
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let r = try F.succeed(["calibrate", "--model", model.path, "--dev", try F.data("calibration.tsv"), "--test", try F.data("dev.tsv"),
                               "--max-drop", "10", "--delta", delta])
        #expect(r.stdout.contains("saved") && r.stdout.contains("as the default policy"), "\(r.transcript)")
        let settings = try F.settings(model)
        let policy = try #require(settings.policy)
        #expect(r.stdout.contains("saved \(policy) "))
        _ = try ExitPolicy(encoded: policy, layers: 4)
        if delta == "none" { #expect(settings.guarantee == nil) } else { #expect(r.stdout.contains("candidate")) }
        // predict takes the saved policy by default.
        #expect(try F.succeed(["predict", "--model", model.path, "w5 w20"]).stdoutLines.count == 1)
    }

    /// A misspelt policy name is refused before anything is saved.
    @Test func calibrateRefusesAnUnknownPolicyAndSavesNothing() throws {
        let model = try F.copy(try F.classifier.get())
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let before = try Data(contentsOf: model.appendingPathComponent("config.json"))
        let r = try OfframpProcess.run(["calibrate", "--model", model.path, "--dev", try F.data("dev.tsv"), "--policies", "entropy,confidnce"])
        #expect(r.status == 2 && r.stderr.contains("confidnce"), "\(r.transcript)")
        #expect(try Data(contentsOf: model.appendingPathComponent("config.json")) == before)
    }

    /// Texts from arguments, --file and standard input give the same answers.
    @Test func predictReadsArgumentsFileAndStdin() throws {
        let model = try F.classifier.get().path
        let texts = ["w5 w20", "w7 w10 w9", "w20"]
        let file = try TestSupport.temporaryDirectory().appendingPathComponent("texts.txt")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try (texts.joined(separator: "\n") + "\n\n").write(to: file, atomically: true, encoding: .utf8)
        let byArguments = try F.succeed(["predict", "--model", model, "--policy", "entropy", "--threshold", "0.5", "--uncertainties"] + texts)
        let byFile = try F.succeed(["predict", "--model", model, "--policy", "entropy", "--threshold", "0.5", "--uncertainties", "--file", file.path])
        let byStdin = try F.succeed(["predict", "--model", model, "--policy", "entropy", "--threshold", "0.5", "--uncertainties"],
                                    stdin: texts.joined(separator: "\n"))
        #expect(byArguments.stdout == byFile.stdout && byFile.stdout == byStdin.stdout, "\(byArguments.transcript)\n\(byStdin.transcript)")
        let lines = try byArguments.stdoutLines.map(Self.json)
        #expect(lines.map { $0["text"]?.stringValue } == texts)
        #expect(lines.allSatisfy { ["pos", "neg"].contains($0["label"]?.stringValue ?? "") && $0["uncertainties"]?.arrayValue != nil })
        let none = try OfframpProcess.run(["predict", "--model", model], stdin: "")
        #expect(none.status == 1 && none.stderr.contains("no input texts"), "\(none.transcript)")
    }

    /// --pairs: TAB-separated sentence pairs, printed with text_pair, as the library classifies them.
    @Test func predictClassifiesSentencePairs() throws {
        let model = try F.classifier.get().path
        let r = try F.succeed(["predict", "--model", model, "--policy", "full", "--pairs"], stdin: "w5 w20\tw7 w9\nw20\tw10\n")
        let lines = try r.stdoutLines.map(Self.json)
        #expect(lines.map { $0["text"]?.stringValue } == ["w5 w20", "w20"] && lines.map { $0["text_pair"]?.stringValue } == ["w7 w9", "w10"])
        let classifier = try AdaptiveClassifier.load(directory: URL(fileURLWithPath: model))
        let want = try classifier.classify(pairs: [("w5 w20", "w7 w9"), ("w20", "w10")], policy: .full)
        #expect(lines.map { $0["label"]?.stringValue } == want.map(\.label), "\(r.transcript)")
        let bad = try OfframpProcess.run(["predict", "--model", model, "--pairs"], stdin: "w5 w20\n")
        #expect(bad.status == 1 && bad.stderr.contains("input 1: --pairs needs two texts separated by one TAB"), "\(bad.transcript)")
    }

    @Test func predictLabelsWords() throws {
        let model = try F.tagger.get().path
        let r = try F.succeed(["predict", "--model", model, "--policy", "tokee", "--window", "1", "--threshold", "0.3", "--text", "w5 w6 w7"])
        let words = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        #expect(words.count == 3 && words.allSatisfy { $0.contains("/") && $0.contains("@") }, "\(r.transcript)")
        let line = try Self.json(try F.succeed(["predict", "--model", model, "w5 w6"]).stdout)
        #expect(line["words"]?.arrayValue?.count == 2)
    }

    @Test func encodeEmbedsAndInfoDescribes() throws {
        let model = try F.pretrained.get().path
        let r = try F.succeed(["encode", "--model", model, "--normalize", "w5 w6", "w7"])
        let vectors = try r.stdoutLines.map { try #require(try Self.json($0)["embedding"]?.arrayValue) }
        #expect(vectors.map(\.count) == [16, 16])
        let norm = vectors[0].compactMap(\.doubleValue).reduce(0) { $0 + $1 * $1 }
        #expect(abs(norm - 1) < 1e-4)
        let tokens = try Self.json(try F.succeed(["encode", "--model", model, "--pooling", "none", "w5"]).stdout)
        #expect(tokens["tokens"]?.arrayValue?.compactMap(\.stringValue) == ["[CLS]", "w5", "[SEP]"])

        let info = try F.succeed(["info", try F.classifier.get().path, "--tensors"])
        #expect(info.stdout.contains("layers     4   hidden 16"), "\(info.transcript)")
        #expect(info.stdout.contains("exits      classify after layers 1,2,3,4: linear/mean heads"), "\(info.transcript)")
        #expect(info.stdout.contains("exits.4."), "--tensors lists the heads' tensors")
    }
}
