import Foundation

// MARK: - Does the guarantee hold on new data, and what does it cost?

/// The validity benchmark (docs/results.md#calibration): split a pooled
/// labeled set at random into a calibration part and an evaluation part
/// many times; calibrate on one part, with Learn-then-Test and with the
/// point estimate, and measure the chosen setting's risk and speed-up on
/// the other. Runs on measurements made once, so a thousand splits cost
/// arithmetic, not model runs.
public enum CalibrationValidity {
    /// One target: bound `risk` by `eps` with probability 1 - `delta`.
    public struct Target: Sendable, Hashable {
        public let risk: CalibrationRisk
        public let eps: Double
        public let delta: Double
        public init(risk: CalibrationRisk, eps: Double, delta: Double) { self.risk = risk; self.eps = eps; self.delta = delta }
    }

    /// What one split gave: the chosen settings' risk and speed-up on the evaluation part.
    public struct Split: Sendable, Equatable {
        /// Learn-then-Test's setting (full depth when none passed): its
        /// evaluation risk in the units it bounds (for `accuracy`, the rate of
        /// "full right, exit wrong"), its accuracy drop, and its FLOPs speed-up.
        public let guaranteedRisk: Double
        public let guaranteedDrop: Double
        public let guaranteedSpeedup: Double
        /// The point estimate's setting: the fastest whose calibration risk
        /// (for the accuracy risks, the accuracy drop, as `--delta none` does)
        /// is at most eps.
        public let pointRisk: Double
        public let pointSpeedup: Double
    }

    /// All splits of one target, with the rates that matter.
    public struct Outcome: Sendable {
        public let target: Target
        public let calibrationSize: Int
        public let splits: [Split]

        /// The fraction of splits where the guaranteed setting's evaluation risk exceeds eps (at most about delta).
        public var guaranteedViolations: Double { rate { $0.guaranteedRisk > target.eps } }
        /// The same for the accuracy drop of the guaranteed setting (at most the bounded loss).
        public var guaranteedDropViolations: Double { rate { $0.guaranteedDrop > target.eps } }
        /// The same for the point estimate: often near one half.
        public var pointViolations: Double { rate { $0.pointRisk > target.eps } }

        func rate(_ violated: (Split) -> Bool) -> Double {
            splits.isEmpty ? 0 : Double(splits.filter(violated).count) / Double(splits.count)
        }
    }

    /// Runs `splits` random splits (seeded: split s shuffles with seed + s)
    /// of the measured examples into `calibrationSize` calibration examples
    /// and the rest for evaluation, for every target.
    public static func run(_ measured: CalibrationMeasurements, targets: [Target], splits: Int, calibrationSize: Int,
                           order: CandidateOrder = .perFamily, seed: UInt64 = 1,
                           progress: (Int) -> Void = { _ in }) throws -> [Outcome] {
        guard calibrationSize > 0, calibrationSize < measured.count else {
            throw OfframpError("calibration size \(calibrationSize) must leave examples of the \(measured.count) for evaluation")
        }
        guard splits > 0 else { throw OfframpError("the number of splits must be positive, got \(splits)") }
        var losses: [CalibrationRisk: [[Double]]] = [:]
        for risk in Set(targets.map(\.risk)).union([.accuracyDrop]) where risk == .consistency || measured.isLabeled {
            losses[risk] = try measured.losses(risk)
        }
        // For the accuracy risks: the point estimate and the drop read the accuracy drop itself.
        guard targets.allSatisfy({ losses[$0.risk] != nil }) else {
            throw OfframpError("the accuracy risks need gold labels on every example; risk consistency needs none")
        }
        var results = targets.map { _ in [Split]() }
        for s in 0..<splits {
            let shuffled = CorpusPreparation.shuffled(Array(0..<measured.count), seed: seed &+ UInt64(s))
            let calibration = Array(shuffled[..<calibrationSize]), evaluation = Array(shuffled[calibrationSize...])
            for (t, target) in targets.enumerated() {
                let bounded = losses[target.risk]!, drop = losses[.accuracyDrop] ?? bounded
                let report = try LearnThenTest.choose(measured, losses: bounded, subset: calibration, risk: target.risk,
                                                      eps: target.eps, delta: target.delta, order: order, smallestEps: false, date: "")
                let guaranteed = report.chosen.flatMap { c in measured.candidates.firstIndex(of: report.candidates[c].policy) }
                let pointLosses = target.risk == .consistency ? bounded : drop
                let point = pointEstimate(measured, losses: pointLosses, subset: calibration, eps: target.eps)
                func mean(_ l: [[Double]], _ j: Int?) -> Double {
                    guard let j else { return 0 }
                    return evaluation.reduce(0.0) { $0 + l[j][$1] } / Double(evaluation.count)
                }
                func speedup(_ j: Int?) -> Double { j.map { measured.flopsSpeedup($0, over: evaluation) } ?? 1 }
                results[t].append(Split(guaranteedRisk: mean(bounded, guaranteed),
                                        guaranteedDrop: target.risk == .consistency ? mean(bounded, guaranteed) : mean(drop, guaranteed),
                                        guaranteedSpeedup: speedup(guaranteed),
                                        pointRisk: mean(pointLosses, point), pointSpeedup: speedup(point)))
            }
            progress(s + 1)
        }
        return zip(targets, results).map { Outcome(target: $0, calibrationSize: calibrationSize, splits: $1) }
    }

    /// The fastest candidate (by calibration speed-up) whose mean loss on
    /// `subset` is at most eps; nil (full depth) if none.
    static func pointEstimate(_ measured: CalibrationMeasurements, losses: [[Double]], subset: [Int], eps: Double) -> Int? {
        var best: (j: Int, speedup: Double)?
        for j in measured.candidates.indices {
            let risk = subset.reduce(0.0) { $0 + losses[j][$1] } / Double(subset.count)
            guard risk <= eps + 1e-12 else { continue }
            let s = measured.flopsSpeedup(j, over: subset)
            if s > (best?.speedup ?? 1) { best = (j, s) }
        }
        return best?.j
    }

    /// The q-quantile (0...1) of `values` by the nearest rank.
    public static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }
}

extension CalibrationMeasurements {
    /// Whether every query of every example has a gold label.
    public var isLabeled: Bool {
        zip(gold, full).allSatisfy { g, f in g.count == f.count && g.allSatisfy { $0 >= 0 } }
    }
}
