import Foundation
import Offramp
import Testing

// MARK: - Central finite differences against an analytic gradient
//
// Reusable for single ops and for whole-model checks: give the parameters as
// a [Float], the analytic gradient of a scalar loss with respect to them, and
// the loss as a closure. Each checked element is perturbed by ±h (in Float);
// the numeric derivative divides by the step actually taken (the difference
// of the two perturbed Float values), so Float rounding of x ± h adds no error.
// Evaluate the loss in Double where possible (e.g. Σ dOut·out in Double with a
// random dOut, which makes each check a projection onto a random direction).

/// The outcome of one `checkGradient` call: the worst element by the scaled
/// error |analytic − numeric| / max(|analytic|, |numeric|, floor).
struct GradientCheckResult: CustomStringConvertible {
    var name: String
    var checked: Int
    var worstIndex: Int
    var worstError: Double
    var worstAnalytic: Double
    var worstNumeric: Double
    var floor: Double
    var maxNumeric: Double

    var description: String {
        "\(name): \(checked) elements, worst scaled error \(String(format: "%.2e", worstError)) at [\(worstIndex)] "
            + "(analytic \(worstAnalytic), numeric \(worstNumeric); floor \(String(format: "%.1e", floor)), max |numeric| \(String(format: "%.2e", maxNumeric)))"
    }
}

/// Checks `analytic` against central differences of `loss` over `parameters`
/// and records a test issue (at the caller's line) when the worst element's
/// scaled error exceeds `tolerance`.
///
/// - h: the perturbation (absolute, in parameter units).
/// - tolerance: bound on |a − n| / max(|a|, |n|, floor): relative for large
///   entries, absolute (tolerance · floor) for entries near zero.
/// - absoluteFloor: `floor` above; default 1e-3 · max |numeric| (+1e-12), so
///   elements much smaller than the gradient's scale are not judged by their
///   own (noisy) relative error. Raise it when the loss is evaluated in Float.
/// - indices: the elements to check (default all): sample them for big models.
/// - loss: the scalar loss of a parameter vector. `parameters` is restored.
///
/// Also fails when the numeric gradient is zero on every checked element
/// (a check that cannot fail is a mistake: pick a loss that depends on them).
@discardableResult
func checkGradient(
    _ name: String, parameters: inout [Float], analytic: [Float], h: Float = 1e-3, tolerance: Double = 1e-3,
    absoluteFloor: Double? = nil, indices: [Int]? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    loss: ([Float]) -> Double
) -> GradientCheckResult {
    precondition(parameters.count == analytic.count, "\(name): \(parameters.count) parameters, \(analytic.count) gradient entries")
    let which = indices ?? Array(0..<parameters.count)
    var numeric = [Double](repeating: 0, count: which.count)
    for (n, i) in which.enumerated() {
        let x = parameters[i]
        let xp = x + h, xm = x - h
        parameters[i] = xp
        let lp = loss(parameters)
        parameters[i] = xm
        let lm = loss(parameters)
        parameters[i] = x
        numeric[n] = (lp - lm) / (Double(xp) - Double(xm))
    }
    let maxNumeric = numeric.reduce(0) { max($0, abs($1)) }
    let floor = absoluteFloor ?? (1e-3 * maxNumeric + 1e-12)
    var result = GradientCheckResult(name: name, checked: which.count, worstIndex: -1, worstError: 0,
                                     worstAnalytic: 0, worstNumeric: 0, floor: floor, maxNumeric: maxNumeric)
    for (n, i) in which.enumerated() {
        let a = Double(analytic[i]), num = numeric[n]
        let err = abs(a - num) / max(abs(a), abs(num), floor)
        if err > result.worstError || result.worstIndex < 0 || err.isNaN {
            result.worstError = err.isNaN ? .infinity : err
            result.worstIndex = i; result.worstAnalytic = a; result.worstNumeric = num
        }
    }
    #expect(result.worstError <= tolerance, "\(result)", sourceLocation: sourceLocation)
    #expect(maxNumeric > 0, "\(name): the numeric gradient is all zero (a vacuous check)", sourceLocation: sourceLocation)
    // One line per check (swift test shows stdout): the worst error per op at a glance.
    print("gradient check \(result)")
    return result
}

/// Runs `loss` (which leaves its gradient in `trainer.grads`), then checks
/// that gradient by central differences on `perEntry` elements of every
/// entry but the pooler, restoring the store after each evaluation.
func checkModelGradient(_ name: String, model: MultiExitModel, trainer: Trainer, perEntry: Int,
                        loss: @escaping () throws -> Double) throws {
    _ = try loss()
    let analytic = trainer.grads.storage.array
    var params = model.store.storage.array
    var indices: [Int] = []
    for e in model.store.entries where !e.name.hasPrefix("pooler.") {
        for k in 0..<min(e.count, perEntry) { indices.append(e.offset + (k * 7919) % e.count) }
    }
    let storage = model.store.storage.pointer, count = params.count
    checkGradient(name, parameters: &params, analytic: analytic, h: 1e-2, tolerance: 2e-2, absoluteFloor: 1e-3, indices: indices) { p in
        p.withUnsafeBufferPointer { storage.update(from: $0.baseAddress!, count: count) }
        return (try? loss()) ?? .nan
    }
}
