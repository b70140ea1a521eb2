import Foundation

// MARK: - Losses: softmax cross-entropy, KL divergence
//
// Each returns its value (in Double, summed over rows in a fixed order) and,
// given a gradient pointer, ACCUMULATES the gradient of that returned value.
// `scale` multiplies both: pass a loss weight (or 1/accumulation steps) there.
// Softmaxes are max-subtracted (log-sum-exp), so any finite logits are safe.

/// One row's (max, Σ_c exp(x[c] − max)), the sum accumulated in Double; fills
/// e[c] = exp(x[c] − max) when `e` is given.
@inline(__always)
private func rowExpSum(_ x: UnsafePointer<Float>, count n: Int, into e: UnsafeMutablePointer<Float>?) -> (Float, Double) {
    var m8 = Vec8(repeating: -.infinity)
    var i = 0
    while i + 8 <= n { let v = load8(x + i); m8 = m8.replacing(with: v, where: v .> m8); i += 8 }
    var m = m8.max()
    while i < n { m = max(m, x[i]); i += 1 }
    let mv = Vec8(repeating: m)
    var sum: Double = 0
    i = 0
    while i + 8 <= n {
        let ev = exp8(load8(x + i) - mv)
        if let e { store8(ev, e + i) }
        var partial: Double = 0
        for l in 0..<8 { partial += Double(ev[l]) }
        sum += partial
        i += 8
    }
    while i < n {
        let ev = exp8(Vec8(repeating: x[i] - m))[0]
        e?[i] = ev
        sum += Double(ev)
        i += 1
    }
    return (m, sum)
}

/// Row-wise softmax: out (rows, classes) = softmax(logits / temperature).
/// out may alias logits. The teacher side of distillation uses this.
public func softmaxRows(
    out: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, rows: Int, classes: Int, temperature: Float = 1
) {
    let invT = 1 / temperature
    parallelChunks(rows, minimumChunk: 16) { range in
        for r in range {
            let o = out + r * classes, x = logits + r * classes
            if temperature != 1 {
                for c in 0..<classes { o[c] = x[c] * invT }
            } else if UnsafePointer(o) != x {
                o.update(from: x, count: classes)
            }
            softmaxInPlace(o, count: classes)
        }
    }
}

/// Mean softmax cross-entropy over the rows whose label is not -1, times `scale`:
///
///   L = scale / N · Σ_{r: label ≥ 0} (logsumexp(logits[r]) − logits[r, label[r]])
///
/// with N the number of such rows (L = 0 when there are none). With
/// `dLogits`, accumulates ∂L/∂logits = scale / N · (softmax − onehot) on those
/// rows (ignored rows get nothing). logits (labels.count, classes), row stride
/// `ldLogits`; dLogits row stride `ldDLogits`.
@discardableResult
public func softmaxCrossEntropy(
    logits: UnsafePointer<Float>, labels: [Int32], classes: Int, ldLogits: Int? = nil,
    dLogits: UnsafeMutablePointer<Float>?, ldDLogits: Int? = nil, scale: Float = 1
) -> Double {
    let rows = labels.count
    let ld = ldLogits ?? classes, ldd = ldDLogits ?? classes
    for l in labels { precondition(l == -1 || (l >= 0 && Int(l) < classes), "label \(l) is outside 0..<\(classes) (and not -1)") }
    let counted = labels.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
    if counted == 0 { return 0 }
    let g = scale / Float(counted)
    var perRow = [Double](repeating: 0, count: rows)
    perRow.withUnsafeMutableBufferPointer { lossPtr in
        let losses = lossPtr.baseAddress!
        labels.withUnsafeBufferPointer { lab in
            parallelChunks(rows, minimumChunk: 4) { range in
                for r in range where lab[r] >= 0 {
                    let x = logits + r * ld, y = Int(lab[r])
                    let d = dLogits.map { $0 + r * ldd }
                    let (m, sum) = rowExpSum(x, count: classes, into: nil)
                    losses[r] = log(sum) + Double(m) - Double(x[y])
                    if let d {
                        let coefficient = Float(Double(g) / sum)
                        let mv = Vec8(repeating: m), cv = Vec8(repeating: coefficient)
                        var c = 0
                        while c + 8 <= classes {
                            store8(load8(d + c).addingProduct(exp8(load8(x + c) - mv), cv), d + c)
                            c += 8
                        }
                        while c < classes {
                            d[c] = d[c].addingProduct(exp8(Vec8(repeating: x[c] - m))[0], coefficient)
                            c += 1
                        }
                        d[y] -= g
                    }
                }
            }
        }
    }
    var total: Double = 0
    for r in 0..<rows { total += perRow[r] }
    return total * Double(scale) / Double(counted)
}

