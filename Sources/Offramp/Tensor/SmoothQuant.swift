import Foundation

// MARK: - SmoothQuant: moving activation outliers into the weights
//
// docs/methods.md#smoothquant. A few hidden channels of some models carry
// values far above the rest, and a per-row int8 scale then spends most of
// its range on them. With s_j = max|X_j|^α / max_c |W[c,j]|^(1−α),
// X W = (X diag(s)⁻¹)(diag(s) W): the weights, quantized per output channel,
// absorb the outliers. The division by s_j happens in the pass that
// quantizes the activations anyway (a multiply per element).

/// The largest |x_j| each linear layer's input channel j reached, recorded
/// over calibration text (keyed by the layer's weight).
public final class ChannelRanges: @unchecked Sendable {
    private(set) var maxima: [UnsafeRawPointer: [Float]] = [:]

    public init() {}

    /// Folds the rows of inp (rows, inDim; stride ldInp) into `key`'s maxima.
    func record(_ key: UnsafeRawPointer, _ inp: UnsafePointer<Float>, rows: Int, inDim: Int, ldInp: Int) {
        var m = maxima[key] ?? [Float](repeating: 0, count: inDim)
        m.withUnsafeMutableBufferPointer { m in
            for r in 0..<rows {
                let row = inp + r * ldInp
                for j in 0..<inDim { m[j] = max(m[j], abs(row[j])) }
            }
        }
        maxima[key] = m
    }

    /// SmoothQuant's s_j for W (outDim, inDim) under `key`, or nil when the
    /// layer never ran. A channel that stayed 0 (or whose weights are all 0) keeps s_j = 1.
    func smoothing(_ key: UnsafeRawPointer, weight: UnsafePointer<Float>, outDim: Int, inDim: Int, alpha: Float) -> [Float]? {
        guard let x = maxima[key] else { return nil }
        var w = [Float](repeating: 0, count: inDim)
        for c in 0..<outDim { for j in 0..<inDim { w[j] = max(w[j], abs(weight[c * inDim + j])) } }
        return (0..<inDim).map { j in
            x[j] > 0 && w[j] > 0 ? Float.pow(x[j], alpha) / Float.pow(w[j], 1 - alpha) : 1
        }
    }
}

extension Float {
    static func pow(_ x: Float, _ y: Float) -> Float { Float(Foundation.pow(Double(x), Double(y))) }
}
