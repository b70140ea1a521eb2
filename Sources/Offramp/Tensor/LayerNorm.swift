import Foundation

// MARK: - LayerNorm (fused with the residual add)

/// out[r] = LayerNorm(x[r] + bias + residual[r]) · gamma + beta, for every row.
///
/// x, residual and out are (rows, cols); `bias` and `residual` are optional.
/// `out` may alias `x` or `residual`: each row is summed into `out` first, then
/// normalized there. Mean and variance are two-pass (as PyTorch), variance
/// biased, over cols.
public func residualLayerNorm(
    out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    rows: Int, cols: Int, eps: Float
) {
    parallelChunks(rows, minimumChunk: 32) { range in
        for r in range {
            layerNormRow(out: out + r * cols, x: x + r * cols, bias: bias,
                         residual: residual.map { $0 + r * cols }, gamma: gamma, beta: beta, cols: cols, eps: eps)
        }
    }
}

/// One row: sum = x + bias + residual (bias and residual optional) goes to
/// `sum` (default: `out`, in place), then out = (sum − mean)·rstd·gamma + beta.
/// Returns (mean, rstd), which the training forward keeps for its backward.
/// Training and inference share this one routine, so they agree to the bit.
@inline(__always) @discardableResult
func layerNormRow(
    out o: UnsafeMutablePointer<Float>, sum: UnsafeMutablePointer<Float>? = nil, x: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    cols: Int, eps: Float
) -> (mean: Float, rstd: Float) {
    let src = sum ?? o
    // Pass 1: sum the inputs, accumulating the mean.
    var acc = Vec8()
    var i = 0
    while i + 8 <= cols {
        var v = load8(x + i)
        if let bias { v += load8(bias + i) }
        if let residual { v += load8(residual + i) }
        store8(v, src + i)
        acc += v
        i += 8
    }
    var total = acc.sum()
    while i < cols {
        var v = x[i]
        if let bias { v += bias[i] }
        if let residual { v += residual[i] }
        src[i] = v; total += v; i += 1
    }
    let mean = total / Float(cols)
    // Pass 2: variance around the mean.
    let m8 = Vec8(repeating: mean)
    var accVar = Vec8()
    i = 0
    while i + 8 <= cols { let d = load8(src + i) - m8; accVar = accVar.addingProduct(d, d); i += 8 }
    var varSum = accVar.sum()
    while i < cols { let d = src[i] - mean; varSum += d * d; i += 1 }
    let rstd = 1 / (varSum / Float(cols) + eps).squareRoot()
    // Pass 3: normalize, scale, shift.
    let r8 = Vec8(repeating: rstd)
    i = 0
    while i + 8 <= cols {
        store8((load8(src + i) - m8) * r8 * load8(gamma + i) + load8(beta + i), o + i)
        i += 8
    }
    while i < cols { o[i] = (src[i] - mean) * rstd * gamma[i] + beta[i]; i += 1 }
    return (mean, rstd)
}
