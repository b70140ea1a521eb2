import ArgumentParser
import Foundation
import Offramp

/// --policy with its setting, shared by predict, eval and sweep.
struct PolicyOptions: ParsableArguments {
    @Option(help: """
        Classification: full, budget, entropy, confidence, patience, patience-confidence. \
        Labeling: full, budget, sentee, tokee (and sentee-confidence, tokee-confidence). \
        Default: the model's calibrated policy, else full.
        """)
    var policy: String?
    @Option(help: "Threshold: entropy, sentee, tokee (u < T); confidence and the -confidence variants (c >= T); patience-confidence.")
    var threshold: Double?
    @Option(help: "Patience P (patience, patience-confidence).") var patience: Int?
    @Option(help: "Exit layer K (budget).") var layer: Int?
    @Option(help: "TOKEE window half-width K: a word halts when words i-K...i+K are all sure (default 2).") var window: Int?

    func resolve(layers: Int) throws -> ExitPolicy? {
        try policy.map { try ExitPolicy.parse($0, threshold: threshold, patience: patience, layer: layer, window: window, layers: layers) }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify texts or label words with early exit.",
        discussion: """
            Classification: one JSON object per line {text, label, probabilities, exit_layer}.
            Labeling (a --task label model): each line is a sentence of white-space separated words; \
            one JSON object per line {text, words: [{word, label, probability, exit_layer}], exit_layer}, \
            or with --text one line of word/LABEL@layer.
            """)

    @Option(help: "Multi-exit checkpoint directory.") var model: String
    @OptionGroup var policyOptions: PolicyOptions
    @Option(help: "Texts, one per line (default: arguments, else stdin).") var file: String?
    @Option var batchSize: Int = 32
    @Flag(help: "Also print the uncertainty at every exit visited.") var uncertainties = false
    @Flag(help: "Labeling: a compact text view (word/LABEL@layer) instead of JSON.") var text = false
    @OptionGroup var retentionOptions: RetentionOptions
    @Argument(help: "Texts.") var texts: [String] = []

    func run() throws {
        let m = try MultiExitModel.load(directory: URL(fileURLWithPath: model))
        if m.settings.task == .label { return try label(m) }
        let classifier = try AdaptiveClassifier(model: m)
        let policy = try policyOptions.resolve(layers: classifier.model.layerCount)
        let inputs = try readInputTexts(arguments: texts, file: file)
        guard !inputs.isEmpty else { throw OfframpError("no input texts (give TEXT arguments, --file, or lines on stdin)") }
        let predictions = try classifier.classify(inputs, policy: policy, batchSize: batchSize, retention: try retentionOptions.resolve(m))
        var out = OutputBuffer()
        for (text, p) in zip(inputs, predictions) {
            let probs = zip(classifier.labels, p.probabilities).map { "\(jsonString($0)):\($1)" }.joined(separator: ",")
            var line = "{\"text\":\(jsonString(text)),\"label\":\(jsonString(p.label)),\"probabilities\":{\(probs)},\"exit_layer\":\(p.exitLayer)"
            if uncertainties { line += ",\"uncertainties\":[" + p.uncertainties.map { String(format: "%.5f", $0) }.joined(separator: ",") + "]" }
            out.line(line + "}")
        }
        out.flush()
    }

    /// Word labels with SENTEE/TOKEE: each input line is one sentence.
    func label(_ m: MultiExitModel) throws {
        let tagger = try AdaptiveTagger(model: m)
        let policy = try policyOptions.resolve(layers: m.layerCount)
        let inputs = try readInputTexts(arguments: texts, file: file)
        guard !inputs.isEmpty else { throw OfframpError("no input sentences (give TEXT arguments, --file, or lines on stdin)") }
        let tagged = try tagger.tag(inputs.map(AdaptiveTagger.words), policy: policy, batchSize: batchSize)
        var out = OutputBuffer()
        for (line, words) in zip(inputs, tagged) {
            if text {
                out.line(words.map { "\($0.word)/\($0.label ?? "-")@\($0.exitLayer)" }.joined(separator: " "))
                continue
            }
            let items = words.map { w in
                "{\"word\":\(jsonString(w.word)),\"label\":\(w.label.map(jsonString) ?? "null"),\"probability\":\(w.probability),\"exit_layer\":\(w.exitLayer)}"
            }
            let deepest = words.map(\.exitLayer).max() ?? 0
            out.line("{\"text\":\(jsonString(line)),\"words\":[\(items.joined(separator: ","))],\"exit_layer\":\(deepest)}")
        }
        out.flush()
    }
}

