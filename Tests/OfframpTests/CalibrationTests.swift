import Foundation
import Offramp
import Testing

/// Calibration with a guarantee (docs/methods.md#calibration): the binomial tail and
/// the p-values against values computed by hand, fixed-sequence testing's
/// walk, the guarantee's validity on synthetic losses of known risk, bad
/// input, and one calibration of a real tiny model.
@Suite struct CalibrationTests {
    // MARK: - Binomial tail

    /// P(Binomial(n, p) <= k) by summing C(n, i) p^i (1 - p)^(n - i) in Double.
    static func directCDF(_ k: Int, _ n: Int, _ p: Double) -> Double {
        var sum = 0.0, choose = 1.0
        for i in 0...k {
            if i > 0 { choose *= Double(n - i + 1) / Double(i) }
            sum += choose * pow(p, Double(i)) * pow(1 - p, Double(n - i))
        }
        return sum
    }

    /// The same by log-gamma terms: good to about 1e-9 at n = 10^5.
    static func lgammaCDF(_ k: Int, _ n: Int, _ p: Double) -> Double {
        let m = Double(n)
        var sum = 0.0
        for i in 0...k {
            let x = Double(i)
            let logChoose: Double = lgamma(m + 1) - lgamma(x + 1) - lgamma(m - x + 1)
            sum += exp(logChoose + x * log(p) + (m - x) * log1p(-p))
        }
        return sum
    }

    @Test func binomialTailMatchesHandComputedValues() {
        #expect(abs(BinomialTail.cdf(atMost: 0, trials: 10, probability: 0.1) - pow(0.9, 10)) < 1e-15)
        let direct = Self.directCDF(3, 20, 0.3)
        #expect(abs(BinomialTail.cdf(atMost: 3, trials: 20, probability: 0.3) - direct) < 1e-14 * direct)
        for (k, n, p) in [(0, 1, 0.5), (7, 30, 0.2), (15, 30, 0.2), (29, 30, 0.9), (40, 200, 0.05), (2, 5, 0.999)] {
            let want = Self.directCDF(k, n, p), got = BinomialTail.cdf(atMost: k, trials: n, probability: p)
            #expect(abs(got - want) <= 1e-13 * max(want, 1e-300), "P(Bin(\(n), \(p)) <= \(k)) = \(got), want \(want)")
        }
        #expect(BinomialTail.cdf(atMost: -1, trials: 10, probability: 0.3) == 0)
        #expect(BinomialTail.cdf(atMost: 10, trials: 10, probability: 0.3) == 1)
        #expect(BinomialTail.cdf(atMost: 3, trials: 10, probability: 0) == 1)
        #expect(BinomialTail.cdf(atMost: 9, trials: 10, probability: 1) == 0)
    }

    @Test func binomialTailIsMonotoneAndAProbabilityForLargeN() {
        let n = 100_000, p = 0.01
        var previous = 0.0
        for k in stride(from: 0, through: 3000, by: 5) {
            let c = BinomialTail.cdf(atMost: k, trials: n, probability: p)
            #expect(c >= previous && c >= 0 && c <= 1, "k = \(k): \(c) after \(previous)")
            previous = c
        }
        #expect(previous == 1)
        // Deep in the lower tail, and near the mean, against log-gamma sums.
        for k in [800, 950, 1000, 1050] {
            let want = Self.lgammaCDF(k, n, p), got = BinomialTail.cdf(atMost: k, trials: n, probability: p)
            #expect(abs(got - want) < 1e-7 * want, "k = \(k): \(got), want \(want)")
        }
        // A million trials: still finite, and the median of Bin(n, 1/2) is near 1/2.
        let median = BinomialTail.cdf(atMost: 500_000, trials: 1_000_000, probability: 0.5)
        #expect(abs(median - 0.5) < 1e-3)
        #expect(abs(BinomialTail.logCDF(atMost: 0, trials: 1_000_000, probability: 0.5) - 1e6 * log(0.5)) < 1e-9)
    }

    // MARK: - p-values

