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
public func multiHeadAttention(
    out: UnsafeMutablePointer<Float>, ldOut: Int,
    q: UnsafePointer<Float>, ldq: Int,
    k: UnsafePointer<Float>, ldk: Int,
    v: UnsafePointer<Float>, ldv: Int,
    segments: AttentionSegments, heads: Int, headDim d: Int,
    probabilities: UnsafeMutablePointer<Float>? = nil, probabilityOffsets: [Int]? = nil,
    workspace: Workspace
) {
    let seqs = segments.count
    if seqs == 0 { return }
    let maxKeys = segments.keyCount.max() ?? 0
    let keysPadded = (maxKeys + 7) / 8 * 8
    let scale = 1 / Float(d).squareRoot()

    // Split the (sequence, head) tasks into one run per thread of about equal
    // cost (queries × keys), so a long sequence does not leave a core idle.
    let tasks = seqs * heads
    var cumulative = [Int](repeating: 0, count: tasks + 1)
    for t in 0..<tasks {
        let s = t / heads
        cumulative[t + 1] = cumulative[t] + max(1, segments.queryCount[s] * segments.keyCount[s])
    }
    let chunks = max(1, min(Threads.count, tasks, cumulative[tasks] / 4096 + 1))
    var bounds = [0]
    for c in 1..<chunks {
        let target = cumulative[tasks] * c / chunks
        var t = bounds.last!
        while t < tasks && cumulative[t] < target { t += 1 }
        bounds.append(t)
    }
    bounds.append(tasks)
    // Scratch per chunk (taken here: the workspace is not thread-safe).
    let scratchSize = d * keysPadded + keysPadded
    let scratch = (0..<chunks).map { workspace.buffer("attention.scratch.\($0)", count: scratchSize) }

    parallelFor(chunks) { c in
        let kT = scratch[c]                       // (d, keysPadded): Kᵀ·scale of one head
        let scores = scratch[c] + d * keysPadded  // (keysPadded)
        for t in bounds[c]..<bounds[c + 1] {
            let s = t / heads, h = t % heads
            let nq = segments.queryCount[s], nk = segments.keyCount[s]
            if nq == 0 || nk == 0 { continue }
            let nkPad = (nk + 7) / 8 * 8
            let qBase = q + segments.queryStart[s] * ldq + h * d
            let kBase = k + segments.keyStart[s] * ldk + h * d
            let vBase = v + segments.keyStart[s] * ldv + h * d
            let oBase = out + segments.queryStart[s] * ldOut + h * d
            // Kᵀ with the 1/√d scale folded in; pad columns are zero so whole
            // vectors can be computed and the tail ignored.
            for c in 0..<d {
                let row = kT + c * nkPad
                for j in 0..<nk { row[j] = kBase[j * ldk + c] * scale }
                for j in nk..<nkPad { row[j] = 0 }
            }
            for i in 0..<nq {
                let qi = qBase + i * ldq
                // scores[j] = q_i · k_j, eight keys at a time.
                var j = 0
                while j < nkPad {
                    var acc = Vec8()
                    for c in 0..<d { acc = acc.addingProduct(Vec8(repeating: qi[c]), load8(kT + c * nkPad + j)) }
                    store8(acc, scores + j)
                    j += 8
                }
                softmaxInPlace(scores, count: nk)
                if let probabilities, let probabilityOffsets {
                    let dst = probabilities + probabilityOffsets[s] + (h * nq + i) * nk
                    dst.update(from: scores, count: nk)
                }
                // out_i = Σ_j p_j v_j
                let oi = oBase + i * ldOut
                var c0 = 0
                while c0 + 8 <= d {
                    var acc = Vec8()
                    for j in 0..<nk { acc = acc.addingProduct(Vec8(repeating: scores[j]), load8(vBase + j * ldv + c0)) }
                    store8(acc, oi + c0)
                    c0 += 8
                }
                while c0 < d {
                    var acc: Float = 0
                    for j in 0..<nk { acc += scores[j] * vBase[j * ldv + c0] }
                    oi[c0] = acc
                    c0 += 1
                }
            }
        }
    }
}
