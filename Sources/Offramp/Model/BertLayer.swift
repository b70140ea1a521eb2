// MARK: - One encoder layer (post-LayerNorm), HF `BertLayer`

/// HF `BertSelfAttention` (key path `encoder.layer.N.attention.self.*`). The
/// query, key and value weights are adjacent in the parameter store, so they
/// read as one (3H, H) matrix: one matrix product instead of three.
struct BertSelfAttention: @unchecked Sendable {
    let qkvWeight: UnsafeMutablePointer<Float>  // (3H, H): query; key; value
    let qkvBias: UnsafeMutablePointer<Float>    // (3H)
}

/// HF `BertSelfOutput` (`attention.output.*`): dense, dropout, residual LayerNorm.
struct BertSelfOutput: @unchecked Sendable {
    let weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>  // (H, H), (H)
    let gamma: UnsafeMutablePointer<Float>, beta: UnsafeMutablePointer<Float>
}

/// HF `BertIntermediate` (`intermediate.dense.*`) + the activation.
struct BertIntermediate: @unchecked Sendable {
    let weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>  // (I, H), (I)
}

/// HF `BertOutput` (`output.*`): dense, dropout, residual LayerNorm.
struct BertOutput: @unchecked Sendable {
    let weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>  // (H, I), (H)
    let gamma: UnsafeMutablePointer<Float>, beta: UnsafeMutablePointer<Float>
}

public struct BertLayer: @unchecked Sendable {
    let attention: BertSelfAttention
    let attentionOutput: BertSelfOutput
    let intermediate: BertIntermediate
    let output: BertOutput
    let config: BertConfig
    let activation: Activation

    static func parameterSpecs(_ c: BertConfig, layer l: Int) -> [(name: String, shape: [Int])] {
        let p = "encoder.layer.\(l)."
        let h = c.hiddenSize, i = c.intermediateSize
        // Order matters: query/key/value weights, then their biases, adjacent.
        return [
            (p + "attention.self.query.weight", [h, h]), (p + "attention.self.key.weight", [h, h]),
            (p + "attention.self.value.weight", [h, h]),
            (p + "attention.self.query.bias", [h]), (p + "attention.self.key.bias", [h]),
            (p + "attention.self.value.bias", [h]),
            (p + "attention.output.dense.weight", [h, h]), (p + "attention.output.dense.bias", [h]),
            (p + "attention.output.LayerNorm.weight", [h]), (p + "attention.output.LayerNorm.bias", [h]),
            (p + "intermediate.dense.weight", [i, h]), (p + "intermediate.dense.bias", [i]),
            (p + "output.dense.weight", [h, i]), (p + "output.dense.bias", [h]),
            (p + "output.LayerNorm.weight", [h]), (p + "output.LayerNorm.bias", [h]),
        ]
    }

    init(_ p: ParameterStore, config c: BertConfig, layer l: Int) throws {
        let n = "encoder.layer.\(l)."
        attention = BertSelfAttention(qkvWeight: p[n + "attention.self.query.weight"], qkvBias: p[n + "attention.self.query.bias"])
        attentionOutput = BertSelfOutput(
            weight: p[n + "attention.output.dense.weight"], bias: p[n + "attention.output.dense.bias"],
            gamma: p[n + "attention.output.LayerNorm.weight"], beta: p[n + "attention.output.LayerNorm.bias"])
        intermediate = BertIntermediate(weight: p[n + "intermediate.dense.weight"], bias: p[n + "intermediate.dense.bias"])
        output = BertOutput(
            weight: p[n + "output.dense.weight"], bias: p[n + "output.dense.bias"],
            gamma: p[n + "output.LayerNorm.weight"], beta: p[n + "output.LayerNorm.bias"])
        config = c
        activation = try Activation(configName: c.hiddenAct)
    }