    @Test func hoeffdingBentkusMatchesTheFormula() {
        func h(_ a: Double, _ b: Double) -> Double { a * log(a / b) + (1 - a) * log((1 - a) / (1 - b)) }
        // 5 losses of 100 at eps 0.1: Bentkus is the smaller.
        let hoeffding = exp(-100 * h(0.05, 0.1)), bentkus = M_E * Self.directCDF(5, 100, 0.1)
        let p = RiskTest.hoeffdingBentkusPValue(lossSum: 5, n: 100, eps: 0.1)
        #expect(bentkus < hoeffding && abs(p - bentkus) < 1e-13)
        // A sum of 5.5 counts as ceil(5.5) = 6 losses for Bentkus.
        let half = RiskTest.hoeffdingBentkusPValue(lossSum: 5.5, n: 100, eps: 0.1)
        #expect(abs(half - min(exp(-100 * h(0.055, 0.1)), M_E * Self.directCDF(6, 100, 0.1))) < 1e-13)
        // 0 of 30 at eps 0.2: h(0, b) = -log(1 - b), so Hoeffding gives (1 - eps)^n, e times below Bentkus.
        #expect(abs(RiskTest.hoeffdingBentkusPValue(lossSum: 0, n: 30, eps: 0.2) - pow(0.8, 30)) < 1e-15)
        // At or above eps nothing can be rejected.
        #expect(RiskTest.hoeffdingBentkusPValue(lossSum: 12, n: 100, eps: 0.1) == 1)
        // [-1, 1] losses map to [0, 1] with eps: losses {-1, 0, 0, 1} at eps 0.2 are {0, .5, .5, 1} at 0.6.
        let signed = RiskTest.signedHoeffdingBentkus.pValue(losses: [-1, 0, 0, 1], eps: 0.2)
        #expect(abs(signed - RiskTest.hoeffdingBentkusPValue(lossSum: 2, n: 4, eps: 0.6)) < 1e-15)
        #expect(RiskTest.binomial.pValue(losses: [0, 1, 0, 0, 0, 0, 1, 0, 0, 0], eps: 0.3) == BinomialTail.cdf(atMost: 2, trials: 10, probability: 0.3))
    }

    @Test func smallestEpsAndMinimumSize() throws {
        let none = [Double](repeating: 0, count: 100)
        let eps = try #require(RiskTest.binomial.smallestEps(losses: none, delta: 0.1))
        #expect(abs(eps - (1 - pow(0.1, 1.0 / 100))) < 1e-10)
        #expect(RiskTest.binomial.pValue(losses: none, eps: eps) <= 0.1)
        let three = try #require(RiskTest.binomial.smallestEps(losses: [1, 1, 1] + none, delta: 0.05))
        #expect(abs(RiskTest.binomial.pValue(losses: [1, 1, 1] + none, eps: three) - 0.05) < 1e-9)
        #expect(RiskTest.binomial.smallestEps(losses: [1, 1, 1], delta: 0.1) == nil)

        // n >= log(delta) / log(1 - eps): log(0.1) / log(0.95) = 44.9.
        #expect(RiskTest.binomial.minimumQueries(eps: 0.05, delta: 0.1) == 45)
        #expect(pow(0.95, 45) <= 0.1 && pow(0.95, 44) > 0.1)
        #expect(RiskTest.hoeffdingBentkus.minimumQueries(eps: 0.05, delta: 0.1) == 45)
        #expect(RiskTest.binomial.minimumQueries(eps: 0.01, delta: 0.05) == Int((log(0.05) / log(0.99)).rounded(.up)))
        let error = #expect(throws: OfframpError.self) { try FixedSequenceTest.checkSize(n: 44, test: .binomial, eps: 0.05, delta: 0.1) }
        #expect(error?.message.contains("at least 45") == true)
        try FixedSequenceTest.checkSize(n: 45, test: .binomial, eps: 0.05, delta: 0.1)
    }

    // MARK: - Fixed-sequence testing

