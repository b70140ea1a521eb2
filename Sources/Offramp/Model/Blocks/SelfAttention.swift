// MARK: - Self-attention: HF `BertSelfAttention`

/// Attention probabilities laid out per sequence: sequence s's (heads, queries,
/// keys) block starts at offsets[s].
typealias ProbabilityBuffer = (buffer: UnsafeMutablePointer<Float>, offsets: [Int])

/// HF `BertSelfAttention` (key path `encoder.layer.N.attention.self.*`). The
/// query, key and value weights are adjacent in the parameter store, so they
/// read as one (3H, H) layer: one matrix product instead of three.
struct BertSelfAttention: @unchecked Sendable {
    let qkv: Linear  // (3H, H): query; key; value
    let heads: Int
    let headDim: Int
    var width: Int { heads * headDim }

    init(_ p: ParameterStore, _ prefix: String, config c: BertConfig, packing: WeightPacking? = nil) {
        // `query.weight`, `key.weight`, `value.weight` then the three biases, adjacent (BertLayer.parameterSpecs).
        qkv = Linear(p, prefix + "query", inDim: c.hiddenSize, outDim: 3 * c.hiddenSize, packing: packing)
        heads = c.numAttentionHeads
        headDim = c.hiddenSize / c.numAttentionHeads
    }

    /// The context (Q, H) of the active set's query rows of x (T, H), in
    /// `acts.context`; keys and values come from every row. Returns the query
    /// rows' input (the attention output's residual): x itself when every row asks.
    /// `probabilities`/`dropoutMask`: where the softmax goes, and its dropout (training).
    func forward(_ x: UnsafeMutablePointer<Float>, active: ActiveSet, activations acts: LayerActivations, training: Bool,
                 probabilities: ProbabilityBuffer?, dropoutMask: UnsafeMutablePointer<Float>?,
                 workspace ws: Workspace) -> UnsafeMutablePointer<Float> {
        let h = width, rows = active.rowCount, nq = active.queryCount
        let qkvOut = acts.qkv(rows * 3 * h)
        let residual: UnsafeMutablePointer<Float>  // the query rows' input, (Q, H)
        let q: UnsafeMutablePointer<Float>, ldq: Int
        if let queryRows = active.queryRows {
            // every row's input is kept: keys and values are computed from it
            if training { acts.input(rows * h).update(from: x, count: rows * h) }
            qkv.outputs(h ..< 3 * h).forward(qkvOut + h, x, rows: rows, ldOut: 3 * h)
            let xq = acts.queryInput(nq * h)
            for (i, r) in queryRows.enumerated() { (xq + i * h).update(from: x + r * h, count: h) }
            let qOnly = acts.queries(nq * h)
            qkv.outputs(0 ..< h).forward(qOnly, xq, rows: nq)
            residual = xq; q = qOnly; ldq = h
        } else {
            if training {  // the layer input, for the weight gradients and the residual
                residual = acts.input(rows * h)
                residual.update(from: x, count: rows * h)
            } else {
                residual = x
            }
            qkv.forward(qkvOut, x, rows: rows)
            q = qkvOut; ldq = 3 * h
        }
        multiHeadAttention(
            out: acts.context(nq * h), ldOut: h, q: q, ldq: ldq, k: qkvOut + h, ldk: 3 * h, v: qkvOut + 2 * h, ldv: 3 * h,
            segments: active.attentionSegments(), heads: heads, headDim: headDim,
            probabilities: probabilities?.buffer, probabilityOffsets: probabilities?.offsets, dropoutMask: dropoutMask, workspace: ws)
        return residual
    }

    /// From dContext (T, H) (zero for rows that were not queries or not kept):
    /// dInput (T, H) accumulates, the parameters' gradients go to `grads`.
    func backward(dInput: UnsafeMutablePointer<Float>, dContext: UnsafePointer<Float>, activations acts: LayerActivations,
                  grads: Gradients, workspace ws: Workspace) {
        let h = width, rows = acts.rows, queryRows = acts.queryRows, nq = queryRows?.count ?? rows
        // With a query subset the queries were gathered (Q, H): their gradient is
        // scattered into the query columns of dQKV, which stay zero for the other rows.
        let dQKV = ws.zeroed("grad.qkv", rows * 3 * h)
        let qkvOut = acts.qkv(rows * 3 * h)
        let dQ = queryRows == nil ? dQKV : ws.zeroed("grad.q", nq * h)
        let q = queryRows == nil ? qkvOut : acts.queries(nq * h)
        let ldq = queryRows == nil ? 3 * h : h
        let total = acts.probabilityOffsets.isEmpty ? 0 : probabilityLayout(acts.segments, heads: heads).total
        multiHeadAttentionBackward(
            dQ: dQ, lddq: ldq, dK: dQKV + h, lddk: 3 * h, dV: dQKV + 2 * h, lddv: 3 * h,
            dOut: dContext, ldOut: h, q: q, ldq: ldq, k: qkvOut + h, ldk: 3 * h, v: qkvOut + 2 * h, ldv: 3 * h,
            probabilities: acts.probabilities(total), probabilityOffsets: acts.probabilityOffsets,
            dropoutMask: acts.pass.attentionDropout > 0 ? acts.probabilityMask(total) : nil,
            segments: acts.segments, heads: heads, headDim: headDim, workspace: ws)
        if let queryRows {
            for (i, r) in queryRows.enumerated() { (dQKV + r * 3 * h).update(from: dQ + i * h, count: h) }
        }
        qkv.backward(dInp: dInput, dOut: dQKV, inp: acts.input(rows * h), rows: rows, grads: grads)
    }
}

/// Where each sequence's (heads, queries, keys) probabilities start, and the total.
func probabilityLayout(_ segments: AttentionSegments, heads: Int) -> (offsets: [Int], total: Int) {
    var offsets: [Int] = []
    var total = 0
    for s in 0..<segments.count {
        offsets.append(total)
        total += heads * segments.queryCount[s] * segments.keyCount[s]
    }
    return (offsets, total)
}
