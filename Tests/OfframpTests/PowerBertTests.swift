import Foundation
import Offramp
import Testing

/// PoWER-BERT: the extract layer keeps [CLS], order and each sequence's own
/// vectors; keeping everything (or r = 1) is the full model; gradients flow
/// through the soft and the hard extract; elimination and early exit combine.
@Suite struct PowerBertTests {
    static func model(layers: Int = 3, pooling: HeadPooling = .mean) throws -> (MultiExitModel, URL) {
        let dir = try TestModels.tinyPretrained(layers: layers)
        let model = try MultiExitModel.create(pretrained: dir, settings: ExitSettings(
            task: .classify, labels: ["a", "b", "c"], head: .linear, pooling: pooling, exits: Array(1...layers)), seed: 3)
        TestModels.enlargeHeadWeights(model)
        return (model, dir)
    }

    static let sequences: [[Int32]] = [[2, 7, 9, 11, 5, 3], [2, 20, 8, 3], [2, 33, 12, 12, 6, 30, 3], [2, 14, 3], [2, 9, 9, 21, 17, 25, 31, 6, 3]]

    static func examples() -> [EncodedExample] {
        sequences.enumerated().map { i, ids in
            EncodedExample(ids: ids, typeIds: ids.map { _ in 0 }, queryPositions: [0], labels: [Int32(i % 3)])
        }
    }

    @Test func retentionIsValidated() throws {
        #expect(try Retention(parsing: "5, 3,3", layers: 3).lengths == [5, 3, 3])
        #expect(throws: OfframpError.self) { try Retention([5, 3], layers: 3) }
        #expect(throws: OfframpError.self) { try Retention([3, 5, 1], layers: 3) }
        #expect(throws: OfframpError.self) { try Retention([3, 0, 0], layers: 3) }
        #expect(throws: OfframpError.self) { try Retention(parsing: "5,x,1", layers: 3) }
    }

    /// One extract step against the naive rule on a packed batch: the kept
    /// rows are [CLS] plus the most significant others of the same sequence
    /// (attention received, summed over heads and queries), in order, and
    /// each kept row's output equals the unpruned layer's output for it.
    @Test(arguments: [ExtractSelection.attention, .attentionNoSelf, .head, .random])
    func extractKeepsCLSOrderAndItsOwnSequence(selection: ExtractSelection) throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let encoder = model.encoder, h = model.config.hiddenSize, heads = model.config.numAttentionHeads
        let batch = PackedBatch(ids: Self.sequences)
        let x0 = FloatBuffer(count: batch.tokenCount * h)
        encoder.embed(batch, into: x0.pointer)
        var offsets: [Int] = [], total = 0
        for n in batch.lengths { offsets.append(total); total += heads * n * n }
        let probs = FloatBuffer(count: total)
        let full = FloatBuffer(x0.array)
        encoder.step(0, full.pointer, active: ActiveSet(batch), probabilities: (probs.pointer, offsets))
        let keep = batch.lengths.map { max(1, $0 / 2) }
        let pruned = FloatBuffer(x0.array)
        encoder.step(0, pruned.pointer, active: ActiveSet(batch), plan: FixedExtract(keep: keep, selection: selection))
        var row = 0
        for s in 0..<batch.sequenceCount {
            let n = batch.lengths[s]
            var sig = [Double](repeating: 0, count: n)
            for hd in 0..<heads { for q in 0..<n { for k in 0..<n where !(selection == .attentionNoSelf && q == k) {
                sig[k] += Double(probs[offsets[s] + (hd * n + q) * n + k])
            } } }
            let expected: [Int]
            switch selection {
            case .attention, .attentionNoSelf:
                expected = ([0] + (1..<n).sorted { sig[$0] > sig[$1] }.prefix(keep[s] - 1)).sorted()
            case .head:
                expected = Array(0..<keep[s])
            case .random:
                expected = []
            }
            // Which original row each output row is: match it against the unpruned outputs of this sequence.
            var kept: [Int] = []
            for i in 0..<keep[s] {
                let out = (0..<h).map { pruned[(row + i) * h + $0] }
                let match = (0..<n).first { p in (0..<h).allSatisfy { abs(full[(batch.starts[s] + p) * h + $0] - out[$0]) < 1e-5 } }
                #expect(match != nil, "output row \(i) of sequence \(s) is one of its own vectors")
                kept.append(match ?? -1)
            }
            #expect(kept.first == 0, "[CLS] is kept first")
            #expect(kept == kept.sorted() && Set(kept).count == kept.count, "original order")
            if !expected.isEmpty { #expect(kept == expected, "sequence \(s)") }
            row += keep[s]
        }
    }

