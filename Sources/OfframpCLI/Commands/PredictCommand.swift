import ArgumentParser
import Foundation
import Offramp

// MARK: - offramp predict

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify texts or label words with early exit.",
        discussion: """
            Classification: one JSON object per line {text, label, probabilities, exit_layer}; with --pairs each \
            input is two texts separated by a TAB, classified as a sentence pair ([CLS] a [SEP] b [SEP]), and \
            printed as {text, text_pair, label, ...}.
            Labeling (a --task label model): each line is a sentence of white-space separated words; \
            one JSON object per line {text, words: [{word, label, probability, exit_layer}], exit_layer}, \
            or with --text one line of word/LABEL@layer.
            """)

    @OptionGroup var checkpoint: ModelOptions
    @OptionGroup var policyOptions: PolicyOptions
    @Option(help: "Texts, one per line (default: arguments, else stdin).") var file: String?
    @OptionGroup var batch: BatchOptions
    @Flag(help: "Also print the uncertainty at every exit the policy read (full: the final one only).") var uncertainties = false
    @Flag(help: "Labeling: a compact text view (word/LABEL@layer) instead of JSON.") var text = false
    @Flag(help: "Classification: each input is a sentence pair, the two texts separated by a TAB.") var pairs = false
    @OptionGroup var retentionOptions: RetentionOptions
    @Argument(help: "Texts.") var texts: [String] = []

    func run() throws {
        let m = try checkpoint.load()
        if m.settings.task == .label { return try label(m) }
        if text { throw UsageError("--text applies to labeling models only (this model classifies whole texts: its output is JSON)") }
        let classifier = try AdaptiveClassifier(model: m)
        let policy = try policyOptions.resolve(for: m)
        let retention = try retentionOptions.resolve(m)
        let inputs = try readInputTexts(arguments: texts, file: file)
        guard !inputs.isEmpty else { throw OfframpError("no input texts (give TEXT arguments, --file, or lines on stdin)") }
        let split = try pairs ? inputs.enumerated().map { i, line -> (String, String) in
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw OfframpError("input \(i + 1): --pairs needs two texts separated by one TAB, found \(parts.count) field(s)")
            }
            return (String(parts[0]), String(parts[1]))
        } : nil
        let predictions = try split.map { try classifier.classify(pairs: $0, policy: policy, batchSize: batch.batchSize, retention: retention) }
            ?? classifier.classify(inputs, policy: policy, batchSize: batch.batchSize, retention: retention)
        var out = OutputBuffer()
        for (i, p) in predictions.enumerated() {
            let probs = zip(classifier.labels, p.probabilities).map { "\(jsonString($0)):\($1)" }.joined(separator: ",")
            let texts = split.map { "{\"text\":\(jsonString($0[i].0)),\"text_pair\":\(jsonString($0[i].1))," } ?? "{\"text\":\(jsonString(inputs[i])),"
            var line = texts + "\"label\":\(jsonString(p.label)),\"probabilities\":{\(probs)},\"exit_layer\":\(p.exitLayer)"
            if uncertainties { line += ",\"uncertainties\":[" + p.uncertainties.map { String(format: "%.5f", $0) }.joined(separator: ",") + "]" }
            out.line(line + "}")
        }
        out.flush()
    }

    /// Word labels with SENTEE/TOKEE: each input line is one sentence.
    func label(_ m: MultiExitModel) throws {
        // What a labeling model cannot do is an error, not silently skipped.
        if pairs { throw UsageError("--pairs applies to classification models only (a labeling model reads one sentence per line)") }
        if uncertainties { throw UsageError("--uncertainties applies to classification models only (a labeling model prints each word's probability)") }
        _ = try retentionOptions.resolve(m)  // rejects --retention and --selection: labeling runs without elimination
        let tagger = try AdaptiveTagger(model: m)
        let policy = try policyOptions.resolve(for: m)
        let inputs = try readInputTexts(arguments: texts, file: file)
        guard !inputs.isEmpty else { throw OfframpError("no input sentences (give TEXT arguments, --file, or lines on stdin)") }
        let tagged = try tagger.tag(inputs.map(AdaptiveTagger.words), policy: policy, batchSize: batch.batchSize)
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
