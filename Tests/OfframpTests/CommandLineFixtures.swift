import Foundation
import Offramp

/// Tiny data files and models for the tests that run the `offramp` command:
/// texts of the tiny vocabulary (w0 ... w34), a 4-layer pretrained directory
/// of 16 positions, and multi-exit models trained by the command itself,
/// each made once per test process.
enum CommandLineFixtures {
    /// The longest input the tiny models take (their max_position_embeddings).
    static let maxLength = "16"

    /// One working directory for the shared files.
    static let work = Result { try TestSupport.temporaryDirectory() }

    static func file(_ name: String) throws -> URL { try work.get().appendingPathComponent(name) }

    /// A classification text: the label is decided by one marker word (w10
    /// or w20) among others, as in `TestModels.classificationExamples`.
    static func text(_ i: Int) -> (label: String, text: String) {
        let positive = i % 2 == 1
        let words = (0..<(2 + i % 4)).map { "w\(5 + ($0 * 7 + i) % 30)" }.filter { $0 != "w10" && $0 != "w20" }
        return (positive ? "pos" : "neg", (words + [positive ? "w20" : "w10"]).joined(separator: " "))
    }

    /// train.tsv (24), dev.tsv (12), calibration.tsv (60: Learn-then-Test
    /// needs a few dozen), unlabeled.txt (12) and tagged
    /// train.conll / dev.conll (tags follow each word's number, mod 3).
    static let files = Result { () throws -> URL in
        let dir = try work.get()
        func tsv(_ range: Range<Int>) -> String { range.map { let t = text($0); return "\(t.label)\t\(t.text)\n" }.joined() }
        try tsv(0..<24).write(to: dir.appendingPathComponent("train.tsv"), atomically: true, encoding: .utf8)
        try tsv(24..<36).write(to: dir.appendingPathComponent("dev.tsv"), atomically: true, encoding: .utf8)
        try tsv(48..<108).write(to: dir.appendingPathComponent("calibration.tsv"), atomically: true, encoding: .utf8)
        try (36..<48).map { text($0).text + "\n" }.joined().write(to: dir.appendingPathComponent("unlabeled.txt"), atomically: true, encoding: .utf8)
        func conll(_ range: Range<Int>) -> String {
            range.map { s in
                (0..<(3 + s % 4)).map { w in let n = 5 + (s * 5 + w * 3) % 30; return "w\(n)\t\(["A", "B", "C"][n % 3])\n" }.joined() + "\n"
            }.joined()
        }
        try conll(0..<20).write(to: dir.appendingPathComponent("train.conll"), atomically: true, encoding: .utf8)
        try conll(20..<30).write(to: dir.appendingPathComponent("dev.conll"), atomically: true, encoding: .utf8)
        return dir
    }

    static func data(_ name: String) throws -> String { try files.get().appendingPathComponent(name).path }

    /// The random 4-layer pretrained directory every model starts from.
    static let pretrained = Result { try TestModels.tinyPretrained(layers: 4) }

    /// `offramp train` arguments from the pretrained directory, at the tiny length.
    static func trainArguments(_ extra: [String]) throws -> [String] {
        ["train", "--model", try pretrained.get().path, "--max-length", maxLength, "--batch-size", "6", "--lr", "5e-3"] + extra
    }

    /// Runs the command and throws unless it succeeded.
    @discardableResult
    static func succeed(_ arguments: [String], stdin: String? = nil, directory: URL? = nil,
                        environment: [String: String] = [:]) throws -> OfframpProcess.Output {
        let r = try OfframpProcess.run(arguments, stdin: stdin, directory: directory, environment: environment)
        guard r.status == 0 else { throw OfframpError("offramp \(arguments.joined(separator: " ")) failed:\n\(r.transcript)") }
        return r
    }

    /// A jointly trained classifier with mean-pooled exits, by `offramp train`.
    static let classifier = Result { () throws -> URL in
        let out = try file("classifier")
        try succeed(try trainArguments(["--mode", "joint", "--pooling", "mean", "--epochs", "6",
                                        "--train", data("train.tsv"), "--dev", data("dev.tsv"), "--out", out.path]))
        return out
    }

    /// A jointly trained tagger (--task label), by `offramp train`.
    static let tagger = Result { () throws -> URL in
        let out = try file("tagger")
        try succeed(try trainArguments(["--task", "label", "--mode", "joint", "--epochs", "6",
                                        "--train", data("train.conll"), "--dev", data("dev.conll"), "--out", out.path]))
        return out
    }

    /// A copy of a shared model, for a test that changes it (calibrate writes its config).
    static func copy(_ model: URL) throws -> URL {
        let dir = try TestSupport.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: model, to: dir)
        return dir
    }

    /// The "offramp" section of a checkpoint's config.json.
    static func settings(_ model: URL) throws -> ExitSettings {
        let config = try BertConfig.load(from: model.appendingPathComponent("config.json"))
        guard let settings = try ExitSettings.read(from: config, file: "config.json") else { throw OfframpError("\(model.path): no offramp section") }
        return settings
    }
}
