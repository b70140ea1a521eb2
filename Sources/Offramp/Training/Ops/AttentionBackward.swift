// MARK: - Multi-head attention backward over packed sequences
//
// Forward, per sequence s and head h (d = head width, scale = 1/√d):
//   S  (nq, nk) = scale · Q Kᵀ
//   P  (nq, nk) = softmax(S)          (rows)   <- saved by the forward
//   Pd (nq, nk) = P ⊙ M               (M: optional dropout mask, saved)
//   O  (nq, d)  = Pd V
// Backward:
//   dPd = dO Vᵀ,  dV += Pdᵀ dO
//   dP  = dPd ⊙ M
//   dS  = P ⊙ (dP − rowsum(dP ⊙ P))  (softmax backward)
//   dQ += scale · dS K,  dK += scale · dSᵀ Q
//
// The layout is `multiHeadAttention`'s: head h in columns h·d ..< (h+1)·d of
// each buffer; sequence s's queries at rows queryStart[s] ..< +queryCount[s]
// of q, dOut and dQ, its keys and values at keyStart[s] ..< +keyCount[s] of
// k, v, dK, dV. Tasks are (sequence, head) pairs; each writes only its own
// rows and head columns of dQ, dK, dV, so (with the sequences' row ranges
// disjoint, as a packed batch's are) tasks never race and every sum runs in a
// fixed order: the result is bit-identical on every run and thread count.

