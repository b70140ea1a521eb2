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

// MARK: - LayerNorm, training forward (caches mean and rstd) and backward
//
// Forward, per row r of inp (rows, cols):
//   mean[r] = Σ inp / cols,  var = Σ (inp - mean)² / cols (biased, two-pass)
//   rstd[r] = 1 / √(var + eps),  xhat = (inp - mean) · rstd
//   out = xhat · gamma + beta
// Backward needs inp, mean, rstd (and gamma), llm.c style:
//   dxhat = dOut · gamma
//   dInp += (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat)) · rstd
//   dGamma += Σ_rows dOut · xhat,  dBeta += Σ_rows dOut

/// out = LayerNorm(inp) · gamma + beta for every row of inp (rows, cols),
/// saving mean[r] and rstd[r] (rows floats each) for `layerNormBackward`.
///
/// Same arithmetic, in the same order, as `residualLayerNorm` with no bias or
/// residual: the outputs are bit-identical. `out` must not alias `inp`
/// (the backward needs inp).
public func layerNormForward(
    out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    rows: Int, cols: Int, eps: Float
) {
    parallelChunks(rows, minimumChunk: 32) { range in
        for r in range {
            let (m, s) = layerNormRow(out: out + r * cols, x: inp + r * cols, bias: nil, residual: nil,
                                      gamma: gamma, beta: beta, cols: cols, eps: eps)
            mean[r] = m; rstd[r] = s
        }
    }
}

/// The training form of `residualLayerNorm`: sum[r] = x[r] + bias + residual[r]
/// (bias, residual optional) is written to `sum` (the LayerNorm input the
/// backward needs), then out[r] = LayerNorm(sum[r]) · gamma + beta, with mean
/// and rstd saved per row.
///
/// Bit-identical to `residualLayerNorm`. `sum` may alias `x` or `residual`;
/// `out` must not alias `sum`. The backward of the sum is the LayerNorm input
/// gradient itself: pass `dResidual` to `layerNormBackward` for the residual
/// branch, and use dInp as the bias's (and x's producer's) dOut.
public func residualLayerNormForward(
    out: UnsafeMutablePointer<Float>, sum: UnsafeMutablePointer<Float>,
    mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    rows: Int, cols: Int, eps: Float
) {
    parallelChunks(rows, minimumChunk: 32) { range in
        for r in range {
            let (m, s) = layerNormRow(out: out + r * cols, sum: sum + r * cols, x: x + r * cols, bias: bias,
                                      residual: residual.map { $0 + r * cols },
                                      gamma: gamma, beta: beta, cols: cols, eps: eps)
            mean[r] = m; rstd[r] = s
        }
    }
}

