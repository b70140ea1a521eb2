import Foundation

// MARK: - Valid p-values for "the risk is above eps" (docs/methods.md#calibration)

/// How n per-query losses become a p-value for the null hypothesis
/// H0: "the mean loss (the risk) is above eps". Under H0 the p-value is at
/// most delta with probability at most delta over the draw of the queries,
/// which is all Learn-then-Test needs.
///
/// The losses lie in [`lowest`, `highest`]; losses and eps are mapped to
/// [0, 1] before the bound, which is stated for losses in [0, 1].
public struct RiskTest: Sendable, Equatable, Codable {
    public enum Bound: String, Sendable, Codable {
        /// For losses that are 0 or 1: P(Binomial(n, eps) <= number of losses), exact.
        case exactBinomial = "binomial"
        /// For any loss in [0, 1]: Hoeffding's and Bentkus's bounds, the smaller.
        case hoeffdingBentkus = "hoeffding-bentkus"
    }

    public let bound: Bound
    public let lowest: Double
    public let highest: Double

    public init(bound: Bound, lowest: Double = 0, highest: Double = 1) {
        precondition(lowest < highest, "a loss range must not be empty")
        self.bound = bound; self.lowest = lowest; self.highest = highest
    }

    /// {0, 1} losses, exact binomial tail.
    public static let binomial = RiskTest(bound: .exactBinomial)
    /// Losses in [0, 1], Hoeffding-Bentkus.
    public static let hoeffdingBentkus = RiskTest(bound: .hoeffdingBentkus)
    /// Losses in [-1, 1] (a difference of two indicators), Hoeffding-Bentkus.
    public static let signedHoeffdingBentkus = RiskTest(bound: .hoeffdingBentkus, lowest: -1)

    /// `x` mapped from [lowest, highest] to [0, 1].
    func unit(_ x: Double) -> Double { (x - lowest) / (highest - lowest) }

    // MARK: - p-values

    /// The p-value of H0 "risk > eps" from the losses.
    public func pValue(losses: [Double], eps: Double) -> Double {
        pValue(lossSum: losses.reduce(0, +), n: losses.count, eps: eps)
    }

    /// The p-value from the losses' sum over n queries (the sum of the
    /// losses as given, in [lowest, highest]).
    public func pValue(lossSum: Double, n: Int, eps: Double) -> Double {
        precondition(n > 0, "a p-value needs at least one loss")
        let level = unit(eps)
        let scaledSum = (lossSum - Double(n) * lowest) / (highest - lowest)
        switch bound {
        case .exactBinomial:
            return Self.binomialPValue(losses: Int(scaledSum.rounded()), n: n, eps: level)
        case .hoeffdingBentkus:
            return Self.hoeffdingBentkusPValue(lossSum: scaledSum, n: n, eps: level)
        }
    }

    /// P(Binomial(n, eps) <= k) for k losses of n: under H0 the count of
    /// {0, 1} losses is stochastically at least Binomial(n, eps).
    public static func binomialPValue(losses k: Int, n: Int, eps: Double) -> Double {
        BinomialTail.cdf(atMost: k, trials: n, probability: eps)
    }

    /// min(exp(-n h(min(r, eps), eps)), e P(Binomial(n, eps) <= ceil(n r)))
    /// for losses in [0, 1] summing to n r (Bates et al., "Distribution-free,
    /// risk-controlling prediction sets", 2021, as Learn-then-Test uses it).
    public static func hoeffdingBentkusPValue(lossSum: Double, n: Int, eps: Double) -> Double {
        let r = min(1, max(0, lossSum / Double(n)))
        let hoeffding = exp(-Double(n) * bernoulliDivergence(min(r, eps), eps))
        // A sum a hair above a whole number by rounding only rounds k up: more conservative.
        let k = Int(lossSum.rounded(.up))
        let bentkus = M_E * BinomialTail.cdf(atMost: k, trials: n, probability: eps)
        return min(1, hoeffding, bentkus)
    }

    /// h(a, b) = a log(a / b) + (1 - a) log((1 - a) / (1 - b)), with 0 log 0 = 0:
    /// the Kullback-Leibler divergence of Bernoulli(a) from Bernoulli(b).
    public static func bernoulliDivergence(_ a: Double, _ b: Double) -> Double {
        let left = a == 0 ? 0 : a * log(a / b)
        let right = a == 1 ? 0 : (1 - a) * (log1p(-a) - log1p(-b))
        return left + right
    }

    // MARK: - What the data can support

    /// The smallest n at which any setting can pass at (eps, delta): the p-value
    /// of the best possible outcome, every loss at `lowest`, is (1 - eps')^n
    /// under both bounds (eps' is eps mapped to [0, 1]), so
    /// n >= log(delta) / log(1 - eps'). For {0, 1} losses that is "no loss seen".
    public func minimumQueries(eps: Double, delta: Double) -> Int {
        let perQuery = log1p(-unit(eps))
        let n = (log(delta) / perQuery).rounded(.up)
        guard n < 1e15 else { return Int(1e15) }
        var m = max(1, Int(n))
        // The quotient may round either way: settle on the p-value's own comparison.
        while m > 1 && exp(Double(m - 1) * perQuery) <= delta { m -= 1 }
        while exp(Double(m) * perQuery) > delta { m += 1 }
        return m
    }

    /// The smallest eps in (0, 1) at which `losses` pass at delta (p-values
    /// fall as eps rises), or nil when none does (every loss at its highest).
    /// For k = 0 of n {0, 1} losses it is 1 - delta^(1/n).
    public func smallestEps(losses: [Double], delta: Double) -> Double? {
        let sum = losses.reduce(0, +), n = losses.count
        guard n > 0 else { return nil }
        func passes(_ eps: Double) -> Bool { pValue(lossSum: sum, n: n, eps: eps) <= delta }
        var low = 0.0, high = 1 - 1e-12
        guard passes(high) else { return nil }
        for _ in 0..<100 where high - low > 1e-13 * high {
            let mid = (low + high) / 2
            if passes(mid) { high = mid } else { low = mid }
        }
        return high
    }
}
