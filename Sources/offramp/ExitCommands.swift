import ArgumentParser
import Foundation
import Offramp

/// --policy with its setting, shared by predict, eval and sweep.
struct PolicyOptions: ParsableArguments {
    @Option(help: "full, budget, entropy, confidence, patience or patience-confidence (default: the model's calibrated policy, else full).")
    var policy: String?
    @Option(help: "Threshold for entropy (u < T), confidence (c >= T), patience-confidence.") var threshold: Double?
    @Option(help: "Patience P (patience, patience-confidence).") var patience: Int?
    @Option(help: "Exit layer K (budget).") var layer: Int?

    func resolve(layers: Int) throws -> ExitPolicy? {
        try policy.map { try ExitPolicy.parse($0, threshold: threshold, patience: patience, layer: layer, layers: layers) }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify texts with early exit: one JSON object per line {text, label, probabilities, exit_layer}.")

    @Option(help: "Multi-exit checkpoint directory.") var model: String
    @OptionGroup var policyOptions: PolicyOptions
    @Option(help: "Texts to classify, one per line (default: arguments, else stdin).") var file: String?
    @Option var batchSize: Int = 32
    @Flag(help: "Also print the uncertainty at every exit visited.") var uncertainties = false
    @Argument(help: "Texts.") var texts: [String] = []

    func run() throws {
        let classifier = try AdaptiveClassifier.load(directory: URL(fileURLWithPath: model))
        let policy = try policyOptions.resolve(layers: classifier.model.layerCount)
        let inputs = try readInputTexts(arguments: texts, file: file)
        guard !inputs.isEmpty else { throw OfframpError("no input texts (give TEXT arguments, --file, or lines on stdin)") }
        let predictions = try classifier.classify(inputs, policy: policy, batchSize: batchSize)
        var out = OutputBuffer()
        for (text, p) in zip(inputs, predictions) {
            let probs = zip(classifier.labels, p.probabilities).map { "\(jsonString($0)):\($1)" }.joined(separator: ",")
            var line = "{\"text\":\(jsonString(text)),\"label\":\(jsonString(p.label)),\"probabilities\":{\(probs)},\"exit_layer\":\(p.exitLayer)"
            if uncertainties { line += ",\"uncertainties\":[" + p.uncertainties.map { String(format: "%.5f", $0) }.joined(separator: ",") + "]" }
            out.line(line + "}")
        }
        out.flush()
    }
}

/// Labeled examples for the early-exit commands.
func loadLabeled(_ path: String, model: MultiExitModel, maxLength: Int?) throws -> [EncodedExample] {
    try loadExamples(path, task: model.settings.task, labels: LabelSet(model.labels), tokenizer: model.tokenizer,
                     maxLength: maxLength ?? model.settings.maxLength ?? 128)
}

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Accuracy against FLOPs and wall-clock speed-up over exit policies and settings: a table, an SVG plot, --json lines.")

    @Option(help: "Multi-exit checkpoint directory.") var model: String
    @Option(help: "Labeled file.") var data: String
    @Option(help: "Policies to sweep (comma-separated).") var policies: String = "entropy,confidence,patience"
    @Option(help: "Thresholds for entropy/confidence instead of the defaults (comma-separated).") var thresholds: String?
    @Option var batchSize: Int = 32
    @Option var maxLength: Int?
    @Flag(help: "Continuous batching across depth.") var continuous = false
    @Option(help: "Write the plot here.") var plot: String = "sweep.svg"
    @Flag(help: "One JSON object per setting instead of the table.") var json = false

    func run() throws {
        let m = try MultiExitModel.load(directory: URL(fileURLWithPath: model))
        let names = policies.split(separator: ",").map(String.init)
        for n in names where !["entropy", "confidence", "patience", "budget", "patience-confidence"].contains(n) {
            throw OfframpError("unknown policy \"\(n)\" in --policies (known: entropy, confidence, patience, budget, patience-confidence)")
        }
        var grid = ExitSweep.policies(names, layers: m.layerCount)
        if let thresholds {
            let ts = try thresholds.split(separator: ",").map { s -> Double in
                guard let t = Double(s), (0...1).contains(t) else { throw OfframpError("--thresholds: \"\(s)\" is not a number in [0, 1]") }
                return t
            }
            grid = grid.filter { if case .entropy = $0 { return false }; if case .confidence = $0 { return false }; return true }
            if names.contains("entropy") { grid += ts.map { .entropy($0) } }
            if names.contains("confidence") { grid += ts.map { .confidence($0) } }
        }
        let examples = try loadLabeled(data, model: m, maxLength: maxLength)
        let points = try ExitSweep.run(try EarlyExitRunner(model: m), examples: examples, policies: grid, batchSize: batchSize,
                                       continuous: continuous, progress: printError)
        if json { points.forEach { print($0.json) } } else { print(ExitSweep.table(points)) }
        let svg = ExitSweep.plot(points, title: "\(URL(fileURLWithPath: data).lastPathComponent): accuracy vs speed-up (batch \(batchSize))")
        try writeAtomically(Data(svg.utf8), to: URL(fileURLWithPath: plot))
        printError("plot written to \(plot)")
    }
}

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Pick on dev the fastest policy setting within --max-drop points of full depth, report it on test, save it as the model's default.")

    @Option(help: "Multi-exit checkpoint directory (its config.json is updated).") var model: String
    @Option var dev: String
    @Option var test: String?
    @Option(help: "Largest accuracy drop allowed, in points.") var maxDrop: Double = 1.0
    @Option var policies: String = "entropy,confidence,patience"
    @Option var batchSize: Int = 32

    func run() throws {
        guard maxDrop >= 0 else { throw ValidationError("--max-drop must be non-negative") }
        let dir = URL(fileURLWithPath: model)
        let m = try MultiExitModel.load(directory: dir)
        let runner = try EarlyExitRunner(model: m)
        let grid = ExitSweep.policies(policies.split(separator: ",").map(String.init), layers: m.layerCount)
        let devPoints = try ExitSweep.run(runner, examples: try loadLabeled(dev, model: m, maxLength: nil), policies: grid, batchSize: batchSize)
        guard let best = ExitSweep.calibrate(devPoints, maxDrop: maxDrop) else { throw OfframpError("no setting found") }
        print(String(format: "dev: full %.2f; chosen %@ at %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)",
                     100 * devPoints[0].accuracy, best.exitPolicy.description, 100 * best.accuracy, best.flopsSpeedup, best.wallSpeedup, best.averageExitLayer))
        if let test {
            let testPoints = try ExitSweep.run(runner, examples: try loadLabeled(test, model: m, maxLength: nil), policies: [best.exitPolicy], batchSize: batchSize)
            print(String(format: "test: full %.2f; %@ %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)", 100 * testPoints[0].accuracy,
                         best.exitPolicy.description, 100 * testPoints[1].accuracy, testPoints[1].flopsSpeedup, testPoints[1].wallSpeedup,
                         testPoints[1].averageExitLayer))
        }
        var config = try BertConfig.load(from: dir.appendingPathComponent("config.json"))
        var settings = m.settings
        settings.policy = best.exitPolicy.encoded
        try settings.write(into: &config)
        try config.save(to: dir.appendingPathComponent("config.json"))
        print("saved \(best.exitPolicy.encoded) as the default policy in \(dir.appendingPathComponent("config.json").path)")
    }
}