/// Which KL divergence `klDivergence` computes.
public enum KLDirection: Sendable {
    /// KL(p_t ‖ p_s) = Σ p_t (log p_t − log p_s): the usual distillation loss
    /// (forward KL); ∂/∂z_s = (p_s − p_t) / T.
    case teacherStudent
    /// KL(p_s ‖ p_t) = Σ p_s (log p_s − log p_t) (reverse KL);
    /// ∂/∂z_s = p_s ⊙ (log p_s − log p_t − KL) / T. Teacher zeros are clamped
    /// to 1e-30 inside the log.
    case studentTeacher
}

/// Mean over rows of a KL divergence between the student's softmax(z / T) and
/// the teacher's probabilities (rows, classes; each row sums to 1; make them
/// with `softmaxRows`), times `scale`. With `dStudentLogits`, accumulates the
/// gradient of the returned value with respect to the student logits z.
///
/// Temperature T divides the student logits only (pass the teacher's
/// probabilities at the same temperature); the customary T² factor is not
/// applied: fold it into `scale`.
@discardableResult
public func klDivergence(
    studentLogits: UnsafePointer<Float>, teacherProbs: UnsafePointer<Float>, rows: Int, classes: Int,
    direction: KLDirection, dStudentLogits: UnsafeMutablePointer<Float>?, scale: Float = 1, temperature: Float = 1
) -> Double {
    if rows <= 0 { return 0 }
    let invT = Double(1 / temperature)
    let g = Double(scale) / Double(rows) * invT  // gradient factor per row
    var perRow = [Double](repeating: 0, count: rows)
    perRow.withUnsafeMutableBufferPointer { lossPtr in
        let losses = lossPtr.baseAddress!
        parallelChunks(rows, minimumChunk: 4) { range in
            // log p_s per class, in Double.
            var logPs = [Double](repeating: 0, count: classes)
            for r in range {
                let z = studentLogits + r * classes, pt = teacherProbs + r * classes
                // log-softmax of z / T, in Double.
                var m = -Double.infinity
                for c in 0..<classes { m = max(m, Double(z[c]) * invT) }
                var sum: Double = 0
                for c in 0..<classes { sum += exp(Double(z[c]) * invT - m) }
                let logSum = log(sum) + m
                for c in 0..<classes { logPs[c] = Double(z[c]) * invT - logSum }
                var kl: Double = 0
                switch direction {
                case .teacherStudent:
                    for c in 0..<classes where pt[c] > 0 {
                        let t = Double(pt[c])
                        kl += t * (log(t) - logPs[c])
                    }
                    if let d = dStudentLogits.map({ $0 + r * classes }) {
                        for c in 0..<classes { d[c] += Float(g * (exp(logPs[c]) - Double(pt[c]))) }
                    }
                case .studentTeacher:
                    for c in 0..<classes {
                        let ps = exp(logPs[c])
                        kl += ps * (logPs[c] - log(max(Double(pt[c]), 1e-30)))
                    }
                    if let d = dStudentLogits.map({ $0 + r * classes }) {
                        for c in 0..<classes {
                            let ps = exp(logPs[c])
                            let a = logPs[c] - log(max(Double(pt[c]), 1e-30))
                            d[c] += Float(g * ps * (a - kl))
                        }
                    }
                }
                losses[r] = kl
            }
        }
    }
    var total: Double = 0
    for r in 0..<rows { total += perRow[r] }
    return total * Double(scale) / Double(rows)
}
