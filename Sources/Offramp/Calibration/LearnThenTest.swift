import Foundation

// MARK: - Calibrating a model's exit policy with a guarantee

/// How the candidates are ordered for fixed-sequence testing.
public enum CandidateOrder: String, Sendable {
    /// By FLOPs speed-up measured on the calibration set, ascending (ties keep
    /// the given order). Strictly, the order should not depend on the
    /// calibration data; speed-up ignores labels and, within one family of
    /// thresholds, follows the threshold, so this is the order one would
    /// have fixed in advance. To be strict across families, order on other
    /// data and pass `.given`.
    case measuredSpeedup
    /// As given: the caller has ordered them safest first.
    case given
}

/// Learn then Test (Angelopoulos et al., 2021) for early exit, as CALM
/// (Schuster et al., 2022) uses it: run full depth and every candidate
/// policy on calibration examples, turn each example's outcome into a
/// loss, and walk the candidates from the safest to the fastest while
/// their p-values stay at most delta.
public enum LearnThenTest {
    /// Calibrates `candidates` on `examples`: the fastest policy whose risk
    /// is at most eps with probability at least 1 - delta, or none.
    /// `date` (ISO-8601) goes into the guarantee as given.
    public static func calibrate(runner: EarlyExitRunner, examples: [EncodedExample], candidates: [ExitPolicy],
                                 risk: CalibrationRisk = .consistency, eps: Double, delta: Double, batchSize: Int = 32,
                                 retention: WordVectorRetention = .saved, order: CandidateOrder = .measuredSpeedup,
                                 date: String, log: (String) -> Void = { _ in }) throws -> CalibrationReport {
        let test = risk.test(for: runner.model.settings.task)
        // Everything that can fail without running the model fails first.
        try FixedSequenceTest.validate(eps: eps, delta: delta)
        try FixedSequenceTest.checkSize(n: examples.count, test: test, eps: eps, delta: delta)
        guard !candidates.isEmpty else { throw OfframpError("no candidate policies to calibrate") }
        for policy in candidates { try runner.validate(policy) }
        let gold = examples.map(\.labels)
        if risk.needsLabels {
            try CalibrationRisk.checkLabeled(gold, queries: examples.map(\.queryPositions.count), risk: risk)
        }

        let full = try runner.run(examples, policy: .full, batchSize: batchSize, retention: retention)
        var measured: [(policy: ExitPolicy, run: ExitRun, losses: [Double])] = []
        for (j, policy) in candidates.enumerated() {
            log("candidate \(j + 1)/\(candidates.count): \(policy)")
            let run = try runner.run(examples, policy: policy, batchSize: batchSize, retention: retention)
            measured.append((policy, run, try risk.exampleLosses(exit: run.results, full: full.results, gold: gold)))
        }
        if order == .measuredSpeedup {
            // The index in the key makes ties keep the given order.
            measured = measured.enumerated().sorted {
                ($0.element.run.flopsSpeedup, $0.offset) < ($1.element.run.flopsSpeedup, $1.offset)
            }.map(\.element)
        }

        let outcome = try FixedSequenceTest.run(losses: measured.map(\.losses), test: test, eps: eps, delta: delta)
        let rows = zip(measured, outcome.candidates).map { m, t in
            CalibratedCandidate(policy: m.policy, flopsSpeedup: m.run.flopsSpeedup, averageExitLayer: m.run.averageExitLayer, test: t)
        }
        let guarantee = outcome.chosen.map { c in
            CalibrationGuarantee(risk: risk.rawValue, test: test.bound.rawValue, eps: eps, delta: delta, n: outcome.n,
                                 pValue: rows[c].test.pValue, empiricalRisk: rows[c].test.empiricalRisk,
                                 flopsSpeedup: rows[c].flopsSpeedup, policy: rows[c].policy.encoded, date: date)
        }
        return CalibrationReport(risk: risk, test: test, eps: eps, delta: delta, n: outcome.n, candidates: rows,
                                 chosen: outcome.chosen, stoppedAt: outcome.stoppedAt, smallestEps: outcome.smallestEps,
                                 guarantee: guarantee)
    }
}
