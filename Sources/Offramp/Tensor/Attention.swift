// MARK: - Multi-head scaled dot-product attention over packed sequences
//
// There is no padding: each sequence attends over its own key rows only, so no
// mask is needed and no work is spent on pad tokens. Queries may be a subset
// of a sequence's rows (halted tokens stay keys and values but ask nothing:
// TOKEE), and rows may have been dropped (PoWER-BERT): the caller says where
// each sequence's query rows and key rows are.

/// Where sequence s's rows live for one attention call: its queries are rows
/// queryStart[s] ..< queryStart[s] + queryCount[s] of the query (and output)
/// buffer, its keys and values rows keyStart[s] ..< keyStart[s] + keyCount[s]
/// of the key and value buffers.
public struct AttentionSegments: Sendable, Equatable {
    public var queryStart: [Int]
    public var queryCount: [Int]
    public var keyStart: [Int]
    public var keyCount: [Int]

    public init(queryStart: [Int], queryCount: [Int], keyStart: [Int], keyCount: [Int]) {
        self.queryStart = queryStart; self.queryCount = queryCount
        self.keyStart = keyStart; self.keyCount = keyCount
    }

    /// Every row of each sequence is a query: the full-depth case.
    public init(starts: [Int], lengths: [Int]) {
        self.init(queryStart: starts, queryCount: lengths, keyStart: starts, keyCount: lengths)
    }

    public var count: Int { queryStart.count }
}

/// out = softmax(Q Kᵀ / √d) V per sequence and head.
///
/// - q: query rows, head h in columns h·d ..< (h+1)·d, row stride `ldq`
/// - k, v: key and value rows, same column layout, strides `ldk`, `ldv`
/// - out: (query rows, heads·d), stride `ldOut`
/// - probabilities: when given, sequence s's probabilities are written at
///   `probabilities + probabilityOffsets[s]` as (heads, queryCount, keyCount).
/// - dropoutMask: in training, a mask M in the probabilities' layout (0 or
///   1/(1-p)); the output is then (P ⊙ M) V while P itself is what is saved.
public func multiHeadAttention(
    out: UnsafeMutablePointer<Float>, ldOut: Int,
    q: UnsafePointer<Float>, ldq: Int,
    k: UnsafePointer<Float>, ldk: Int,
    v: UnsafePointer<Float>, ldv: Int,
    segments: AttentionSegments, heads: Int, headDim d: Int,
    probabilities: UnsafeMutablePointer<Float>? = nil, probabilityOffsets: [Int]? = nil,
    dropoutMask: UnsafePointer<Float>? = nil,
    workspace: Workspace
) {
    precondition(dropoutMask == nil || probabilityOffsets != nil, "a dropout mask needs probability offsets")
    let seqs = segments.count
    if seqs == 0 { return }
    let maxKeys = segments.keyCount.max() ?? 0
    // Keys are padded to a multiple of 16: the score loop computes two
    // 8-wide blocks at a time; pad columns of Kᵀ are zero and ignored.
    let keysPadded = (maxKeys + 15) / 16 * 16
    let scale = 1 / Float(d).squareRoot()

    let bounds = balancedTaskRuns(segments, heads: heads, costPerThread: 4096)
    let chunks = bounds.count - 1
    // Scratch per chunk (taken here: the workspace is not thread-safe):
    // Kᵀ of one head, then scores for a block of 4 queries.
    let scratchSize = d * keysPadded + 4 * keysPadded
    let scratch = (0..<chunks).map { workspace.buffer("attention.scratch.\($0)", count: scratchSize) }

    parallelFor(chunks) { c in
        let kT = scratch[c]
        let scores = scratch[c] + d * keysPadded
        for t in bounds[c]..<bounds[c + 1] {
            let s = t / heads, h = t % heads
            let nq = segments.queryCount[s], nk = segments.keyCount[s]
            if nq == 0 || nk == 0 { continue }
            let nkPad = (nk + 15) / 16 * 16
            let qBase = q + segments.queryStart[s] * ldq + h * d
            let kBase = k + segments.keyStart[s] * ldk + h * d
            let vBase = v + segments.keyStart[s] * ldv + h * d
            let oBase = out + segments.queryStart[s] * ldOut + h * d
            transposeScaled(kT, kBase, ldk: ldk, keys: nk, keysPadded: nkPad, d: d, scale: scale)
            var i = 0
            while i < nq {
                let block = min(4, nq - i)
                // scores[r, j] = q_r · kT[:, j] for 4 queries at a time.
                rowBlockTimesMatrix(scores, ldOut: nkPad, qBase + i * ldq, lda: ldq, rows: block, b: kT, cols: nkPad, inner: d)
                for r in 0..<block {
                    let sr = scores + r * nkPad
                    softmaxInPlace(sr, count: nk)
                    if let probabilities, let probabilityOffsets {
                        let dst = probabilities + probabilityOffsets[s] + (h * nq + i + r) * nk
                        dst.update(from: sr, count: nk)
                    }
                    if let dropoutMask, let probabilityOffsets {
                        let m = dropoutMask + probabilityOffsets[s] + (h * nq + i + r) * nk
                        for j in 0..<nk { sr[j] *= m[j] }
                    }
                    // out_i = Σ_j p_j v_j
                    let oi = oBase + (i + r) * ldOut
                    oi.update(repeating: 0, count: d)
                    accumulateWeightedRows(oi, sr, vBase, ld: ldv, n: nk, d: d)
                }
                i += block
            }
        }
    }
}

