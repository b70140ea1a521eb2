import Foundation

// MARK: - The binomial lower tail, accurately, for large n

/// P(Binomial(n, p) <= k) and the binomial probabilities behind it, in log
/// space, so calibration sets of a million queries neither underflow nor
/// lose the tail's precision.
///
/// Each probability uses Loader's saddle-point form ("Fast and accurate
/// computation of binomial probabilities", 2000): the Stirling remainder of
/// each factorial and the deviance `bd0` are computed directly, so nothing
/// cancels between log-factorials of size n log n (plain `lgamma` loses
/// about nine digits at n = 10^6). The tail sums outward from its largest
/// term until terms drop below e^-50 of it; for k at or above the mode it is
/// one minus the upper tail, so values near 1 keep their precision too.
public enum BinomialTail {
    /// P(Binomial(n, p) <= k), in [0, 1].
    public static func cdf(atMost k: Int, trials n: Int, probability p: Double) -> Double {
        min(1, max(0, exp(logCDF(atMost: k, trials: n, probability: p))))
    }

    /// log P(Binomial(n, p) <= k); -infinity when the probability is 0.
    public static func logCDF(atMost k: Int, trials n: Int, probability p: Double) -> Double {
        precondition(n >= 0 && p >= 0 && p <= 1, "Binomial(\(n), \(p)) is not a distribution")
        if k < 0 { return -.infinity }
        if k >= n || p == 0 { return 0 }
        if p == 1 { return -.infinity }
        let mode = min(n, Int((Double(n) + 1) * p))
        if k < mode {
            // Terms grow up to the mode: the largest in 0...k is at k.
            return logSum(from: k, step: -1, through: 0, n: n, p: p)
        }
        // Terms shrink past the mode: the upper tail's largest is at k + 1.
        let upper = exp(logSum(from: k + 1, step: 1, through: n, n: n, p: p))
        return log1p(-min(upper, 1))
    }

    /// log P(Binomial(n, p) = x).
    public static func logPMF(_ x: Int, trials n: Int, probability p: Double) -> Double {
        if x < 0 || x > n { return -.infinity }
        let q = 1 - p
        if x == 0 { return p == 0 ? 0 : Double(n) * log1p(-p) }
        if x == n { return p == 1 ? 0 : Double(n) * log(p) }
        if p == 0 || p == 1 { return -.infinity }
        let (nd, xd) = (Double(n), Double(x))
        let lc = stirlingRemainder(n) - stirlingRemainder(x) - stirlingRemainder(n - x)
            - deviance(xd, nd * p) - deviance(nd - xd, nd * q)
        return lc - 0.5 * (log(2 * Double.pi) + log(xd) + log1p(-xd / nd))
    }

    // MARK: - Pieces

    /// log of the sum of the terms from `start` towards `end`, which shrink
    /// in that direction; stops once they are below e^-50 of the first.
    /// The log-concave terms' ratios shrink too, so what is left out is
    /// below 1e-16 of the sum even for n = 10^7.
    static func logSum(from start: Int, step: Int, through end: Int, n: Int, p: Double) -> Double {
        let first = logPMF(start, trials: n, probability: p)
        var sum = 1.0, x = start
        while x != end {
            x += step
            let relative = logPMF(x, trials: n, probability: p) - first
            if relative < -50 { break }
            sum += exp(relative)
        }
        return first + log(sum)
    }

    /// log(m!) - [(m + 1/2) log m - m + log sqrt(2 pi)]: what Stirling's
    /// formula leaves out. Exact through lgamma for small m (where lgamma is
    /// small too), else its asymptotic series in 1/m.
    static func stirlingRemainder(_ m: Int) -> Double {
        let x = Double(m)
        if m <= 15 {
            return m == 0 ? 0 : lgamma(x + 1) - (x + 0.5) * log(x) + x - 0.5 * log(2 * Double.pi)
        }
        let (s0, s1, s2, s3, s4) = (1.0 / 12, 1.0 / 360, 1.0 / 1260, 1.0 / 1680, 1.0 / 1188)
        let xx = x * x
        if m > 500 { return (s0 - s1 / xx) / x }
        if m > 80 { return (s0 - (s1 - s2 / xx) / xx) / x }
        if m > 35 { return (s0 - (s1 - (s2 - s3 / xx) / xx) / xx) / x }
        return (s0 - (s1 - (s2 - (s3 - s4 / xx) / xx) / xx) / xx) / x
    }

    /// x log(x / m) + m - x, by its series when x is near m, where the
    /// direct form would cancel.
    static func deviance(_ x: Double, _ m: Double) -> Double {
        guard abs(x - m) < 0.1 * (x + m) else { return x * log(x / m) + m - x }
        let v = (x - m) / (x + m)
        var sum = (x - m) * v, term = 2 * x * v
        var j = 1.0
        while true {
            term *= v * v
            let next = sum + term / (2 * j + 1)
            if next == sum { return next }
            sum = next
            j += 1
        }
    }
}
