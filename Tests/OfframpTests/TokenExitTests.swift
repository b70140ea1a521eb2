import Foundation
import Offramp
import Testing

/// Sequence labeling with SENTEE and TOKEE: halt-and-copy equals a naive
/// reference, tau = 0 is the full model, windows clip at sentence edges,
/// batched equals one at a time, and TOKEE fine-tuning trains through
/// halted states.
@Suite struct TokenExitTests {
    static func softmax(_ z: ArraySlice<Float>) -> [Float] {
        let m = z.max()!
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    static func entropy(_ p: [Float]) -> Double {
        -p.reduce(0.0) { $0 + ($1 > 0 ? Double($1) * log(Double($1)) : 0) } / log(Double(p.count))
    }

    /// The naive reference of halt-and-copy for one sentence: every layer
    /// runs on every row, then rows of words halted below that layer get
    /// their old state back. Returns each exit's distributions for every word.
    static func naiveExits(_ model: MultiExitModel, _ e: EncodedExample, wordLayers: [Int]) -> [[[Float]]] {
        let h = model.config.hiddenSize, n = e.ids.count, classes = TestModels.tags.count
        let batch = PackedBatch(ids: [e.ids], typeIds: [e.typeIds])
        let x = FloatBuffer(count: n * h)
        model.encoder.embed(batch, into: x.pointer)
        let input = HeadInput(starts: [0], lengths: [n], queryRows: e.queryPositions, queryCounts: [e.queryPositions.count])
        var out: [[[Float]]] = []
        for l in 1...model.layerCount {
            let before = x.array
            model.encoder.step(l - 1, x.pointer, active: ActiveSet(batch))
            for (r, w) in e.rowWords.enumerated() where w >= 0 && wordLayers[Int(w)] < l {
                for c in 0..<h { x[r * h + c] = before[r * h + c] }
            }
            let logits = model.heads[l - 1](x.pointer, input: input)
            out.append((0..<e.queryPositions.count).map { softmax(logits[($0 * classes)..<(($0 + 1) * classes)]) })
        }
        return out
    }

    /// Thresholds inside the observed word uncertainties, so words halt at different layers.
    static func thresholds(_ model: MultiExitModel, _ data: [EncodedExample]) throws -> [Double] {
        let logits = try model.allExitLogits(ExampleBatch(data))
        let u = stride(from: 0, to: logits[1].count, by: 3).map { entropy(softmax(logits[1][$0..<($0 + 3)])) }.sorted()
        return [u[u.count / 4], u[u.count / 2], u[3 * u.count / 4]]
    }

    @Test func windowScoresClipAtSentenceEdges() {
        let u = [0.1, 0.5, 0.2, 0.05, 0.9, 0.3]
        #expect(windowScores(u, window: 0, criterion: .entropy) == u)
        #expect(windowScores(u, window: 1, criterion: .entropy) == [0.5, 0.5, 0.5, 0.9, 0.9, 0.9])
        #expect(windowScores(u, window: 2, criterion: .entropy) == [0.5, 0.5, 0.9, 0.9, 0.9, 0.9])
        #expect(windowScores(u, window: 9, criterion: .entropy) == Array(repeating: 0.9, count: 6))
        #expect(windowScores([0.4], window: 3, criterion: .entropy) == [0.4])
        #expect(windowScores([], window: 1, criterion: .entropy) == [])
        let c = [0.99, 0.7, 0.95, 0.98]
        #expect(windowScores(c, window: 1, criterion: .confidence) == [0.7, 0.7, 0.7, 0.95])
    }

    @Test func tokeeAtZeroThresholdIsTheFullModel() throws {
        let (model, data, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try EarlyExitRunner(model: model).run(data, policy: .tokee(window: 1, tau: 0, .entropy), batchSize: 7)
        let logits = try model.allExitLogits(ExampleBatch(data))
        var row = 0
        for (r, e) in zip(run.results, data) {
            #expect(r.exitLayers == e.queryPositions.map { _ in 4 })
            for k in e.queryPositions.indices {
                let p = Self.softmax(logits[3][((row + k) * 3)..<((row + k + 1) * 3)])
                #expect(zip(p, r.labelProbabilities[k]).allSatisfy { abs($0 - $1) < 1e-5 })
            }
            row += e.queryPositions.count
        }
        #expect(abs(run.flopsSpeedup - 1) < 0.05)
    }

    /// The runner's halt-and-copy and its TOKEE decisions against the naive
    /// reference: same distributions where each word halts, and each word
    /// halts at the first layer whose window of (current-layer) uncertainties is below tau.
    @Test(arguments: [HeadKind.linear, .fastbert])
    func tokeeEqualsNaiveHaltAndCopy(head: HeadKind) throws {
        let (model, data, dir) = try TestModels.trainedTagger(head: head)
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = try EarlyExitRunner(model: model)
        var sawEarly = false, sawMixed = false
        for tau in try Self.thresholds(model, data) {
            for k in [0, 1, 2] {
                let run = try runner.run(data, policy: .tokee(window: k, tau: tau, .entropy), batchSize: 1)
                for (r, e) in zip(run.results, data) {
                    let naive = Self.naiveExits(model, e, wordLayers: r.exitLayers)
                    for w in e.queryPositions.indices {
                        let l = r.exitLayers[w]
                        #expect(zip(naive[l - 1][w], r.labelProbabilities[w]).allSatisfy { abs($0 - $1) < 1e-4 })
                        // The window rule on the naive uncertainties.
                        let want = (1...4).first { layer in
                            let u = naive[layer - 1].map(Self.entropy)
                            return layer == 4 || windowScores(u, window: k, criterion: .entropy)[w] < tau
                        }
                        let nearTie = naive.contains { dists in dists.contains { abs(Self.entropy($0) - tau) < 1e-5 } }
                        if !nearTie { #expect(l == want, "tau \(tau) k \(k) word \(w)") }
                    }
                    if r.exitLayers.contains(where: { $0 < 4 }) { sawEarly = true }
                    if Set(r.exitLayers).count > 1 { sawMixed = true }
                }
            }
        }
        #expect(sawEarly && sawMixed, "the thresholds should halt some words early, and words of one sentence at different layers")
    }

    @Test func batchedAndContinuousEqualOneAtATime() throws {
        let (model, data, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = try EarlyExitRunner(model: model)
        let taus = try Self.thresholds(model, data)
        let policies: [ExitPolicy] = [.full, .budget(layer: 2), .sentee(taus[2], .entropy), .sentee(0.9, .confidence),
                                      .tokee(window: 1, tau: taus[1], .entropy), .tokee(window: 0, tau: taus[2], .entropy),
                                      .tokee(window: 2, tau: 0.8, .confidence)]
        for policy in policies {
            let alone = try runner.run(data, policy: policy, batchSize: 1)
            for (batch, continuous) in [(8, false), (5, true), (40, false)] {
                let together = try runner.run(data, policy: policy, batchSize: batch, continuous: continuous)
                for (a, b) in zip(alone.results, together.results) {
                    #expect(a.labels == b.labels && a.exitLayers == b.exitLayers, "\(policy) batch \(batch)")
                    #expect(zip(a.labelProbabilities.joined(), b.labelProbabilities.joined()).allSatisfy { abs($0 - $1) < 1e-5 })
                    #expect(abs(a.flops - b.flops) < 1e-6 * a.flops, "a sentence's own FLOPs do not depend on its batch")
                }
                #expect(abs(together.flops - alone.flops) < 1e-6 * alone.flops)
                #expect(abs(together.results.reduce(0) { $0 + $1.flops } - together.flops) < 1e-9 * together.flops)
            }
        }
    }

    @Test func senteeExitsWholeSentencesAndBudgetFixesTheLayer() throws {
        let (model, data, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = try EarlyExitRunner(model: model)
        let tau = try Self.thresholds(model, data)[2]
        let run = try runner.run(data, policy: .sentee(tau, .entropy), batchSize: 8)
        for (r, e) in zip(run.results, data) {
            #expect(Set(r.exitLayers).count == 1, "a SENTEE sentence leaves whole")
            let naive = Self.naiveExits(model, e, wordLayers: r.exitLayers)
            let want = (1...4).first { $0 == 4 || naive[$0 - 1].map(Self.entropy).max()! < tau }!
            #expect(r.exitLayer == want)
        }
        let budget = try runner.run(data, policy: .budget(layer: 2), batchSize: 8)
        #expect(budget.results.allSatisfy { $0.exitLayers.allSatisfy { $0 == 2 } })
        #expect(budget.flopsSpeedup > 1.6, "two of four layers")
    }

    /// Halted rows save the dense work of queries and feed-forward: FLOPs
    /// fall as words halt, and match a hand count for one case.
    @Test func flopsCountOnlyTheQueries() throws {
        let (model, _, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = model.config
        let h = Double(c.hiddenSize), i = Double(c.intermediateSize)
        let set = ActiveSet(starts: [0, 5], lengths: [5, 3]) { $0 != 1 && $0 != 2 && $0 != 6 }
        let want = 2 * 8 * 2 * h * h + 2 * 5 * (2 * h * h + 2 * h * i) + 2 * 2 * (3 * 5 + 2 * 3) * h
        #expect(model.encoder.layerFlops(set) == want)
        #expect(model.encoder.layerFlops(ActiveSet(starts: [0, 5], lengths: [5, 3])) == model.encoder.layerFlops(lengths: [5, 3]))
    }

    @Test func policiesMustSuitTheTask() throws {
        let (model, data, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: OfframpError.self) { try EarlyExitRunner(model: model).run(data, policy: .entropy(0.2)) }
        #expect(error?.message.contains("labels words") == true)
        #expect(throws: OfframpError.self) { try ExitPolicy.parse("tokee", threshold: nil, patience: nil, layer: nil, layers: 4) }
        #expect(try ExitPolicy.parse("tokee", threshold: 0.3, patience: nil, layer: nil, window: 3, layers: 4) == .tokee(window: 3, tau: 0.3, .entropy))
        let p = ExitPolicy.tokee(window: 2, tau: 0.25, .confidence)
        #expect(try ExitPolicy(encoded: p.encoded, layers: 4) == p)
        #expect(try ExitPolicy(encoded: ExitPolicy.sentee(0.1, .entropy).encoded, layers: 4) == .sentee(0.1, .entropy))
    }

    /// The training forward with halting layers computes what the naive
    /// reference does: every row through every layer, halted rows restored.
    @Test func trainingForwardWithHaltingLayersEqualsNaive() throws {
        let (model, data, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let examples = Array(data.prefix(5))
        let batch = ExampleBatch(examples)
        var rng = SeededRandom(seed: 9)
        let wordLayers = examples.map { $0.queryPositions.map { _ in 1 + Int(rng.next() % 4) } }
        var halting: [Int] = []
        for (e, layers) in zip(examples, wordLayers) { halting += e.rowWords.map { $0 >= 0 ? layers[Int($0)] : 4 } }
        let activations = EncoderActivations(layers: 4, pass: .deterministic())
        let states = try model.encoder.forwardTraining(batch.tokens, activations: activations, haltingLayers: halting)
        let h = model.config.hiddenSize
        var start = 0
        for (e, layers) in zip(examples, wordLayers) {
            let naive = Self.naiveExits(model, e, wordLayers: layers)
            let input = HeadInput(starts: [0], lengths: [e.ids.count], queryRows: e.queryPositions, queryCounts: [e.queryPositions.count])
            for l in 1...4 {
                let logits = model.heads[l - 1](states[l - 1] + start * h, input: input)
                for w in e.queryPositions.indices {
                    #expect(zip(Self.softmax(logits[(w * 3)..<(w * 3 + 3)]), naive[l - 1][w]).allSatisfy { abs($0 - $1) < 1e-4 })
                }
            }
            start += e.ids.count
        }
    }

    /// TOKEE fine-tuning's loss (halting layers, masked exits) against
    /// central finite differences, for both head kinds.
    @Test(arguments: [HeadKind.linear, .fastbert])
    func tokeeGradientMatchesFiniteDifferences(head: HeadKind) throws {
        let dir = try TestModels.tinyPretrained(layers: 3)
        defer { try? FileManager.default.removeItem(at: dir) }
        var settings = ExitSettings(task: .label, labels: TestModels.tags, head: head, exits: [1, 2, 3])
        settings.fastbertWidth = 8
        let model = try MultiExitModel.create(pretrained: dir, settings: settings, seed: 3)
        TestModels.enlargeHeadWeights(model)
        let examples = Array(TestModels.taggedSentences(count: 3, seed: 4))
        let batch = ExampleBatch(examples)
        var halting: [Int] = []
        for e in examples { halting += e.rowWords.map { $0 >= 0 ? 1 + Int($0) % 3 : 3 } }
        #expect(halting.contains(1) && halting.contains(2), "some rows halt early")
        let trainer = Trainer(model: model, options: TrainingOptions())
        try checkModelGradient("tokee \(head.rawValue)", model: model, trainer: trainer, perEntry: 4) {
            try trainer.lossAndGradients(batch, stage: .tokee, pass: .deterministic(), haltingLayers: halting)
        }
    }

    /// Both TOKEE fine-tuning modes run from a joint model, lower the loss,
    /// and resume bit for bit (their halting draws depend on the step only).
    @Test(arguments: [TrainingMode.tokeeRandom, .tokeeSelf])
    func tokeeFineTuningTrainsAndResumes(mode: TrainingMode) throws {
        let (_, data, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let joint = dir.appendingPathComponent("trained")
        var o = TrainingOptions()
        o.mode = mode; o.epochs = 2; o.batchSize = 6; o.learningRate = 1e-3; o.showProgress = false
        let a = Trainer(model: try MultiExitModel.load(directory: joint), options: o)
        try a.run(train: data, dev: [], out: dir.appendingPathComponent("a"), log: { _ in })
        #expect(a.reports.count == 2 && a.reports.allSatisfy { $0.meanLoss.isFinite && $0.meanLoss > 0 })
        var killed = o
        killed.stopAfterSteps = 7
        let outB = dir.appendingPathComponent("b")
        try Trainer(model: try MultiExitModel.load(directory: joint), options: killed).run(train: data, dev: [], out: outB, log: { _ in })
        let resumed = Trainer(model: try MultiExitModel.load(directory: outB), options: o)
        try resumed.run(train: data, dev: [], out: outB, resume: true, log: { _ in })
        #expect(resumed.model.store.storage.array == a.model.store.storage.array, "resumed weights differ")
    }

    @Test func taggerMapsWordsAndMarksTruncatedOnes() throws {
        let dir = try TestModels.tinyPretrained(layers: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try MultiExitModel.create(pretrained: dir, settings: ExitSettings(task: .label, labels: TestModels.tags, exits: [1, 2]), seed: 1)
        let tagger = try AdaptiveTagger(model: model)
        tagger.maxLength = 6
        let out = try tagger.tag([["w1", "w2"], ["w3", "w4", "w5", "w6", "w7", "w8"]], policy: .tokee(window: 1, tau: 0.5, .entropy))
        #expect(out[0].map(\.word) == ["w1", "w2"] && out[0].allSatisfy { $0.label != nil && (1...2).contains($0.exitLayer) })
        #expect(out[1].prefix(4).allSatisfy { $0.label != nil } && out[1].suffix(2).allSatisfy { $0.label == nil && $0.exitLayer == 0 })
        #expect(throws: OfframpError.self) { try tagger.tag([[]]) }
        #expect(throws: OfframpError.self) { try AdaptiveClassifier(model: model).classify(["w1"]) }
    }
}