    @Test func keepingEveryVectorIsTheFullModelAndBatchedEqualsAlone() throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = Self.examples()
        let everything = try Retention([9, 9, 9], layers: 3)
        let full = try model.allExitLogits(ExampleBatch(data), retention: .all)
        let kept = try model.allExitLogits(ExampleBatch(data), retention: .configuration(everything))
        #expect(zip(full.joined(), kept.joined()).allSatisfy { abs($0 - $1) < 1e-5 })
        // Elimination that bites: batched equals one at a time, and the runner equals allExitLogits.
        let config = WordVectorRetention.configuration(try Retention([5, 3, 2], layers: 3))
        let together = try model.allExitLogits(ExampleBatch(data), retention: config)
        for (i, e) in data.enumerated() {
            let alone = try model.allExitLogits(ExampleBatch([e]), retention: config)
            for l in 0..<3 { #expect(zip(alone[l], together[l][(i * 3)..<(i * 3 + 3)]).allSatisfy { abs($0 - $1) < 1e-5 }) }
        }
        #expect(zip(together.joined(), full.joined()).contains { abs($0 - $1) > 1e-3 }, "elimination changes the logits")
        let runner = try EarlyExitRunner(model: model)
        let run = try runner.run(data, policy: .full, batchSize: 2, retention: config)
        for (i, r) in run.results.enumerated() {
            let z = together[2][(i * 3)..<(i * 3 + 3)]
            let m = z.max()!, e = z.map { exp($0 - m) }, sum = e.reduce(0, +)
            #expect(zip(e.map { $0 / sum }, r.probabilities).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        let plain = try runner.run(data, policy: .full, batchSize: 2, retention: .all)
        #expect(run.flops < plain.flops && abs(plain.flopsSpeedup - 1) < 0.05)
    }

    /// Over 512 rows the layer runs in groups of sequences; each group's kept
    /// vectors are moved down behind the previous group's: still equal to one at a time.
    @Test func groupedElimination() throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededRandom(seed: 8)
        let data = (0..<48).map { i -> EncodedExample in
            let ids: [Int32] = [2] + (0..<(8 + i % 7)).map { _ in Int32(5 + rng.next() % 35) } + [3]
            return EncodedExample(ids: ids, typeIds: ids.map { _ in 0 }, queryPositions: [0], labels: [Int32(i % 3)])
        }
        #expect(data.reduce(0) { $0 + $1.ids.count } > 600)
        let config = WordVectorRetention.configuration(try Retention([7, 5, 2], layers: 3))
        let together = try model.allExitLogits(ExampleBatch(data), retention: config)
        for (i, e) in data.enumerated() {
            let alone = try model.allExitLogits(ExampleBatch([e]), retention: config)
            for l in 0..<3 { #expect(zip(alone[l], together[l][(i * 3)..<(i * 3 + 3)]).allSatisfy { abs($0 - $1) < 1e-4 }, "input \(i) exit \(l + 1)") }
        }
    }

    /// Early exit on an eliminating model: every policy batched (and
    /// continuous) equals one at a time.
    @Test func eliminationWithEarlyExitBatchedEqualsAlone() throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = Self.examples() + Self.examples().map { var e = $0; e.ids.insert(13, at: 1); e.typeIds.append(0); return e }
        let config = WordVectorRetention.configuration(try Retention([6, 4, 2], layers: 3))
        let runner = try EarlyExitRunner(model: model)
        let u = try runner.run(data, policy: .entropy(0), batchSize: 1, retention: config).results.map { $0.uncertainties[0] }.sorted()
        for policy in [ExitPolicy.entropy(u[u.count / 2] + 1e-4), .budget(layer: 2), .patience(1)] {
            let alone = try runner.run(data, policy: policy, batchSize: 1, retention: config)
            for (batch, continuous) in [(4, false), (3, true)] {
                let together = try runner.run(data, policy: policy, batchSize: batch, continuous: continuous, retention: config)
                for (a, b) in zip(alone.results, together.results) {
                    #expect(a.label == b.label && a.exitLayer == b.exitLayer)
                    #expect(zip(a.probabilities, b.probabilities).allSatisfy { abs($0 - $1) < 1e-5 })
                }
            }
        }
    }