    /// One layer step on the active set, in place: x (T, H) holds the packed
    /// rows; the query rows are replaced by the layer's output, every other row
    /// is left as it is (halt-and-copy).
    ///
    /// Keys and values are computed for every active row; queries, attention
    /// output, and the feed-forward block only for the query rows.
    /// `probabilities`, when given, receives each sequence's attention
    /// probabilities (heads, queries, keys) at the given offsets.
    func callAsFunction(
        _ x: UnsafeMutablePointer<Float>, active: ActiveSet, workspace ws: Workspace,
        probabilities: (buffer: UnsafeMutablePointer<Float>, offsets: [Int])? = nil
    ) {
        let h = config.hiddenSize, inter = config.intermediateSize
        let heads = config.numAttentionHeads, d = h / heads
        let eps = Float(config.layerNormEps)
        let rows = active.rowCount, nq = active.queryCount
        if rows == 0 || nq == 0 { return }
        let ctx = ws.buffer("layer.ctx", count: nq * h)

        // Self-attention. q is (nq, ·) with stride ldq; k and v are (rows, ·) in qkv.
        let qkv = ws.buffer("layer.qkv", count: rows * 3 * h)
        let residual: UnsafeMutablePointer<Float>  // the query rows' input, (nq, H)
        let q: UnsafeMutablePointer<Float>, ldq: Int
        if let queryRows = active.queryRows {
            // Keys and values for all rows: the (2H, H) lower part of the fused weight.
            matmulTransposedB(qkv + h, x, attention.qkvWeight + h * h, rows: rows, inDim: h, outDim: 2 * h, ldOut: 3 * h)
            addBias(qkv + h, attention.qkvBias + h, rows: rows, cols: 2 * h, ld: 3 * h)
            let xq = ws.buffer("layer.xq", count: nq * h)
            for (i, r) in queryRows.enumerated() { (xq + i * h).update(from: x + r * h, count: h) }
            let qOnly = ws.buffer("layer.q", count: nq * h)
            matmulTransposedB(qOnly, xq, attention.qkvWeight, rows: nq, inDim: h, outDim: h)
            addBias(qOnly, attention.qkvBias, rows: nq, cols: h)
            residual = xq; q = qOnly; ldq = h
        } else {
            matmulTransposedB(qkv, x, attention.qkvWeight, rows: rows, inDim: h, outDim: 3 * h)
            addBias(qkv, attention.qkvBias, rows: rows, cols: 3 * h)
            residual = x; q = qkv; ldq = 3 * h
        }
        multiHeadAttention(
            out: ctx, ldOut: h, q: q, ldq: ldq, k: qkv + h, ldk: 3 * h, v: qkv + 2 * h, ldv: 3 * h,
            segments: active.attentionSegments(), heads: heads, headDim: d,
            probabilities: probabilities?.buffer, probabilityOffsets: probabilities?.offsets, workspace: ws)

        // Attention output: dense, then LayerNorm(· + bias + input).
        let attnOut = ws.buffer("layer.attnOut", count: nq * h)
        matmulTransposedB(attnOut, ctx, attentionOutput.weight, rows: nq, inDim: h, outDim: h)
        residualLayerNorm(out: attnOut, x: attnOut, bias: attentionOutput.bias, residual: residual,
                          gamma: attentionOutput.gamma, beta: attentionOutput.beta, rows: nq, cols: h, eps: eps)

        // Feed-forward: act(dense) then dense, LayerNorm(· + bias + attnOut).
        let hidden = ws.buffer("layer.intermediate", count: nq * inter)
        matmulTransposedB(hidden, attnOut, intermediate.weight, rows: nq, inDim: h, outDim: inter)
        biasActivation(hidden, bias: intermediate.bias, rows: nq, cols: inter, activation: activation)
        let ffnOut = ws.buffer("layer.ffnOut", count: nq * h)
        matmulTransposedB(ffnOut, hidden, output.weight, rows: nq, inDim: inter, outDim: h)
        if let queryRows = active.queryRows {
            residualLayerNorm(out: ffnOut, x: ffnOut, bias: output.bias, residual: attnOut,
                              gamma: output.gamma, beta: output.beta, rows: nq, cols: h, eps: eps)
            for (i, r) in queryRows.enumerated() { (x + r * h).update(from: ffnOut + i * h, count: h) }
        } else {
            residualLayerNorm(out: x, x: ffnOut, bias: output.bias, residual: attnOut,
                              gamma: output.gamma, beta: output.beta, rows: nq, cols: h, eps: eps)
        }
    }
}
