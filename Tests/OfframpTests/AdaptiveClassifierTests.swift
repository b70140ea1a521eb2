import Foundation
import Offramp
import Testing

/// The library API (load a model directory, classify texts under a policy),
/// calibration's choice, the policy round trip through config.json, the plot.
@Suite struct AdaptiveClassifierTests {
    @Test func classifiesTextsFromASavedModelAndUsesTheSavedPolicy() throws {
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = dir.appendingPathComponent("saved")
        try model.save(to: saved)
        let classifier = try AdaptiveClassifier.load(directory: saved)
        #expect(classifier.defaultPolicy == .full)
        let texts = ["w3 w10 w4", "w20 w7", "w10", "w5 w6 w7 w20 w8"]
        let full = try classifier.classify(texts)
        #expect(full.allSatisfy { $0.exitLayer == 4 && ["neg", "pos"].contains($0.label) })
        #expect(full.allSatisfy { abs($0.probabilities.reduce(0, +) - 1) < 1e-5 && $0.uncertainties.count == 1 })
        let budget = try classifier.classify(texts, policy: .budget(layer: 2))
        #expect(budget.allSatisfy { $0.exitLayer == 2 })
        // Save a default policy in config.json, as calibrate does; a fresh load uses it.
        var config = try BertConfig.load(from: saved.appendingPathComponent("config.json"))
        var settings = model.settings
        settings.policy = ExitPolicy.budget(layer: 3).encoded
        try settings.write(into: &config)
        try config.save(to: saved.appendingPathComponent("config.json"))
        let reloaded = try AdaptiveClassifier.load(directory: saved)
        #expect(reloaded.defaultPolicy == .budget(layer: 3))
        #expect(try reloaded.classify(texts).allSatisfy { $0.exitLayer == 3 })
        #expect(throws: OfframpError("text 2 is empty")) { try reloaded.classify(["w3", ""]) }
    }

    /// Sentence pairs: [CLS] a [SEP] b [SEP], token types 0 then 1, as the tokenizer encodes a pair;
    /// the prediction is the runner's on that input.
    @Test func classifiesSentencePairs() throws {
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let classifier = try AdaptiveClassifier(model: model)
        let pairs = [("w3 w10", "w4 w5"), ("w20", "w7 w7 w8")]
        let (e, _) = try classifier.encode(pairs[1].0, pair: pairs[1].1, position: 1)
        #expect(e.ids.count == 1 + 1 + 1 + 3 + 1 && e.typeIds == [0, 0, 0, 1, 1, 1, 1])
        let joined = try model.tokenizer.encode(pairs[1].0, pair: pairs[1].1, maxLength: nil)
        #expect(e.ids == joined.ids)
        let predictions = try classifier.classify(pairs: pairs, policy: .full)
        let direct = try EarlyExitRunner(model: model).run(
            try pairs.enumerated().map { try classifier.encode($1.0, pair: $1.1, position: $0 + 1).example }, policy: .full)
        #expect(predictions.map(\.probabilities) == direct.results.map(\.probabilities))
        let alone = try classifier.classify([pairs[1].0], policy: .full)[0]
        #expect(alone.probabilities != predictions[1].probabilities, "the second text changes the input")
        #expect(throws: OfframpError.self) { try classifier.classify(pairs: [("w3", " ")]) }
    }

    @Test func encodedPoliciesRoundTrip() throws {
        for p: ExitPolicy in [.full, .budget(layer: 2), .entropy(0.25), .confidence(0.9), .patience(2), .patienceConfidence(patience: 2, tau: 0.1)] {
            #expect(try ExitPolicy(encoded: p.encoded, layers: 6) == p)
        }
        #expect(throws: OfframpError.self) { try ExitPolicy(encoded: "entropy:x", layers: 6) }
    }

    static func point(_ policy: String, _ acc: Double, _ speed: Double) -> SweepPoint {
        SweepPoint(policy: policy, setting: "s", accuracy: acc, averageExitLayer: 6 / speed, flopsSpeedup: speed, wallSpeedup: speed * 0.9,
                   exitPolicy: .full)
    }

    @Test func calibrationPicksTheFastestWithinTheDrop() {
        let points = [Self.point("full", 0.85, 1), Self.point("entropy", 0.848, 1.5), Self.point("entropy", 0.842, 2.2),
                      Self.point("entropy", 0.83, 3.0), Self.point("patience", 0.845, 1.9)]
        #expect(ExitSweep.calibrate(points, maxDrop: 1.0)?.flopsSpeedup == 2.2)
        #expect(ExitSweep.calibrate(points, maxDrop: 0.3)?.flopsSpeedup == 1.5)
        #expect(ExitSweep.calibrate(points, maxDrop: 0)?.policy == "full")
        let svg = ExitSweep.plot(points, title: "t")
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.contains(">entropy<") && svg.contains(">patience<"))
        #expect(points[1].json == "{\"policy\":\"entropy\",\"setting\":\"s\",\"accuracy\":0.8480,\"avg_exit_layer\":4.0000,\"flops_speedup\":1.5000,\"wall_speedup\":1.3500}")
    }
}
