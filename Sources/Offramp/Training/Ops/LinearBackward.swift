// MARK: - Linear layer backward
//
// Forward (PyTorch layout, weight (out, in)):
//   out (rows, outDim) = inp (rows, inDim) · weight (outDim, inDim)ᵀ + bias (outDim)
// Backward, accumulating (+=) into every gradient that is not nil:
//   dInp    (rows, inDim)    += dOut (rows, outDim) · weight (outDim, inDim)
//   dWeight (outDim, inDim)  += dOut (rows, outDim)ᵀ · inp (rows, inDim)
//   dBias   (outDim)         += Σ_rows dOut
// Nothing needs caching beyond the forward's input `inp`.

/// Backward of `out = inp · weightᵀ + bias`, accumulating into the non-nil gradients.
///
/// Row strides let every operand be a column window of a wider packed buffer
/// (Q, K, V inside a (T, 3H) buffer): `ldInp`, `ldDInp`, `ldDOut` default to the
/// dense widths; `ldWeight` (default inDim) is the row stride of both `weight`
/// and `dWeight`. The products go to OpenBLAS (deterministic for a fixed thread
/// count); the bias sum is column-split (`accumulateColumnSums`).
public func linearBackward(
    dInp: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
    dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    rows: Int, inDim: Int, outDim: Int,
    ldInp: Int? = nil, ldDInp: Int? = nil, ldDOut: Int? = nil, ldWeight: Int? = nil
) {
    if rows <= 0 || outDim <= 0 { return }
    let ldo = ldDOut ?? outDim, ldw = ldWeight ?? inDim
    if let dInp, inDim > 0 {
        // (rows, outDim) · (outDim, inDim)
        gemm(dInp, dOut, weight, m: rows, n: inDim, k: outDim,
             lda: ldo, ldb: ldw, ldc: ldDInp ?? inDim, accumulate: true)
    }
    if let dWeight, inDim > 0 {
        // (outDim, rows) · (rows, inDim)
        gemm(dWeight, dOut, inp, m: outDim, n: inDim, k: rows, transposeA: true,
             lda: ldo, ldb: ldInp ?? inDim, ldc: ldw, accumulate: true)
    }
    if let dBias {
        accumulateColumnSums(dBias, dOut, rows: rows, cols: outDim, ld: ldo)
    }
}