/// Splits the (sequence, head) tasks, in order, into one run per thread of
/// about equal cost (queries × keys), so a long sequence does not leave a
/// core idle; fewer runs when the total cost is under `costPerThread` each.
/// Returns the run boundaries: run c is tasks bounds[c] ..< bounds[c + 1].
func balancedTaskRuns(_ segments: AttentionSegments, heads: Int, costPerThread: Int) -> [Int] {
    let tasks = segments.count * heads
    var cumulative = [Int](repeating: 0, count: tasks + 1)
    for t in 0..<tasks {
        let s = t / heads
        cumulative[t + 1] = cumulative[t] + max(1, segments.queryCount[s] * segments.keyCount[s])
    }
    let chunks = max(1, min(Threads.count, tasks, cumulative[tasks] / costPerThread + 1))
    var bounds = [0]
    for c in 1..<chunks {
        let target = cumulative[tasks] * c / chunks
        var t = bounds.last!
        while t < tasks && cumulative[t] < target { t += 1 }
        bounds.append(t)
    }
    bounds.append(tasks)
    return bounds
}

/// kT (d, keysPadded) = scale · K (keys, d)ᵀ, zero in the pad columns.
@inline(__always)
private func transposeScaled(
    _ kT: UnsafeMutablePointer<Float>, _ k: UnsafePointer<Float>, ldk: Int,
    keys nk: Int, keysPadded: Int, d: Int, scale: Float
) {
    for c in 0..<d {
        let row = kT + c * keysPadded
        for j in 0..<nk { row[j] = k[j * ldk + c] * scale }
        for j in nk..<keysPadded { row[j] = 0 }
    }
}