    @Test func walkStopsAtTheFirstFailure() throws {
        let n = 200
        let clean = [Double](repeating: 0, count: n)
        let bad = [Double](repeating: 1, count: 40) + [Double](repeating: 0, count: n - 40)
        let outcome = try FixedSequenceTest.run(losses: [clean, clean, bad, clean], test: .binomial, eps: 0.1, delta: 0.1)
        #expect(outcome.chosen == 1 && outcome.stoppedAt == 2 && outcome.n == n)
        #expect(outcome.candidates.map(\.passed) == [true, true, false, false])
        // The last candidate would pass on its own, but the walk never reached it.
        #expect(outcome.candidates[3].pValue <= 0.1 && outcome.candidates[2].pValue > 0.1)
        #expect(outcome.candidates[2].empiricalRisk == 0.2)
        let first = try FixedSequenceTest.run(losses: [bad, clean], test: .binomial, eps: 0.1, delta: 0.1)
        #expect(first.chosen == nil && first.stoppedAt == 0)
        let all = try FixedSequenceTest.run(losses: [clean, clean], test: .hoeffdingBentkus, eps: 0.1, delta: 0.1)
        #expect(all.chosen == 1 && all.stoppedAt == nil)
    }

    /// Uniform in [0, 1) with 53 bits.
    static func uniform(_ rng: inout SeededRandom) -> Double { Double(rng.next() >> 11) * 0x1p-53 }

    /// Over many seeded calibration sets, how often the chosen candidate's
    /// true risk is above eps; also how often the walk gets past the first.
    static func failureRate(test: RiskTest, risks: [Double], eps: Double, delta: Double, draws: Int, n: Int) throws -> (failures: Double, progress: Double) {
        var rng = SeededRandom(seed: 2024)
        var failures = 0, progress = 0
        for _ in 0..<draws {
            // One uniform per example, shared: a faster setting errs wherever a safer one does.
            let u = (0..<n).map { _ in uniform(&rng) }
            let losses = risks.map { r in u.map { $0 < r ? 1.0 : 0.0 } }
            let outcome = try FixedSequenceTest.run(losses: losses, test: test, eps: eps, delta: delta)
            if let c = outcome.chosen, risks[c] > eps { failures += 1 }
            if (outcome.chosen ?? 0) >= 1 { progress += 1 }
        }
        return (Double(failures) / Double(draws), Double(progress) / Double(draws))
    }

    @Test func guaranteeHoldsOnLossesOfKnownRisk() throws {
        // The third candidate's risk is just above eps: the hardest null to keep out.
        let risks = [0.02, 0.06, 0.1005, 0.15], eps = 0.1, delta = 0.1, draws = 2000
        // Monte-Carlo margin: three standard errors of a rate of delta.
        let margin = 3 * (delta * (1 - delta) / Double(draws)).squareRoot()
        for test in [RiskTest.binomial, .hoeffdingBentkus] {
            let (failures, progress) = try Self.failureRate(test: test, risks: risks, eps: eps, delta: delta, draws: draws, n: 500)
            #expect(failures <= delta + margin, "\(test.bound): chose a setting with risk > eps in \(failures) of draws")
            #expect(progress > 0.9, "\(test.bound): certified the 0.06 setting in only \(progress) of draws")
        }
    }

    // MARK: - Bad input