/// The policies swept when none are named: the sequence-level ones for classification, SENTEE and TOKEE for labeling.
func defaultSweepPolicies(_ m: MultiExitModel) -> String {
    m.settings.task == .classify ? "entropy,confidence,patience" : "sentee,tokee"
}

/// Comma-separated numbers of an option, each checked.
func parseList<T: LosslessStringConvertible>(_ text: String, option: String, valid: (T) -> Bool, range: String) throws -> [T] {
    try text.split(separator: ",").map { s -> T in
        guard let v = T(String(s)), valid(v) else { throw OfframpError("\(option): \"\(s)\" is not \(range)") }
        return v
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
    @Option(help: "Policies to sweep, comma-separated (default: entropy,confidence,patience; labeling: sentee,tokee).")
    var policies: String?
    @Option(help: "Thresholds instead of the defaults, comma-separated (entropy, confidence, sentee, tokee).") var thresholds: String?
    @Option(help: "TOKEE window half-widths, comma-separated (default 0,1,2,4).") var windows: String?
    @Option var batchSize: Int = 32
    @Option var maxLength: Int?
    @Flag(help: "Continuous batching across depth.") var continuous = false
    @Option(help: "Write the plot here.") var plot: String = "sweep.svg"
    @OptionGroup var retentionOptions: RetentionOptions
    @Flag(help: "One JSON object per setting instead of the table.") var json = false

    func run() throws {
        let m = try MultiExitModel.load(directory: URL(fileURLWithPath: model))
        let names = (policies ?? defaultSweepPolicies(m)).split(separator: ",").map(String.init)
        let known = ExitPolicy.names(for: m.settings.task).filter { $0 != "full" }
        for n in names where !known.contains(n) {
            throw OfframpError("policy \"\(n)\" in --policies does not apply to this model (\(m.settings.task.rawValue); known: \(known.joined(separator: ", ")))")
        }
        let ts: [Double]? = try thresholds.map { try parseList($0, option: "--thresholds", valid: { (0...1).contains($0) }, range: "a number in [0, 1]") }
        let ks: [Int]? = try windows.map { try parseList($0, option: "--windows", valid: { $0 >= 0 }, range: "a window half-width (0 or more)") }
        let grid = ExitSweep.policies(names, layers: m.layerCount, thresholds: ts, windows: ks)
        let examples = try loadLabeled(data, model: m, maxLength: maxLength)
        let points = try ExitSweep.run(try EarlyExitRunner(model: m), examples: examples, policies: grid, batchSize: batchSize,
                                       continuous: continuous, retention: try retentionOptions.resolve(m), progress: printError)
        if json { points.forEach { print($0.json) } } else { print(ExitSweep.table(points)) }
        let metric = points.first?.f1 != nil ? "entity F1" : "accuracy"
        let svg = ExitSweep.plot(points, title: "\(URL(fileURLWithPath: data).lastPathComponent): \(metric) vs speed-up (batch \(batchSize))")
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
    @Option(help: "Largest drop allowed, in points (of accuracy; of entity F1 for BIO tags).") var maxDrop: Double = 1.0
    @Option(help: "Policies to try (default: entropy,confidence,patience; labeling: sentee,tokee).") var policies: String?
    @Option var batchSize: Int = 32

    func run() throws {
        guard maxDrop >= 0 else { throw ValidationError("--max-drop must be non-negative") }
        let dir = URL(fileURLWithPath: model)
        let m = try MultiExitModel.load(directory: dir)
        let runner = try EarlyExitRunner(model: m)
        let grid = ExitSweep.policies((policies ?? defaultSweepPolicies(m)).split(separator: ",").map(String.init), layers: m.layerCount)
        let devPoints = try ExitSweep.run(runner, examples: try loadLabeled(dev, model: m, maxLength: nil), policies: grid, batchSize: batchSize)
        guard let best = ExitSweep.calibrate(devPoints, maxDrop: maxDrop) else { throw OfframpError("no setting found") }
        print(String(format: "dev: full %.2f; chosen %@ at %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)",
                     100 * devPoints[0].score, best.exitPolicy.description, 100 * best.score, best.flopsSpeedup, best.wallSpeedup, best.averageExitLayer))
        if let test {
            let testPoints = try ExitSweep.run(runner, examples: try loadLabeled(test, model: m, maxLength: nil), policies: [best.exitPolicy], batchSize: batchSize)
            print(String(format: "test: full %.2f; %@ %.2f (%.2fx FLOPs, %.2fx wall, exit layer %.2f)", 100 * testPoints[0].score,
                         best.exitPolicy.description, 100 * testPoints[1].score, testPoints[1].flopsSpeedup, testPoints[1].wallSpeedup,
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