/// out[r, j] = Σ_c a_r[c] · b[c, j] for up to 4 rows of a (stride lda) and
/// every column j < cols (a multiple of 16) of b (inner, cols).
///
/// The attention scores (Q·Kᵀ) and, in the backward, dO·Vᵀ. Register-blocked:
/// 4 rows × 16 columns in 8 independent accumulators, so the FMAs do not wait
/// on each other. Missing rows repeat the first and are not stored.
@inline(__always)
func rowBlockTimesMatrix(
    _ out: UnsafeMutablePointer<Float>, ldOut: Int, _ a: UnsafePointer<Float>, lda: Int, rows: Int,
    b: UnsafePointer<Float>, cols: Int, inner: Int
) {
    let a0 = a, a1 = rows > 1 ? a + lda : a, a2 = rows > 2 ? a + 2 * lda : a, a3 = rows > 3 ? a + 3 * lda : a
    var j = 0
    while j < cols {
        var c00 = Vec8(), c01 = Vec8(), c10 = Vec8(), c11 = Vec8()
        var c20 = Vec8(), c21 = Vec8(), c30 = Vec8(), c31 = Vec8()
        var bp = b + j
        for c in 0..<inner {
            let b0 = load8(bp), b1 = load8(bp + 8)
            let s0 = Vec8(repeating: a0[c]), s1 = Vec8(repeating: a1[c])
            let s2 = Vec8(repeating: a2[c]), s3 = Vec8(repeating: a3[c])
            c00 = c00.addingProduct(s0, b0); c01 = c01.addingProduct(s0, b1)
            c10 = c10.addingProduct(s1, b0); c11 = c11.addingProduct(s1, b1)
            c20 = c20.addingProduct(s2, b0); c21 = c21.addingProduct(s2, b1)
            c30 = c30.addingProduct(s3, b0); c31 = c31.addingProduct(s3, b1)
            bp += cols
        }
        store8(c00, out + j); store8(c01, out + j + 8)
        if rows > 1 { store8(c10, out + ldOut + j); store8(c11, out + ldOut + j + 8) }
        if rows > 2 { store8(c20, out + 2 * ldOut + j); store8(c21, out + 2 * ldOut + j + 8) }
        if rows > 3 { store8(c30, out + 3 * ldOut + j); store8(c31, out + 3 * ldOut + j + 8) }
        j += 16
    }
}

/// out (d) += Σ_j w[j] · x_j (rows of x with stride ld), 32 columns at a time
/// with two rows in flight, then 8, then scalar.
@inline(__always)
func accumulateWeightedRows(
    _ out: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, ld: Int, n: Int, d: Int
) {
    var c0 = 0
    while c0 + 32 <= d {
        var o0 = Vec8(), o1 = Vec8(), o2 = Vec8(), o3 = Vec8()
        var e0 = Vec8(), e1 = Vec8(), e2 = Vec8(), e3 = Vec8()
        var j = 0
        while j + 2 <= n {
            let r0 = x + j * ld + c0, r1 = r0 + ld
            let s0 = Vec8(repeating: w[j]), s1 = Vec8(repeating: w[j + 1])
            o0 = o0.addingProduct(s0, load8(r0)); o1 = o1.addingProduct(s0, load8(r0 + 8))
            o2 = o2.addingProduct(s0, load8(r0 + 16)); o3 = o3.addingProduct(s0, load8(r0 + 24))
            e0 = e0.addingProduct(s1, load8(r1)); e1 = e1.addingProduct(s1, load8(r1 + 8))
            e2 = e2.addingProduct(s1, load8(r1 + 16)); e3 = e3.addingProduct(s1, load8(r1 + 24))
            j += 2
        }
        if j < n {
            let r0 = x + j * ld + c0, s0 = Vec8(repeating: w[j])
            o0 = o0.addingProduct(s0, load8(r0)); o1 = o1.addingProduct(s0, load8(r0 + 8))
            o2 = o2.addingProduct(s0, load8(r0 + 16)); o3 = o3.addingProduct(s0, load8(r0 + 24))
        }
        let o = out + c0
        store8(load8(o) + (o0 + e0), o); store8(load8(o + 8) + (o1 + e1), o + 8)
        store8(load8(o + 16) + (o2 + e2), o + 16); store8(load8(o + 24) + (o3 + e3), o + 24)
        c0 += 32
    }
    while c0 + 8 <= d {
        var o0 = Vec8(), e0 = Vec8()
        var j = 0
        while j + 2 <= n {
            o0 = o0.addingProduct(Vec8(repeating: w[j]), load8(x + j * ld + c0))
            e0 = e0.addingProduct(Vec8(repeating: w[j + 1]), load8(x + (j + 1) * ld + c0))
            j += 2
        }
        if j < n { o0 = o0.addingProduct(Vec8(repeating: w[j]), load8(x + j * ld + c0)) }
        store8(load8(out + c0) + (o0 + e0), out + c0)
        c0 += 8
    }
    while c0 < d {
        var acc: Float = 0
        for j in 0..<n { acc = acc.addingProduct(w[j], x[j * ld + c0]) }
        out[c0] += acc
        c0 += 1
    }
}

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