    /// Calibration on an eliminating model: the candidates are exits on top
    /// of the elimination, elimination alone first; the reference stays full
    /// depth without it; the guarantee names the configuration.
    @Test func calibrationRunsExitsOnTopOfElimination() throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Retention([4, 2, 1], layers: 3), data = Self.examples()
        let runner = try EarlyExitRunner(model: model)
        let m = try CalibrationMeasurements.measure(runner: runner, examples: data, candidates: [.budget(layer: 2)], batchSize: 3,
                                                    retention: .configuration(r))
        #expect(m.candidates == [.full, .budget(layer: 2)] && m.retention == r)
        let plain = try runner.run(data, policy: .full, retention: .all).results
        let eliminated = try runner.run(data, policy: .full, retention: .configuration(r)).results
        #expect(m.full == plain.map(\.labels) && m.predictions[0] == eliminated.map(\.labels) && m.flops[0] == eliminated.map(\.flops))
        #expect(m.flopsSpeedup(0) > 1.3 && m.flopsSpeedup(1) > m.flopsSpeedup(0))
        let report = try LearnThenTest.choose(m, losses: m.losses(.consistency), risk: .consistency, eps: 0.5, delta: 0.5, date: "")
        #expect(report.sequences.count == 2 && report.candidates[0].policy == .full)
        #expect(report.candidates.map(\.flopsSpeedup) == [m.flopsSpeedup(0), m.flopsSpeedup(1)])
        // Without elimination, nothing is added.
        let none = try CalibrationMeasurements.measure(runner: runner, examples: data, candidates: [.budget(layer: 2)], retention: .all)
        #expect(none.candidates == [.budget(layer: 2)] && none.retention == nil)
    }

    /// A sweep on an eliminating model: the baseline is full depth without
    /// elimination, then "power" (elimination alone), then each policy with it.
    @Test func sweepReportsEliminationAloneAndWithPolicies() throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = WordVectorRetention.configuration(try Retention([4, 2, 1], layers: 3))
        let points = try ExitSweep.run(try EarlyExitRunner(model: model), examples: Self.examples(), policies: [.budget(layer: 2)],
                                       batchSize: 4, retention: config)
        #expect(points.map(\.policy) == ["full", "power", "budget"])
        #expect(abs(points[0].flopsSpeedup - 1) < 0.05 && points[1].setting == "4,2,1")
        #expect(points[1].flopsSpeedup > 1.3 && points[2].flopsSpeedup > points[1].flopsSpeedup)
    }

    /// The soft extract with every r = 1 (and λ = 0) is the plain model:
    /// same loss, same gradients.
    @Test func softExtractWithUnitRetentionIsTheFullModel() throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let batch = ExampleBatch(Self.examples())
        let plain = Trainer(model: model, options: TrainingOptions())
        let lossPlain = try plain.lossAndGradients(batch, stage: .joint, pass: .deterministic())
        var o = TrainingOptions()
        o.wordVectors = .search(lambda: 0, selection: .attention, learningRate: 1e-2, length: 9)
        let soft = Trainer(model: model, options: o)
        let lossSoft = try soft.lossAndGradients(batch, stage: .joint, pass: .deterministic())
        #expect(abs(lossPlain - lossSoft) < 1e-6)
        #expect(zip(plain.grads.storage.array, soft.grads.storage.array).allSatisfy { abs($0 - $1) < 1e-5 })
        var hard = TrainingOptions()
        hard.wordVectors = .retrain(try Retention([9, 9, 9], layers: 3))
        #expect(abs(try Trainer(model: model, options: hard).lossAndGradients(batch, stage: .joint, pass: .deterministic()) - lossPlain) < 1e-6)
    }

    /// Gradients through the soft extract (model and r, λ term included)
    /// and through hard extract layers, against central finite differences.
    /// Head-WS keeps the ranking fixed under perturbation.
    @Test(arguments: [false, true])
    func extractGradientsMatchFiniteDifferences(hard: Bool) throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        let batch = ExampleBatch(Self.examples())
        var o = TrainingOptions()
        o.wordVectors = hard ? .retrain(try Retention([6, 4, 2], layers: 3, selection: .head))
                             : .search(lambda: 0.01, selection: .head, learningRate: 1e-2, length: 9)
        let trainer = Trainer(model: model, options: o)
        if let rp = trainer.retentionParameters {
            var rng = SeededRandom(seed: 5)
            for i in rp.values.indices { rp.values[i] = 0.3 + 0.7 * Float(rng.next() % 1000) / 1000 }
        }
        try checkModelGradient(hard ? "hard extract" : "soft extract", model: model, trainer: trainer, perEntry: 3) {
            try trainer.lossAndGradients(batch, stage: .joint, pass: .deterministic())
        }
        guard let rp = trainer.retentionParameters else { return }
        _ = try trainer.lossAndGradients(batch, stage: .joint, pass: .deterministic())
        let dR = Array(rp.gradient)
        var r = Array(rp.values)
        // Ranks 0..8 of every layer: those sequences reach, and the ones no sequence has (penalty only).
        checkGradient("retention r", parameters: &r, analytic: dR, h: 1e-2, tolerance: 2e-2, absoluteFloor: 1e-3) { values in
            for (i, v) in values.enumerated() { rp.values[i] = v }
            return (try? trainer.lossAndGradients(batch, stage: .joint, pass: .deterministic())) ?? .nan
        }
    }

    /// The configuration from the masses: a ceiling that ignores the
    /// rounding residue at an integer (where clipping leaves the masses), so
    /// last-bit differences do not change it; more than a thousandth above
    /// still counts, and the lengths stay at least 1 and non-increasing.
    @Test func configurationFromMassesIgnoresResidueAtIntegers() {
        // The MR search at λ = 2e-3: "34.1 20.0 7.0 1.9 1.0 0.7".
        #expect(RetentionParameters.lengths(masses: [34.1, 20.000_000_3, 7.000_000_4, 1.9, 1.000_000_1, 0.7]) == [35, 20, 7, 2, 1, 1])
        #expect(RetentionParameters.lengths(masses: [34.1, 19.999_999_7, 6.999_999_6, 1.9, 0.999_999_9, 0.7]) == [35, 20, 7, 2, 1, 1])
        #expect(RetentionParameters.lengths(masses: [7.002, 7.5, 0]) == [8, 8, 1])
        #expect(RetentionParameters.lengths(masses: [3, 5, 2.0011]) == [3, 3, 3])
    }

    /// A short search moves r down where only the penalty acts (ranks no
    /// input reaches), keeps r in [0, 1], and writes a non-increasing
    /// configuration into the checkpoint; re-training at it runs.
    @Test func searchThenRetrainWritesTheConfiguration() throws {
        let (model, dir) = try Self.model()
        defer { try? FileManager.default.removeItem(at: dir) }
        var o = TrainingOptions()
        o.epochs = 2; o.batchSize = 3; o.learningRate = 1e-3; o.showProgress = false
        o.wordVectors = .search(lambda: 1e-3, selection: .attention, learningRate: 0.05, length: 12)
        let search = Trainer(model: model, options: o)
        let out = dir.appendingPathComponent("searched")
        try search.run(train: Self.examples(), dev: [], out: out, log: { _ in })
        let rp = search.retentionParameters!
        #expect(rp.values.allSatisfy { (0...1).contains($0) })
        #expect((0..<3).allSatisfy { j in rp.values[j * 12 + 11] < 0.9 }, "rank 11 is reached by no input: the penalty lowers it")
        let saved = try MultiExitModel.load(directory: out)
        let retention = try #require(try saved.resolve(.saved))
        #expect(retention == (try rp.retention()))
        #expect(retention.lengths == retention.lengths.sorted(by: >))
        var retrain = o
        retrain.wordVectors = .retrain(retention.selecting(.attention))
        try Trainer(model: saved, options: retrain).run(train: Self.examples(), dev: Self.examples(), out: dir.appendingPathComponent("retrained"), log: { _ in })
        #expect(try MultiExitModel.load(directory: dir.appendingPathComponent("retrained")).settings.retention == retention.lengths)
    }
}
