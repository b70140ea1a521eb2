import CKernels
import Foundation
import COpenBLAS

// MARK: - Matrix products (OpenBLAS, and a small-M kernel)
//
// Everything is row-major Float32. Linear layers keep PyTorch's weight layout
// (out, in), so a linear layer is out = inp · Wᵀ, which BLAS does without a copy.

/// Whether the AVX-512 small-M kernel can run here.
public let smallMatmulAvailable = ck_has_avx512() != 0

/// Whether a product goes to the small-M kernel (when the CPU has AVX-512)
/// rather than OpenBLAS. BLAS repacks the whole weight matrix on every call,
/// which costs as much as the product when there are few rows; the small
/// kernel reads the weights in place. Measured with `offramp bench gemm` on
/// MiniLM's shapes (2 cores, AVX-512): at k = 384 the small kernel runs
/// ~480-500 GFLOP/s from 16 to 256 rows, BLAS 150 (16 rows) to 470 (256),
/// even at 384; at k = 1536 its input rows no longer stay in L1 and BLAS
/// wins from ~96 rows. OFFRAMP_SMALL_GEMM_ROWS sets one row limit for all k
/// (to measure one setting against another in the same run).
@inline(__always)
public func usesSmallMatmul(rows: Int, inDim: Int) -> Bool {
    smallMatmulAvailable && rows <= (smallMatmulRowOverride ?? (inDim <= 768 ? 256 : 64))
}

let smallMatmulRowOverride: Int? = {
    if let s = getenv("OFFRAMP_SMALL_GEMM_ROWS"), let n = Int(String(cString: s)), n >= 0 { return n }
    return nil
}()

/// out (rows, outDim) = inp (rows, inDim) · weight(outDim, inDim)ᵀ [+ out if accumulate]
///
/// `ldInp`/`ldOut` are row strides, so a head's or a projection's columns can be
/// read and written in place inside a wider packed buffer.
@inline(__always)
public func matmulTransposedB(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    rows: Int, inDim: Int, outDim: Int,
    ldInp: Int? = nil, ldOut: Int? = nil, ldWeight: Int? = nil, accumulate: Bool = false, alpha: Float = 1
) {
    if rows == 0 || outDim == 0 { return }
    if usesSmallMatmul(rows: rows, inDim: inDim) {
        smallMatmulTransposedB(out, inp, weight, rows: rows, inDim: inDim, outDim: outDim, ldInp: ldInp, ldOut: ldOut,
                               ldWeight: ldWeight, accumulate: accumulate, alpha: alpha)
    } else {
        blasMatmulTransposedB(out, inp, weight, rows: rows, inDim: inDim, outDim: outDim, ldInp: ldInp, ldOut: ldOut,
                              ldWeight: ldWeight, accumulate: accumulate, alpha: alpha)
    }
}

/// `matmulTransposedB` by the small-M kernel, the output columns split across threads.
/// Needs `smallMatmulAvailable`.
public func smallMatmulTransposedB(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    rows: Int, inDim: Int, outDim: Int,
    ldInp: Int? = nil, ldOut: Int? = nil, ldWeight: Int? = nil, accumulate: Bool = false, alpha: Float = 1
) {
    precondition(smallMatmulAvailable, "the small-M kernel needs AVX-512")
    let ldi = Int32(ldInp ?? inDim), ldw = Int32(ldWeight ?? inDim), ldo = Int32(ldOut ?? outDim)
    // Chunks of whole 4-column blocks; at least 64 columns a thread.
    let blocks = (outDim + 3) / 4
    parallelChunks(blocks, minimumChunk: 16) { range in
        ck_sgemm_nt_small(out, inp, weight, Int32(rows), Int32(inDim), Int32(range.lowerBound * 4),
                          Int32(min(range.upperBound * 4, outDim)), ldi, ldw, ldo, accumulate ? 1 : 0, alpha)
    }
}

/// `matmulTransposedB` by OpenBLAS.
@inline(__always)
public func blasMatmulTransposedB(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    rows: Int, inDim: Int, outDim: Int,
    ldInp: Int? = nil, ldOut: Int? = nil, ldWeight: Int? = nil, accumulate: Bool = false, alpha: Float = 1
) {
    if rows == 0 || outDim == 0 { return }
    gemm(out, inp, weight, m: rows, n: outDim, k: inDim, transposeB: true, lda: ldInp, ldb: ldWeight, ldc: ldOut,
         accumulate: accumulate, alpha: alpha)
}

/// Splits 0..<n into one chunk per worker (multiples of 16; none when the
/// product is small) and runs body(first, count).
@inline(__always)
func splitForWorkers(_ n: Int, work: Int, _ body: (Int, Int) -> Void) {
    // Below ~1M multiply-adds in all, a split costs more than it saves.
    if Threads.count == 1 || n < 32 || work < 1 << 20 { body(0, n); return }
    let blocks = (n + 15) / 16
    parallelChunks(blocks, minimumChunk: 1) { range in
        let lo = range.lowerBound * 16, hi = min(range.upperBound * 16, n)
        if lo < hi { body(lo, hi - lo) }
    }
}

/// C (m, n) = A (m, k) · B (k, n) [+ C if accumulate], with optional transposes
/// and row strides: the general form the backward passes need.
@inline(__always)
public func gemm(
    _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil, accumulate: Bool = false, alpha: Float = 1
) {
    if m == 0 || n == 0 { return }
    let ldA = lda ?? (transposeA ? m : k), ldB = ldb ?? (transposeB ? k : n), ldC = ldc ?? n
    // OpenBLAS runs single-threaded; the workers take a share of C each. Each
    // share packs the operand it does not split, so split the longer side:
    // rows (each worker then packs all of B) or columns (all of A).
    func product(_ rows: Int, _ cols: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(rows), Int32(cols), Int32(k), alpha, a, Int32(ldA), b, Int32(ldB), accumulate ? 1 : 0, c, Int32(ldC))
    }
    if m > n {
        splitForWorkers(m, work: m * n * k) { lo, count in
            product(count, n, transposeA ? a + lo : a + lo * ldA, b, c + lo * ldC)
        }
    } else {
        splitForWorkers(n, work: m * n * k) { lo, count in
            product(m, count, a, transposeB ? b + lo * ldB : b + lo, c + lo)
        }
    }
}

/// Adds `bias` (cols) to every row of x (rows, cols).
public func addBias(_ x: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int? = nil) {
    let stride = ld ?? cols
    parallelChunks(rows, minimumChunk: 64) { range in
        for r in range { vectorAdd(x + r * stride, bias, count: cols) }
    }
}

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
