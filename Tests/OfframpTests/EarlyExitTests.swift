import Foundation
import Offramp
import Testing

/// Early exit: policies decide as docs/methods.md#exit-policies says, and batched or continuous
/// runs give every input exactly what running it alone gives.
@Suite struct EarlyExitTests {
    /// Policies whose thresholds sit inside the observed uncertainties, so
    /// some inputs leave early and some do not. `full`: a run that read every
    /// exit and left none early (entropy 0: `.full` reads the final exit only).
    static func policies(_ full: ExitRun) -> [ExitPolicy] {
        let first = full.results.map { $0.uncertainties[0] }.sorted()
        let tau = (first[first.count / 2] + first[first.count / 2 + 1]) / 2
        let second = full.results.map { $0.uncertainties[1] }.sorted()
        let tau2 = (second[second.count / 3] + second[second.count / 3 + 1]) / 2
        let conf = full.results.map { Double($0.probabilities.max()!) }.sorted()
        return [.full, .budget(layer: 2), .entropy(tau), .entropy(tau2), .confidence(conf[conf.count / 2]),
                .patience(1), .patience(2), .patienceConfidence(patience: 2, tau: tau2)]
    }

    @Test func batchedAndContinuousEqualOneAtATimeForEveryPolicy() throws {
        let (model, data, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = try EarlyExitRunner(model: model)
        let full = try runner.run(data, policy: .entropy(0), batchSize: 1)
        var sawEarly = false
        for policy in Self.policies(full) {
            let alone = try runner.run(data, policy: policy, batchSize: 1)
            for (batch, continuous) in [(8, false), (8, true), (5, true), (48, false)] {
                let together = try runner.run(data, policy: policy, batchSize: batch, continuous: continuous)
                Self.expectSameAnswers(alone, together, policy: policy, tolerance: 1e-5, "batch \(batch) continuous \(continuous)")
                #expect(abs(together.flops - alone.flops) < 1e-3 * alone.flops, "FLOPs do not depend on batching")
                let shares = together.results.reduce(0) { $0 + $1.flops }
                #expect(abs(shares - together.flops) < 1e-9 * together.flops, "the inputs' shares add up to the run's FLOPs")
            }
            if alone.results.contains(where: { $0.exitLayer < 4 }) && alone.results.contains(where: { $0.exitLayer == 4 }) { sawEarly = true }
        }
        #expect(sawEarly, "the thresholds chosen should make some inputs leave early")
    }

    /// Every input's label, exit layer and probabilities (within `tolerance`)
    /// agree between two runs, except inputs whose entropy passed within
    /// `tolerance` of an entropy policy's threshold (rounding may tip them).
    static func expectSameAnswers(_ alone: ExitRun, _ together: ExitRun, policy: ExitPolicy, tolerance: Float, _ context: String) {
        for (i, (a, b)) in zip(alone.results, together.results).enumerated() {
            if case .entropy(let t) = policy, a.uncertainties.contains(where: { abs($0 - t) < Double(tolerance) }) { continue }
            #expect(a.label == b.label && a.exitLayer == b.exitLayer, "\(policy) \(context) input \(i)")
            #expect(zip(a.probabilities, b.probabilities).allSatisfy { abs($0 - $1) < tolerance }, "\(policy) \(context) input \(i)")
            #expect(abs(a.flops - b.flops) <= 1e-6 * a.flops, "an input's own FLOPs do not depend on its batch: \(policy) \(context) input \(i)")
        }
    }

    @Test func budgetAtTheLastLayerIsTheFullModel() throws {
        let (model, data, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try EarlyExitRunner(model: model).run(data, policy: .budget(layer: 4), batchSize: 7)
        let logits = try model.allExitLogits(ExampleBatch(data))
        for (i, r) in run.results.enumerated() {
            #expect(r.exitLayer == 4)
            var p = Array(logits[3][(i * 2)..<(i * 2 + 2)])
            p.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, count: 2) }
            #expect(zip(p, r.probabilities).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        #expect(abs(run.flopsSpeedup - 1) < 1e-9, "full depth costs the full FLOPs: the lower heads do not run")
    }

    /// `full` and `budget` leave the heads they never read unrun, and answer
    /// as a policy that reads every exit and leaves at the same one does.
    @Test func fullAndBudgetRunOnlyTheHeadsTheyRead() throws {
        let (model, data, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = try EarlyExitRunner(model: model)
        let everyExit = try runner.run(data, policy: .entropy(0), batchSize: 8)
        for (policy, reads) in [(ExitPolicy.full, [4]), (.budget(layer: 2), [2]), (.budget(layer: 4), [4])] {
            let stream = try ExitStream(runner: runner, batchSize: data.count)
            stream.admit(data.enumerated().map { ExitStream.Item(tag: $0.offset, example: $0.element, policy: policy) })
            var results = [ExitResult?](repeating: nil, count: data.count)
            while stream.inFlight > 0 { for (tag, r) in stream.step() { results[tag] = r } }
            #expect(stream.headRuns == reads.count, "\(policy): one cohort, heads \(reads) only")
            for (r, e) in zip(results.map { $0! }, everyExit.results) {
                #expect(r.exitLayer == reads[0] && r.uncertainties.count == 1)
                // entropy 0 never leaves early; at the final exit it answers as full does.
                if reads[0] == 4 {
                    #expect(r.label == e.label && zip(r.probabilities, e.probabilities).allSatisfy { abs($0 - $1) < 1e-6 })
                    #expect(abs(r.uncertainties[0] - e.uncertainties[3]) < 1e-6)
                } else {
                    #expect(abs(r.uncertainties[0] - e.uncertainties[1]) < 1e-6)
                }
            }
        }
        // A cohort mixing policies runs the heads any of them reads; each input
        // still records only the exits its own policy reads.
        let mixed = try runner.run(data, policyFor: { $0 % 2 == 0 ? .full : .entropy(0) }, batchSize: 8)
        for (i, r) in mixed.results.enumerated() { #expect(r.uncertainties.count == (i % 2 == 0 ? 1 : 4)) }
    }

    static func decide(_ policy: ExitPolicy, _ distributions: [[Float]]) -> Int {
        var state = ExitDecisionState()
        for (l, p) in distributions.enumerated() {
            let exit = p.withUnsafeBufferPointer { policy.shouldExit(probabilities: $0, layer: l + 1, isLast: l == distributions.count - 1, state: &state) }
            if exit { return l + 1 }
        }
        return -1
    }

    @Test func policiesDecideAsHandComputed() {
        // Normalized entropies of two-class distributions: [0.5,0.5] -> 1, [0.9,0.1] -> 0.469, [0.99,0.01] -> 0.0808.
        let layers: [[Float]] = [[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.99, 0.01], [0.97, 0.03], [0.6, 0.4]]
        #expect(Self.decide(.entropy(0.5), layers) == 2)
        #expect(Self.decide(.entropy(0.4), layers) == 4)   // [0.2, 0.8] has u = 0.722; [0.99, 0.01] 0.081
        #expect(Self.decide(.entropy(0.05), layers) == 6)   // none below: the last exit answers
        #expect(Self.decide(.confidence(0.85), layers) == 2)
        #expect(Self.decide(.confidence(0.98), layers) == 4)
        // Argmax per layer: 0 (tie -> first), 0, 1, 0, 0, 0. Patience 1: layers 2 (0 == 0).
        #expect(Self.decide(.patience(1), layers) == 2)
        // Patience 2: counter 0,1,0,0,1,2 -> layer 6.
        #expect(Self.decide(.patience(2), layers) == 6)
        // u < 0.5 at layers 2, 4, 5: two in a row first at 5.
        #expect(Self.decide(.patienceConfidence(patience: 2, tau: 0.5), layers) == 5)
        #expect(Self.decide(.budget(layer: 3), layers) == 3)
        #expect(Self.decide(.full, layers) == 6)
        let u = [Float(0.9), 0.1].withUnsafeBufferPointer { normalizedEntropy($0) }
        #expect(abs(u - 0.4690) < 1e-4)
    }

    @Test func malformedOptionsAreClearErrors() throws {
        #expect(throws: OfframpError("unknown policy \"fast\" (known: full, budget, entropy, confidence, patience, patience-confidence, sentee, sentee-confidence, tokee, tokee-confidence)")) {
            try ExitPolicy.parse("fast", threshold: 0.3, patience: nil, layer: nil, layers: 6)
        }
        #expect(throws: OfframpError("--threshold 1.5 is out of range: it must be in [0, 1]")) {
            try ExitPolicy.parse("entropy", threshold: 1.5, patience: nil, layer: nil, layers: 6)
        }
        #expect(throws: OfframpError("policy entropy needs --threshold T")) {
            try ExitPolicy.parse("entropy", threshold: nil, patience: nil, layer: nil, layers: 6)
        }
        #expect(throws: OfframpError("--layer 7 is out of range: the model has layers 1...6")) {
            try ExitPolicy.parse("budget", threshold: nil, patience: nil, layer: 7, layers: 6)
        }
        // A plain encoder directory has no exits.
        let error = #expect(throws: OfframpError.self) { try MultiExitModel.load(directory: TestSupport.cached("models/minilm-l6")) }
        #expect(error?.message.contains("not a multi-exit model") == true)
        // An empty input.
        let (model, _, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = EncodedExample(ids: [], typeIds: [], queryPositions: [0], labels: [0])
        #expect(throws: OfframpError("input 1 is empty")) { try EarlyExitRunner(model: model).run([empty], policy: .full) }
    }
}
