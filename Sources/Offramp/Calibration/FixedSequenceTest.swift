import Foundation

// MARK: - Learn-then-Test by fixed-sequence testing (docs/methods.md#calibration)

/// One candidate setting's test.
public struct CandidateTest: Sendable, Equatable {
    /// Mean loss over the calibration examples, in the losses' own units.
    public let empiricalRisk: Double
    /// p-value of H0 "risk > eps" (computed for every candidate, tested or not).
    public let pValue: Double
    /// Reached by the walk and rejected H0: certified, jointly with those before it.
    public let passed: Bool
}

/// The outcome of walking the candidates from the safest to the fastest.
public struct FixedSequenceOutcome: Sendable, Equatable {
    /// Per candidate, in the order tested.
    public let candidates: [CandidateTest]
    /// The last candidate passed, the fastest certified one; nil if the first failed.
    public let chosen: Int?
    /// The first candidate that failed, where the walk stopped; nil if all passed.
    public let stoppedAt: Int?
    /// The smallest eps at which the first candidate would pass at this
    /// delta: the finest guarantee these data can give. nil if none.
    public let smallestEps: Double?
    /// Calibration examples.
    public let n: Int
}

/// Fixed-sequence testing: test the candidates in an order fixed in
/// advance, safest first, and stop at the first that fails. Every setting
/// passed then has risk <= eps, jointly, with probability at least
/// 1 - delta (each null is tested only if all before it were rejected, so
/// the first true null reached is rejected with probability <= delta, and
/// no multiplicity correction is needed). Testing on past a failure, or
/// picking the best p-value, would lose this.
public enum FixedSequenceTest {
    /// Walks `losses` (one array per candidate, safest first, one loss per
    /// calibration example) at (eps, delta). `smallestEps: false` skips the
    /// search for the finest bound (a hundred p-values).
    public static func run(losses: [[Double]], test: RiskTest, eps: Double, delta: Double,
                           smallestEps: Bool = true) throws -> FixedSequenceOutcome {
        try validate(eps: eps, delta: delta)
        guard let n = losses.first?.count else { throw OfframpError("no candidate settings to calibrate") }
        try checkSize(n: n, test: test, eps: eps, delta: delta)
        for (j, l) in losses.enumerated() { try check(l, candidate: j + 1, n: n, test: test) }
        var rows: [CandidateTest] = [], stoppedAt: Int?
        for (j, l) in losses.enumerated() {
            let p = test.pValue(losses: l, eps: eps)
            if stoppedAt == nil && p > delta { stoppedAt = j }
            rows.append(CandidateTest(empiricalRisk: l.reduce(0, +) / Double(n), pValue: p, passed: stoppedAt == nil))
        }
        let chosen = (stoppedAt ?? rows.count) - 1
        return FixedSequenceOutcome(candidates: rows, chosen: chosen >= 0 ? chosen : nil, stoppedAt: stoppedAt,
                                    smallestEps: smallestEps ? test.smallestEps(losses: losses[0], delta: delta) : nil, n: n)
    }

    // MARK: - Checks

    /// eps and delta must be finite and strictly between 0 and 1.
    public static func validate(eps: Double, delta: Double) throws {
        for (name, value, meaning) in [("eps", eps, "the risk level"), ("delta", delta, "the probability the guarantee fails")]
        where !(value > 0 && value < 1) {
            throw OfframpError("\(name) \(value) is out of range: \(name), \(meaning), must be in (0, 1)")
        }
    }

    /// Throws unless n examples are enough for some setting to pass at
    /// (eps, delta), stating how many are.
    public static func checkSize(n: Int, test: RiskTest, eps: Double, delta: Double) throws {
        guard n > 0 else { throw OfframpError("no calibration examples (n = 0)") }
        let needed = test.minimumQueries(eps: eps, delta: delta)
        guard n >= needed else {
            throw OfframpError("\(n) calibration examples are too few for any setting to pass at eps \(eps) and delta \(delta): "
                + "at least \(needed) are needed")
        }
    }

    static func check(_ losses: [Double], candidate: Int, n: Int, test: RiskTest) throws {
        guard losses.count == n else {
            throw OfframpError("candidate \(candidate) has \(losses.count) losses, candidate 1 has \(n)")
        }
        for (i, x) in losses.enumerated() {
            let fits = test.bound == .exactBinomial ? x == test.lowest || x == test.highest : x >= test.lowest && x <= test.highest
            guard fits else {
                let range = test.bound == .exactBinomial ? "\(test.lowest) or \(test.highest)" : "in [\(test.lowest), \(test.highest)]"
                throw OfframpError("loss \(x) of candidate \(candidate), example \(i + 1), must be \(range) for the \(test.bound.rawValue) test")
            }
        }
    }
}