/// Backward of `layerNormForward` / `residualLayerNormForward`, accumulating:
///
/// - dInp (rows, cols) += ∂L/∂inp (the LayerNorm input, i.e. `sum` of the
///   residual form); `dResidual`, when given, receives the same += (the
///   residual branch of the fused form), so one call feeds both branches.
/// - dGamma, dBeta (cols) += Σ_rows dOut · xhat, Σ_rows dOut: column-split,
///   deterministic whatever the thread count.
///
/// inp is the forward's LayerNorm input; mean and rstd are what the forward saved.
public func layerNormBackward(
    dInp: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?, dBeta: UnsafeMutablePointer<Float>?,
    dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
    rows: Int, cols: Int, dResidual: UnsafeMutablePointer<Float>? = nil
) {
    if rows <= 0 || cols <= 0 { return }
    if dInp != nil || dResidual != nil {
        let invCols = 1 / Float(cols)
        parallelChunks(rows, minimumChunk: 16) { range in
            for r in range {
                let x = inp + r * cols, g = dOut + r * cols
                let m = mean[r], s = rstd[r]
                let m8 = Vec8(repeating: m), s8 = Vec8(repeating: s)
                // mean(dxhat) and mean(dxhat · xhat)
                var a1 = Vec8(), a2 = Vec8()
                var i = 0
                while i + 8 <= cols {
                    let dxhat = load8(g + i) * load8(gamma + i)
                    let xhat = (load8(x + i) - m8) * s8
                    a1 += dxhat
                    a2 = a2.addingProduct(dxhat, xhat)
                    i += 8
                }
                var sum1 = a1.sum(), sum2 = a2.sum()
                while i < cols {
                    let dxhat = g[i] * gamma[i]
                    let xhat = (x[i] - m) * s
                    sum1 += dxhat; sum2 += dxhat * xhat
                    i += 1
                }
                let mean1 = sum1 * invCols, mean2 = sum2 * invCols
                let mean1v = Vec8(repeating: mean1), mean2v = Vec8(repeating: mean2)
                let di = dInp.map { $0 + r * cols }, dr = dResidual.map { $0 + r * cols }
                i = 0
                while i + 8 <= cols {
                    let dxhat = load8(g + i) * load8(gamma + i)
                    let xhat = (load8(x + i) - m8) * s8
                    let delta = (dxhat - mean1v - xhat * mean2v) * s8
                    if let di { store8(load8(di + i) + delta, di + i) }
                    if let dr { store8(load8(dr + i) + delta, dr + i) }
                    i += 8
                }
                while i < cols {
                    let dxhat = g[i] * gamma[i]
                    let xhat = (x[i] - m) * s
                    let delta = (dxhat - mean1 - xhat * mean2) * s
                    if let di { di[i] += delta }
                    if let dr { dr[i] += delta }
                    i += 1
                }
            }
        }
    }
    if dGamma != nil || dBeta != nil {
        parallelColumnRanges(cols, rows: rows) { range in
            var c = range.lowerBound
            // 32 columns per pass over the rows (8 accumulators), then 8, then
            // scalar; every column is summed in row order either way.
            while c + 32 <= range.upperBound {
                var g0 = Vec8(), g1 = Vec8(), g2 = Vec8(), g3 = Vec8()
                var b0 = Vec8(), b1 = Vec8(), b2 = Vec8(), b3 = Vec8()
                for r in 0..<rows {
                    let go = dOut + r * cols + c, xi = inp + r * cols + c
                    let m8 = Vec8(repeating: mean[r]), s8 = Vec8(repeating: rstd[r])
                    let d0 = load8(go), d1 = load8(go + 8), d2 = load8(go + 16), d3 = load8(go + 24)
                    g0 = g0.addingProduct(d0, (load8(xi) - m8) * s8)
                    g1 = g1.addingProduct(d1, (load8(xi + 8) - m8) * s8)
                    g2 = g2.addingProduct(d2, (load8(xi + 16) - m8) * s8)
                    g3 = g3.addingProduct(d3, (load8(xi + 24) - m8) * s8)
                    b0 += d0; b1 += d1; b2 += d2; b3 += d3
                }
                if let dGamma {
                    store8(load8(dGamma + c) + g0, dGamma + c); store8(load8(dGamma + c + 8) + g1, dGamma + c + 8)
                    store8(load8(dGamma + c + 16) + g2, dGamma + c + 16); store8(load8(dGamma + c + 24) + g3, dGamma + c + 24)
                }
                if let dBeta {
                    store8(load8(dBeta + c) + b0, dBeta + c); store8(load8(dBeta + c + 8) + b1, dBeta + c + 8)
                    store8(load8(dBeta + c + 16) + b2, dBeta + c + 16); store8(load8(dBeta + c + 24) + b3, dBeta + c + 24)
                }
                c += 32
            }
            while c + 8 <= range.upperBound {
                var ag = Vec8(), ab = Vec8()
                for r in 0..<rows {
                    let g = load8(dOut + r * cols + c)
                    let xhat = (load8(inp + r * cols + c) - Vec8(repeating: mean[r])) * Vec8(repeating: rstd[r])
                    ag = ag.addingProduct(g, xhat)
                    ab += g
                }
                if let dGamma { store8(load8(dGamma + c) + ag, dGamma + c) }
                if let dBeta { store8(load8(dBeta + c) + ab, dBeta + c) }
                c += 8
            }
            while c < range.upperBound {
                var ag: Float = 0, ab: Float = 0
                for r in 0..<rows {
                    let g = dOut[r * cols + c]
                    ag = ag.addingProduct(g, (inp[r * cols + c] - mean[r]) * rstd[r])
                    ab += g
                }
                dGamma?[c] += ag
                dBeta?[c] += ab
                c += 1
            }
        }
    }
}
