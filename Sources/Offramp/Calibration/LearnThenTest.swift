import Foundation

// MARK: - Calibrating a model's exit policy with a guarantee

/// How the candidates are ordered for fixed-sequence testing.
public enum CandidateOrder: String, Sendable, CaseIterable {
    /// One sequence per policy family (`ExitPolicy.calibrationFamily`: the
    /// thresholds of one policy, TOKEE's per window), each ordered by FLOPs
    /// speed-up, ascending, and walked at delta / (number of families), a
    /// Bonferroni split; the fastest setting certified in any family wins.
    /// Within a family the speed-up follows the threshold, so each order is
    /// the one fixed in advance, and no family's early failure stops the others.
    case perFamily = "per-family"
    /// All candidates in one sequence by FLOPs speed-up measured on the
    /// calibration set, ascending (ties keep the given order), walked at
    /// delta. Across families that order depends on the data (without its
    /// labels); one hard setting stops the walk for every family after it.
    case speedup
    /// As given, one sequence at delta: the caller has ordered them safest first.
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
                                 retention: WordVectorRetention = .saved, order: CandidateOrder = .perFamily,
                                 date: String, log: (String) -> Void = { _ in }) throws -> CalibrationReport {
        let test = risk.test(for: runner.model.settings.task)
        // Everything that can fail without running the model fails first.
        try FixedSequenceTest.validate(eps: eps, delta: delta)
        guard !candidates.isEmpty else { throw OfframpError("no candidate policies to calibrate") }
        try checkSize(n: examples.count, test: test, eps: eps, delta: delta, sequences: sequenceCount(candidates, order))
        for policy in candidates { try runner.validate(policy) }
        if risk.needsLabels {
            try CalibrationRisk.checkLabeled(examples.map(\.labels), queries: examples.map(\.queryPositions.count), risk: risk)
        }
        let measured = try CalibrationMeasurements.measure(runner: runner, examples: examples, candidates: candidates,
                                                           batchSize: batchSize, retention: retention, log: log)
        return try choose(measured, losses: measured.losses(risk), risk: risk, eps: eps, delta: delta, order: order, date: date)
    }

    /// Chooses on measurements already made, over the examples `subset`
    /// (all when nil): `losses` are `measured.losses(risk)`, passed so that
    /// many subsets share one computation. `smallestEps: false` skips the
    /// search for the finest supported bound.
    public static func choose(_ measured: CalibrationMeasurements, losses: [[Double]], subset: [Int]? = nil,
                              risk: CalibrationRisk, eps: Double, delta: Double, order: CandidateOrder = .perFamily,
                              smallestEps: Bool = true, date: String) throws -> CalibrationReport {
        let test = risk.test(for: measured.task)
        let indices = subset ?? Array(0..<measured.count)
        let speedups = measured.candidates.indices.map { measured.flopsSpeedup($0, over: indices) }
        let sequences = self.sequences(measured.candidates, speedups: speedups, order: order)
        let level = delta / Double(sequences.count)
        try FixedSequenceTest.validate(eps: eps, delta: delta)
        try checkSize(n: indices.count, test: test, eps: eps, delta: delta, sequences: sequences.count)

        var rows: [CalibratedCandidate] = [], stops: [Int] = [], chosen: Int?, finest: Double?
        for sequence in sequences {
            let outcome = try FixedSequenceTest.run(losses: sequence.map { j in indices.map { losses[j][$0] } }, test: test,
                                                    eps: eps, delta: level, smallestEps: smallestEps)
            let offset = rows.count
            for (j, t) in zip(sequence, outcome.candidates) {
                rows.append(CalibratedCandidate(policy: measured.candidates[j], flopsSpeedup: speedups[j],
                                                averageExitLayer: measured.averageExitLayer(j, over: indices), test: t))
            }
            if let s = outcome.stoppedAt { stops.append(offset + s) }
            if let c = outcome.chosen, chosen.map({ rows[offset + c].flopsSpeedup > rows[$0].flopsSpeedup }) ?? true { chosen = offset + c }
            if let e = outcome.smallestEps { finest = min(finest ?? e, e) }
        }
        let guarantee = chosen.map { c in
            CalibrationGuarantee(risk: risk.rawValue, test: test.bound.rawValue, eps: eps, delta: delta, n: indices.count,
                                 pValue: rows[c].test.pValue, empiricalRisk: rows[c].test.empiricalRisk,
                                 flopsSpeedup: rows[c].flopsSpeedup, policy: rows[c].policy.encoded, date: date,
                                 retention: measured.retention?.lengths)
        }
        var ranges: [Range<Int>] = [], start = 0
        for s in sequences { ranges.append(start ..< start + s.count); start += s.count }
        return CalibrationReport(risk: risk, test: test, eps: eps, delta: delta, n: indices.count, candidates: rows,
                                 sequences: ranges, chosen: chosen, stops: stops, smallestEps: finest, guarantee: guarantee)
    }

    // MARK: - Sequences

    /// The candidates' indices as the sequences to walk, each safest first.
    static func sequences(_ candidates: [ExitPolicy], speedups: [Double], order: CandidateOrder) -> [[Int]] {
        // The index in the key makes ties keep the given order.
        func bySpeedup(_ js: [Int]) -> [Int] { js.sorted { (speedups[$0], $0) < (speedups[$1], $1) } }
        switch order {
        case .given: return [Array(candidates.indices)]
        case .speedup: return [bySpeedup(Array(candidates.indices))]
        case .perFamily:
            var families: [String] = [], members: [String: [Int]] = [:]
            for (j, c) in candidates.enumerated() {
                let f = c.calibrationFamily
                if members[f] == nil { families.append(f) }
                members[f, default: []].append(j)
            }
            return families.map { bySpeedup(members[$0]!) }
        }
    }

    /// The fewest calibration examples with which any of `candidates` can
    /// pass at (eps, delta) under `order` (every sequence walks at delta / their number).
    public static func minimumExamples(candidates: [ExitPolicy], test: RiskTest, eps: Double, delta: Double,
                                       order: CandidateOrder = .perFamily) -> Int {
        test.minimumQueries(eps: eps, delta: delta / Double(sequenceCount(candidates, order)))
    }

    static func sequenceCount(_ candidates: [ExitPolicy], _ order: CandidateOrder) -> Int {
        order == .perFamily ? Set(candidates.map(\.calibrationFamily)).count : 1
    }

    /// Throws unless n examples are enough for a setting to pass in one of
    /// `sequences` sequences walked at delta / sequences each.
    static func checkSize(n: Int, test: RiskTest, eps: Double, delta: Double, sequences: Int) throws {
        do {
            try FixedSequenceTest.checkSize(n: n, test: test, eps: eps, delta: delta / Double(sequences))
        } catch let e as OfframpError where sequences > 1 {
            throw OfframpError(e.message + " (delta \(delta) is split over \(sequences) policy families; "
                + "ordering all candidates in one sequence, --order speedup, needs \(test.minimumQueries(eps: eps, delta: delta)))")
        }
    }
}