    @Test func badInputIsNamed() throws {
        let losses = [[Double](repeating: 0, count: 100)]
        let cases: [(eps: Double, delta: Double, named: String)] = [
            (0, 0.1, "eps"), (1, 0.1, "eps"), (0.1, 1.5, "delta"), (.nan, 0.1, "eps"), (0.1, .nan, "delta"), (.infinity, 0.1, "eps"),
        ]
        for (eps, delta, name) in cases {
            let error = #expect(throws: OfframpError.self) { try FixedSequenceTest.run(losses: losses, test: .binomial, eps: eps, delta: delta) }
            #expect(error?.message.hasPrefix("\(name) ") == true && error?.message.contains("(0, 1)") == true, "\(String(describing: error))")
        }
        let empty = #expect(throws: OfframpError.self) { try FixedSequenceTest.run(losses: [[]], test: .binomial, eps: 0.1, delta: 0.1) }
        #expect(empty?.message.contains("n = 0") == true)
        let half = #expect(throws: OfframpError.self) { try FixedSequenceTest.run(losses: [[0.5] + losses[0]], test: .binomial, eps: 0.1, delta: 0.1) }
        #expect(half?.message.contains("binomial") == true)
        let unlabeled = #expect(throws: OfframpError.self) {
            try CalibrationRisk.accuracy.exampleLosses(exit: [[1], [0, 1]], full: [[1], [1, 1]], gold: [[1], [2, -1]])
        }
        #expect(unlabeled?.message.contains("unlabeled") == true && unlabeled?.message.contains("example 2") == true)
        #expect(unlabeled?.message.contains("1 of 3 calibration queries") == true)
        try #expect(CalibrationRisk.consistency.exampleLosses(exit: [[1], [0, 1]], full: [[1], [1, 1]], gold: []) == [0, 0.5])
        // Per word, averaged per sentence: words 1 and 3 are hurt, word 2 is fixed, which only the drop credits.
        try #expect(CalibrationRisk.accuracy.exampleLosses(exit: [[0, 2, 1]], full: [[1, 1, 0]], gold: [[1, 2, 0]]) == [2.0 / 3])
        try #expect(CalibrationRisk.accuracyDrop.exampleLosses(exit: [[0, 2, 1]], full: [[1, 1, 0]], gold: [[1, 2, 0]]) == [1.0 / 3])
    }

    // MARK: - A real tiny model

    @Test func calibratesATrainedClassifier() throws {
        let (model, examples, dir) = try TestModels.trainedClassifier()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = try EarlyExitRunner(model: model)
        // Given in no particular order; some never exit early on this model, some always do.
        let candidates: [ExitPolicy] = [.confidence(0.6), .budget(layer: 1), .entropy(0.3), .budget(layer: 3),
                                        .confidence(0.7), .budget(layer: 2), .confidence(0.8), .confidence(0.55)]
        let report = try LearnThenTest.calibrate(runner: runner, examples: examples, candidates: candidates,
                                                 eps: 0.3, delta: 0.1, batchSize: 8, order: .speedup, date: "2025-01-01T00:00:00Z")
        #expect(report.n == examples.count && report.test == .binomial)
        let speedups = report.candidates.map(\.flopsSpeedup)
        #expect(speedups == speedups.sorted(), "not safest first: \(speedups)")
        let chosen = try #require(report.chosen)
        let row = report.candidates[chosen]
        #expect(row.test.passed && row.test.empiricalRisk <= 0.3 && row.test.pValue <= 0.1)
        // Not only the settings that never exit early (they cost the heads, a speed-up below 1).
        #expect(row.flopsSpeedup > 1 && report.stoppedAt == chosen + 1)
        // Check the empirical risk against a run of its own.
        let full = try runner.run(examples, policy: .full).results, exit = try runner.run(examples, policy: row.policy).results
        let disagreements = zip(full, exit).filter { $0.label != $1.label }.count
        #expect(row.test.empiricalRisk == Double(disagreements) / Double(examples.count))
        let g = try #require(report.guarantee)
        #expect(g.policy == report.policy.encoded && g.n == examples.count && g.risk == "consistency" && g.test == "binomial")
        let json = try g.jsonValue()
        #expect(json["p_value"]?.doubleValue == row.test.pValue && json["date"]?.stringValue == "2025-01-01T00:00:00Z")
        #expect(try JSONDecoder().decode(CalibrationGuarantee.self, from: JSONEncoder().encode(g)) == g)
        // Saved with the policy in config.json (as `offramp calibrate --delta` does) and read back by
        // `offramp info` and the server's /health.
        var settings = model.settings
        settings.policy = g.policy
        settings.guarantee = json
        var config = model.config
        try settings.write(into: &config)
        let configURL = dir.appendingPathComponent("guaranteed-config.json")
        try config.save(to: configURL)
        let reread = try #require(try ExitSettings.read(from: try BertConfig.load(from: configURL), file: configURL.path))
        #expect(try CalibrationGuarantee(json: #require(reread.guarantee)) == g && reread.policy == g.policy)
        #expect(g.summary.contains("consistency risk <= 0.3 with probability 0.9"))

        // At eps 0.05, 48 examples allow only settings with no disagreement at all.
        let strict = try LearnThenTest.calibrate(runner: runner, examples: examples, candidates: [.budget(layer: 1)],
                                                 eps: 0.05, delta: 0.1, date: "")
        #expect(strict.chosen == nil && strict.policy == .full && strict.guarantee == nil && strict.stoppedAt == 0)
        // Smaller eps: too few examples for anything, said before running the model.
        let tiny = #expect(throws: OfframpError.self) {
            try LearnThenTest.calibrate(runner: runner, examples: examples, candidates: candidates, eps: 0.001, delta: 0.1, order: .speedup, date: "")
        }
        #expect(tiny?.message.contains("at least 2302") == true)
        let unlabeled = examples.map { e in var e = e; e.labels = [-1]; return e }
        let accuracy = #expect(throws: OfframpError.self) {
            try LearnThenTest.calibrate(runner: runner, examples: unlabeled, candidates: candidates, risk: .accuracy, eps: 0.3, delta: 0.1, date: "")
        }
        #expect(accuracy?.message.contains("risk accuracy needs gold labels") == true)
    }

    // MARK: - Per-family sequences and the validity benchmark, on measurements of known risk

    /// Classification measurements: candidate j errs (against full depth, which
    /// is always right) on example i when u_i < risks[j], and costs
    /// 1 / speedups[j] of full depth.
    static func synthetic(_ candidates: [ExitPolicy], risks: [Double], speedups: [Double], n: Int, seed: UInt64,
                          retention: Retention? = nil) -> CalibrationMeasurements {
        var rng = SeededRandom(seed: seed)
        let u = (0..<n).map { _ in uniform(&rng) }
        return CalibrationMeasurements(
            task: .classify, candidates: candidates, gold: Array(repeating: [1], count: n), full: Array(repeating: [1], count: n),
            fullDepthFlops: Array(repeating: 100, count: n),
            predictions: risks.map { r in u.map { $0 < r ? [0] : [1] } },
            flops: speedups.map { s in Array(repeating: 100 / s, count: n) },
            exitLayerSums: speedups.map { s in Array(repeating: Int(6 / s), count: n) }, retention: retention)
    }

    @Test func perFamilyWalksEachFamilyAtItsShareOfDelta() throws {
        // Entropy fails at its second setting; confidence goes on to a faster one.
        let candidates: [ExitPolicy] = [.entropy(0.1), .confidence(0.9), .entropy(0.3), .confidence(0.8), .entropy(0.5), .confidence(0.7)]
        let m = Self.synthetic(candidates, risks: [0, 0, 0.3, 0, 0, 0.02], speedups: [1.2, 1.1, 1.5, 1.4, 2.5, 1.8], n: 400, seed: 3)
        let losses = try m.losses(.consistency)
        let r = try LearnThenTest.choose(m, losses: losses, risk: .consistency, eps: 0.05, delta: 0.1, order: .perFamily, date: "")
        #expect(r.sequences.count == 2 && r.sequences.map(\.count) == [3, 3])
        #expect(r.candidates.map(\.policy) == [.entropy(0.1), .entropy(0.3), .entropy(0.5), .confidence(0.9), .confidence(0.8), .confidence(0.7)])
        // The entropy walk stops at 0.3 (never reaching 0.5, clean and fastest); confidence 0.7 passes at delta / 2.
        #expect(r.stops == [1] && r.policy == .confidence(0.7))
        #expect(r.candidates[2].test.pValue <= 0.05 && !r.candidates[2].test.passed)
        // One sequence by speed-up: entropy 0.3 stops everything faster than 1.4x.
        let one = try LearnThenTest.choose(m, losses: losses, risk: .consistency, eps: 0.05, delta: 0.1, order: .speedup, date: "")
        #expect(one.sequences.count == 1 && one.policy == .confidence(0.8) && one.stoppedAt == 3)
        // Too few examples for the family's share: the message says so.
        let few = #expect(throws: OfframpError.self) {
            try LearnThenTest.choose(m, losses: losses, subset: Array(0..<50), risk: .consistency, eps: 0.05, delta: 0.1, order: .perFamily, date: "")
        }
        #expect(few?.message.contains("split over 2 policy families") == true)
        // The guarantee names the elimination its policy ran with, and reads back.
        let eliminating = Self.synthetic(candidates, risks: [0, 0, 0.3, 0, 0, 0.02], speedups: [1.2, 1.1, 1.5, 1.4, 2.5, 1.8], n: 400, seed: 3,
                                         retention: try Retention([8, 4, 2, 2, 2, 2], layers: 6))
        let g = try #require(try LearnThenTest.choose(eliminating, losses: losses, risk: .consistency, eps: 0.05, delta: 0.1, date: "").guarantee)
        let readBack = try CalibrationGuarantee(json: g.jsonValue())
        #expect(g.retention == [8, 4, 2, 2, 2, 2] && readBack == g)
        let plainJSON = try #require(r.guarantee).jsonValue()
        #expect(r.guarantee?.retention == nil && plainJSON["retention"] == nil)
    }

    @Test func validityBenchmarkHoldsAtDeltaWhereThePointEstimateDoesNot() throws {
        // One family, ordered; the third setting's risk sits just above eps, so
        // the point estimate picks it whenever its calibration risk falls below.
        let candidates: [ExitPolicy] = [.entropy(0.1), .entropy(0.2), .entropy(0.3), .entropy(0.4)]
        let m = Self.synthetic(candidates, risks: [0.01, 0.03, 0.052, 0.2], speedups: [1.2, 1.6, 2.0, 3.0], n: 4000, seed: 11)
        let targets = [CalibrationValidity.Target(risk: .consistency, eps: 0.05, delta: 0.1),
                       CalibrationValidity.Target(risk: .accuracy, eps: 0.05, delta: 0.05)]
        let outcomes = try CalibrationValidity.run(m, targets: targets, splits: 300, calibrationSize: 1000)
        for o in outcomes {
            #expect(o.splits.count == 300 && o.calibrationSize == 1000)
            // Evaluation on 3,000 examples: an eval risk above eps means the 0.052 setting (or worse) was chosen.
            #expect(o.guaranteedViolations <= o.target.delta, "\(o.target): \(o.guaranteedViolations)")
            #expect(o.pointViolations > 0.15, "the point estimate should often pick the 0.052 setting: \(o.pointViolations)")
            let median = CalibrationValidity.quantile(o.splits.map(\.guaranteedSpeedup), 0.5)
            #expect(median == 1.6, "the 0.03 setting is certified in most splits: \(median)")
            // Full depth is always right here, so the accuracy drop equals the bounded loss.
            #expect(o.splits.allSatisfy { $0.guaranteedDrop == $0.guaranteedRisk })
        }
        // Seeded: the same splits again.
        let again = try CalibrationValidity.run(m, targets: targets, splits: 300, calibrationSize: 1000)
        #expect(again.map(\.splits) == outcomes.map(\.splits))
        #expect(throws: OfframpError.self) { try CalibrationValidity.run(m, targets: targets, splits: 10, calibrationSize: 4000) }
    }

    /// Labeling: one loss per sentence (the fraction of its words hurt), tested by Hoeffding-Bentkus.
    @Test func calibratesATaggerBySentence() throws {
        let (model, sentences, dir) = try TestModels.trainedTagger()
        defer { try? FileManager.default.removeItem(at: dir) }
        let candidates: [ExitPolicy] = [.sentee(0.9, .confidence), .sentee(0.5, .entropy), .budget(layer: 2), .budget(layer: 3),
                                        .sentee(0.8, .confidence), .sentee(0.95, .entropy)]
        let report = try LearnThenTest.calibrate(runner: try EarlyExitRunner(model: model), examples: sentences,
                                                 candidates: candidates, risk: .accuracy, eps: 0.3, delta: 0.1, order: .speedup, date: "")
        #expect(report.n == sentences.count && report.test == .hoeffdingBentkus)
        for (j, c) in report.candidates.enumerated() {
            #expect(c.test.passed == (j < (report.stoppedAt ?? report.candidates.count)))
            #expect(c.test.empiricalRisk >= 0 && c.test.empiricalRisk <= 1)
        }
        if let c = report.chosen { #expect(report.candidates[c].test.empiricalRisk <= 0.3) }
    }
}