/// Accumulates dQ, dK, dV (each optional) for `multiHeadAttention`'s output
/// gradient `dOut`.
///
/// - q, k, v: the forward's inputs (after their biases), same strides as then.
/// - probabilities: the forward's softmax output P (before any dropout), for
///   sequence s at `probabilities + probabilityOffsets[s]` as (heads, nq, nk).
/// - dropoutMask: when the forward used ctx = (P ⊙ M) V, the mask M in the
///   same layout and offsets as the probabilities (values 0 or 1/(1-p)).
/// - dQ (stride lddq) is indexed like q; dK, dV (lddk, lddv) like k and v.
public func multiHeadAttentionBackward(
    dQ: UnsafeMutablePointer<Float>?, lddq: Int,
    dK: UnsafeMutablePointer<Float>?, lddk: Int,
    dV: UnsafeMutablePointer<Float>?, lddv: Int,
    dOut: UnsafePointer<Float>, ldOut: Int,
    q: UnsafePointer<Float>, ldq: Int,
    k: UnsafePointer<Float>, ldk: Int,
    v: UnsafePointer<Float>, ldv: Int,
    probabilities: UnsafePointer<Float>, probabilityOffsets: [Int],
    dropoutMask: UnsafePointer<Float>? = nil,
    segments: AttentionSegments, heads: Int, headDim d: Int,
    workspace: Workspace
) {
    let seqs = segments.count
    if seqs == 0 || heads == 0 || d == 0 { return }
    if dQ == nil && dK == nil && dV == nil { return }
    precondition(probabilityOffsets.count >= seqs, "one probability offset per sequence")
    let maxKeys = segments.keyCount.max() ?? 0
    let maxQueries = segments.queryCount.max() ?? 0
    if maxKeys == 0 || maxQueries == 0 { return }
    let keysPadded = (maxKeys + 15) / 16 * 16
    let scale = 1 / Float(d).squareRoot()

    // Runs of (sequence, head) tasks of about equal cost, one per thread.
    let bounds = balancedTaskRuns(segments, heads: heads, costPerThread: 2048)
    let chunks = bounds.count - 1
    // Per chunk: Vᵀ of one head (d, keysPadded), dP/dS (queries, keysPadded),
    // and a transposed (keys, queries) matrix.
    let scratchSize = d * keysPadded + maxQueries * keysPadded + maxKeys * maxQueries
    let scratch = (0..<chunks).map { workspace.buffer("attentionBackward.scratch.\($0)", count: scratchSize) }

    parallelFor(chunks) { c in
        let vT = scratch[c]
        let dS = vT + d * keysPadded
        let tr = dS + maxQueries * keysPadded
        for t in bounds[c]..<bounds[c + 1] {
            let s = t / heads, h = t % heads
            let nq = segments.queryCount[s], nk = segments.keyCount[s]
            if nq == 0 || nk == 0 { continue }
            let nkPad = (nk + 15) / 16 * 16
            let q0 = segments.queryStart[s], k0 = segments.keyStart[s]
            let qBase = q + q0 * ldq + h * d
            let kBase = k + k0 * ldk + h * d
            let vBase = v + k0 * ldv + h * d
            let gBase = dOut + q0 * ldOut + h * d
            let pBase = probabilities + probabilityOffsets[s] + h * nq * nk
            let mBase = dropoutMask.map { $0 + probabilityOffsets[s] + h * nq * nk }

            // 1. dPd (nq, nk) = dO (nq, d) · Vᵀ (d, nk)
            transposeHead(vT, vBase, ld: ldv, rows: nk, rowsPadded: nkPad, d: d)
            var i = 0
            while i < nq {
                let block = min(4, nq - i)
                rowBlockTimesMatrix(dS + i * nkPad, ldOut: nkPad, gBase + i * ldOut, lda: ldOut, rows: block,
                                    b: vT, cols: nkPad, inner: d)
                i += block
            }

            // 2. dV_j += Σ_i Pd[i, j] dO_i
            if let dV {
                for i in 0..<nq {
                    let p = pBase + i * nk
                    if let mBase {
                        let m = mBase + i * nk
                        for j in 0..<nk { tr[j * nq + i] = p[j] * m[j] }
                    } else {
                        for j in 0..<nk { tr[j * nq + i] = p[j] }
                    }
                }
                for j in 0..<nk {
                    accumulateWeightedRows(dV + (k0 + j) * lddv + h * d, tr + j * nq, gBase, ld: ldOut, n: nq, d: d)
                }
            }

            // 3. dS = scale · P ⊙ (dP − rowsum(dP ⊙ P)), dP = dPd ⊙ M, in place.
            for i in 0..<nq {
                let row = dS + i * nkPad, p = pBase + i * nk
                if let mBase { multiplyElementwiseRow(row, mBase + i * nk, count: nk) }
                softmaxBackwardRow(row, p, count: nk, scale: scale)
            }

            // 4. dQ_i += Σ_j dS[i, j] k_j
            if let dQ {
                for i in 0..<nq {
                    accumulateWeightedRows(dQ + (q0 + i) * lddq + h * d, dS + i * nkPad, kBase, ld: ldk, n: nk, d: d)
                }
            }

            // 5. dK_j += Σ_i dS[i, j] q_i
            if let dK {
                for i in 0..<nq {
                    let row = dS + i * nkPad
                    for j in 0..<nk { tr[j * nq + i] = row[j] }
                }
                for j in 0..<nk {
                    accumulateWeightedRows(dK + (k0 + j) * lddk + h * d, tr + j * nq, qBase, ld: ldq, n: nq, d: d)
                }
            }
        }
    }
}

/// In place, row = scale · p ⊙ (row − Σ_j row[j] p[j]): the softmax backward
/// (row holds dP on entry, dS on exit).
@inline(__always)
func softmaxBackwardRow(_ row: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, count n: Int, scale: Float) {
    let total = dot(UnsafePointer(row), p, count: n)
    let t8 = Vec8(repeating: total), s8 = Vec8(repeating: scale)
    var j = 0
    while j + 8 <= n { store8((load8(row + j) - t8) * load8(p + j) * s8, row + j); j += 8 }
    while j < n { row[j] = (row[j] - total) * p[j] * scale; j += 1 }
}

@inline(__always)
private func multiplyElementwiseRow(_ x: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, count n: Int) {
    var j = 0
    while j + 8 <= n { store8(load8(x + j) * load8(m + j), x + j); j += 8 }
    while j < n { x[j] *= m[j]; j += 1 }
}

/// xT (d, rowsPadded) = X (rows, d)ᵀ, zero in the pad columns.
@inline(__always)
private func transposeHead(
    _ xT: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, ld: Int, rows n: Int, rowsPadded: Int, d: Int
) {
    for c in 0..<d {
        let row = xT + c * rowsPadded
        for j in 0..<n { row[j] = x[j * ld + c] }
        for j in n..<rowsPadded { row[j] = 0 }
    }
}

