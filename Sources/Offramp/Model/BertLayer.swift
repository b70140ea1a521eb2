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
    ///
    /// With a `tape`, this is the training forward: dropout is applied (from
    /// `tape.pass`) and everything `backward` needs is kept on the tape
    /// (TOKEE fine-tuning trains with query subsets too).
    func callAsFunction(
        _ x: UnsafeMutablePointer<Float>, active: ActiveSet, workspace ws: Workspace,
        probabilities: (buffer: UnsafeMutablePointer<Float>, offsets: [Int])? = nil,
        tape: LayerTape? = nil, extract: ExtractStep? = nil, softExtract: SoftExtractStep? = nil
    ) {
        let h = config.hiddenSize, inter = config.intermediateSize
        let heads = config.numAttentionHeads, d = h / heads
        let eps = Float(config.layerNormEps)
        let rows = active.rowCount
        var nq = active.queryCount
        if rows == 0 { return }
        // Inference on many rows runs in groups of whole sequences (about
        // `groupRows` rows each): everything in a layer but attention is
        // row by row, and attention stays within a sequence, so each group is
        // an independent step. The workspace then scales with a group, not the batch.
        if tape == nil, probabilities == nil, softExtract == nil, rows > Self.groupRows, active.sequenceCount > 1 {
            stepInGroups(x, active: active, workspace: ws, extract: extract)
            return
        }
        if nq == 0 {  // every row halted: the layer copies them all
            if let tape {
                tape.buffers.buffer("layer.input", count: rows * h).update(from: x, count: rows * h)
                tape.rows = rows
                tape.queryRows = []
                tape.keptRows = nil
                tape.softExtract = nil
            }
            return
        }
        // Training keeps its intermediates on the tape; inference reuses scratch.
        let keep = tape?.buffers ?? ws
        let ctx = keep.buffer("layer.ctx", count: nq * h)

        // Self-attention. q is (nq, ·) with stride ldq; k and v are (rows, ·) in qkv.
        let qkv = keep.buffer("layer.qkv", count: rows * 3 * h)
        var residual: UnsafeMutablePointer<Float>  // the query rows' input, (nq, H)
        let q: UnsafeMutablePointer<Float>, ldq: Int
        if let queryRows = active.queryRows {
            if let tape {  // every row's input: keys and values are computed from it
                tape.buffers.buffer("layer.input", count: rows * h).update(from: x, count: rows * h)
            }
            // Keys and values for all rows: the (2H, H) lower part of the fused weight.
            matmulTransposedB(qkv + h, x, attention.qkvWeight + h * h, rows: rows, inDim: h, outDim: 2 * h, ldOut: 3 * h)
            addBias(qkv + h, attention.qkvBias + h, rows: rows, cols: 2 * h, ld: 3 * h)
            let xq = keep.buffer("layer.xq", count: nq * h)
            for (i, r) in queryRows.enumerated() { (xq + i * h).update(from: x + r * h, count: h) }
            let qOnly = keep.buffer("layer.q", count: nq * h)
            matmulTransposedB(qOnly, xq, attention.qkvWeight, rows: nq, inDim: h, outDim: h)
            addBias(qOnly, attention.qkvBias, rows: nq, cols: h)
            residual = xq; q = qOnly; ldq = h
        } else {
            if let tape {  // the layer input, for the weight gradients and the residual
                residual = tape.buffers.buffer("layer.input", count: rows * h)
                residual.update(from: x, count: rows * h)
            } else {
                residual = x
            }
            matmulTransposedB(qkv, x, attention.qkvWeight, rows: rows, inDim: h, outDim: 3 * h)
            addBias(qkv, attention.qkvBias, rows: rows, cols: 3 * h)
            q = qkv; ldq = 3 * h
        }
        let segments = active.attentionSegments()
        var probs = probabilities
        var probMask: UnsafeMutablePointer<Float>? = nil
        if let tape {
            let (offsets, total) = Self.probabilityLayout(segments, heads: heads)
            let saved = tape.buffers.buffer("layer.probs", count: total)
            probs = (saved, offsets)
            tape.segments = segments
            tape.probabilityOffsets = offsets
            if tape.pass.attentionDropout > 0 {
                probMask = tape.buffers.buffer("layer.probMask", count: total)
                dropoutMask(probMask!, count: total, p: tape.pass.attentionDropout, rng: &tape.pass.rng)
            }
        }
        let selection = extract?.selection ?? softExtract?.selection
        if probs == nil, selection?.needsAttention == true {  // significance reads the probabilities
            let (offsets, total) = Self.probabilityLayout(segments, heads: heads)
            probs = (ws.buffer("layer.extractProbs", count: total), offsets)
        }
        multiHeadAttention(
            out: ctx, ldOut: h, q: q, ldq: ldq, k: qkv + h, ldk: 3 * h, v: qkv + 2 * h, ldv: 3 * h,
            segments: segments, heads: heads, headDim: d,
            probabilities: probs?.buffer, probabilityOffsets: probs?.offsets, dropoutMask: probMask, workspace: ws)

        // PoWER-BERT extract layer: only the kept word-vectors go on, packed
        // in order (sequence by sequence), so the output is the next layer's
        // compacted input.
        var attended = ctx
        if let extract {
            precondition(active.queryRows == nil, "an extract layer needs every row as a query")
            let kept = Self.keptRows(extract, active: active, probabilities: probs, heads: heads)
            let ctxK = keep.buffer("layer.ctxK", count: kept.count * h)
            let residualK = keep.buffer("layer.residualK", count: kept.count * h)
            for (i, r) in kept.enumerated() {
                (ctxK + i * h).update(from: ctx + r * h, count: h)
                (residualK + i * h).update(from: residual + r * h, count: h)
            }
            attended = ctxK; residual = residualK; nq = kept.count
            tape?.keptRows = kept
        }

        // Attention output: dense, then LayerNorm(· + bias + input).
        let attnOut = keep.buffer("layer.attnOut", count: nq * h)
        matmulTransposedB(attnOut, attended, attentionOutput.weight, rows: nq, inDim: h, outDim: h)
        if let tape {
            addBias(attnOut, attentionOutput.bias, rows: nq, cols: h)
            tape.dropout("layer.mask1", attnOut, count: nq * h)
            residualLayerNormForward(
                out: attnOut, sum: tape.buffers.buffer("layer.sum1", count: nq * h),
                mean: tape.buffers.buffer("layer.mean1", count: nq), rstd: tape.buffers.buffer("layer.rstd1", count: nq),
                x: attnOut, bias: nil, residual: residual,
                gamma: attentionOutput.gamma, beta: attentionOutput.beta, rows: nq, cols: h, eps: eps)
        } else {
            residualLayerNorm(out: attnOut, x: attnOut, bias: attentionOutput.bias, residual: residual,
                              gamma: attentionOutput.gamma, beta: attentionOutput.beta, rows: nq, cols: h, eps: eps)
        }
        if let softExtract, let tape {
            // Soft extract (configuration search): the k-th most significant
            // vector of each sequence is scaled by r[k].
            precondition(active.queryRows == nil && extract == nil, "soft extract runs on full sequences")
            tape.buffers.buffer("layer.attnOutRaw", count: nq * h).update(from: attnOut, count: nq * h)
            let ranks = Self.rowRanks(softExtract, active: active, probabilities: probs, heads: heads)
            for (row, k) in ranks.enumerated() {
                let scale = softExtract.r[k], v = attnOut + row * h
                for c in 0..<h { v[c] *= scale }
            }
            tape.softExtract = softExtract
            tape.ranks = ranks
        }

        // Feed-forward: act(dense) then dense, LayerNorm(· + bias + attnOut).
        let hidden = keep.buffer("layer.intermediate", count: nq * inter)
        matmulTransposedB(hidden, attnOut, intermediate.weight, rows: nq, inDim: h, outDim: inter)
        if let tape {
            addBias(hidden, intermediate.bias, rows: nq, cols: inter)
            activationForward(out: tape.buffers.buffer("layer.activated", count: nq * inter), inp: hidden,
                              count: nq * inter, activation: activation)
        } else {
            biasActivation(hidden, bias: intermediate.bias, rows: nq, cols: inter, activation: activation)
        }
        let activated = tape?.buffers.buffer("layer.activated", count: nq * inter) ?? hidden
        let ffnOut = ws.buffer("layer.ffnOut", count: nq * h)
        matmulTransposedB(ffnOut, activated, output.weight, rows: nq, inDim: inter, outDim: h)
        if let tape {
            addBias(ffnOut, output.bias, rows: nq, cols: h)
            tape.dropout("layer.mask2", ffnOut, count: nq * h)
            let out = active.queryRows == nil ? x : ws.buffer("layer.outQ", count: nq * h)
            residualLayerNormForward(
                out: out, sum: tape.buffers.buffer("layer.sum2", count: nq * h),
                mean: tape.buffers.buffer("layer.mean2", count: nq), rstd: tape.buffers.buffer("layer.rstd2", count: nq),
                x: ffnOut, bias: nil, residual: attnOut,
                gamma: output.gamma, beta: output.beta, rows: nq, cols: h, eps: eps)
            if let queryRows = active.queryRows {
                for (i, r) in queryRows.enumerated() { (x + r * h).update(from: out + i * h, count: h) }
            }
            tape.rows = rows
            tape.queryRows = active.queryRows
            if extract == nil { tape.keptRows = nil }
            if softExtract == nil { tape.softExtract = nil }
        } else if let queryRows = active.queryRows {
            residualLayerNorm(out: ffnOut, x: ffnOut, bias: output.bias, residual: attnOut,
                              gamma: output.gamma, beta: output.beta, rows: nq, cols: h, eps: eps)
            for (i, r) in queryRows.enumerated() { (x + r * h).update(from: ffnOut + i * h, count: h) }
        } else {
            residualLayerNorm(out: x, x: ffnOut, bias: output.bias, residual: attnOut,
                              gamma: output.gamma, beta: output.beta, rows: nq, cols: h, eps: eps)
        }
    }

    /// Rows per group in `stepInGroups`: enough for BLAS to run at full
    /// speed, small enough that a layer's buffers stay in the caches.
    static let groupRows = 384

    /// The layer step, one group of whole sequences at a time (inference).
    /// With an extract, each group's kept rows are moved down to follow the
    /// previous group's, so the output is packed as for one step.
    private func stepInGroups(_ x: UnsafeMutablePointer<Float>, active: ActiveSet, workspace ws: Workspace, extract: ExtractStep?) {
        let h = config.hiddenSize
        precondition(active.lengths.indices.allSatisfy { active.starts[$0] == (($0 == 0) ? 0 : active.starts[$0 - 1] + active.lengths[$0 - 1]) },
                     "grouped steps need sequences packed end to end")
        let isQuery: [Bool]? = active.queryRows.map { rows in
            var flags = [Bool](repeating: false, count: active.rowCount)
            for r in rows { flags[r] = true }
            return flags
        }
        var first = 0, written = 0
        while first < active.sequenceCount {
            var last = first + 1, rows = active.lengths[first]
            while last < active.sequenceCount && rows + active.lengths[last] <= Self.groupRows { rows += active.lengths[last]; last += 1 }
            let base = active.starts[first]
            let lengths = Array(active.lengths[first..<last])
            var starts: [Int] = [], acc = 0
            for n in lengths { starts.append(acc); acc += n }
            let group = isQuery.map { flags in ActiveSet(starts: starts, lengths: lengths) { flags[base + $0] } }
                ?? ActiveSet(starts: starts, lengths: lengths)
            let groupExtract = extract.map { ExtractStep(keep: Array($0.keep[first..<last]), selection: $0.selection, layer: $0.layer) }
            self(x + base * h, active: group, workspace: ws, extract: groupExtract)
            if let groupExtract {
                let kept = groupExtract.keep.reduce(0, +)
                if written != base { (x + written * h).update(from: x + base * h, count: kept * h) }
                written += kept
            }
            first = last
        }
    }

    /// The rows an extract layer keeps, ascending (so sequence by sequence, in order).
    static func keptRows(_ e: ExtractStep, active: ActiveSet, probabilities: (buffer: UnsafeMutablePointer<Float>, offsets: [Int])?,
                         heads: Int) -> [Int] {
        var rows: [Int] = []
        for s in 0..<active.sequenceCount {
            let n = active.lengths[s]
            let ranking = extractRanking(selection: e.selection, n: n, layer: e.layer) {
                significance(probabilities!.buffer + probabilities!.offsets[s], heads: heads, n: n, excludeSelf: e.selection == .attentionNoSelf)
            }
            rows += ranking.prefix(min(e.keep[s], n)).sorted().map { active.starts[s] + $0 }
        }
        return rows
    }

    /// Each row's rank within its sequence for the soft extract (0: [CLS]).
    static func rowRanks(_ e: SoftExtractStep, active: ActiveSet, probabilities: (buffer: UnsafeMutablePointer<Float>, offsets: [Int])?,
                         heads: Int) -> [Int] {
        var ranks = [Int](repeating: 0, count: active.rowCount)
        for s in 0..<active.sequenceCount {
            let n = active.lengths[s]
            precondition(n <= e.count, "sequence of \(n) tokens is longer than the retention parameters (\(e.count))")
            let ranking = extractRanking(selection: e.selection, n: n, layer: e.layer) {
                significance(probabilities!.buffer + probabilities!.offsets[s], heads: heads, n: n, excludeSelf: e.selection == .attentionNoSelf)
            }
            for (k, pos) in ranking.enumerated() { ranks[active.starts[s] + pos] = k }
        }
        return ranks
    }

    /// Where each sequence's (heads, queries, keys) probabilities start, and the total.
    static func probabilityLayout(_ segments: AttentionSegments, heads: Int) -> (offsets: [Int], total: Int) {
        var offsets: [Int] = []
        var total = 0
        for s in 0..<segments.count {
            offsets.append(total)
            total += heads * segments.queryCount[s] * segments.keyCount[s]
        }
        return (offsets, total)
    }

    // MARK: Backward

    /// The training backward of this layer, from what `tape` kept.
    ///
    /// - dOut: (rows, H) gradient of the layer's output (read only).
    /// - dInput: (rows, H) gradient of the layer's input, accumulated (+=).
    /// - grads: where parameter gradients accumulate.
    func backward(dOut: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>, tape: LayerTape,
                  grads: Gradients, workspace ws: Workspace) {
        let h = config.hiddenSize, inter = config.intermediateSize
        let heads = config.numAttentionHeads, d = h / heads
        let rows = tape.rows, queryRows = tape.queryRows, kept = tape.keptRows
        let nq = queryRows?.count ?? kept?.count ?? rows  // rows that went through the feed-forward block
        let t = tape.buffers
        func zeroed(_ name: String, _ count: Int) -> UnsafeMutablePointer<Float> {
            let p = ws.buffer(name, count: count)
            p.update(repeating: 0, count: count)
            return p
        }
        // Halt-and-copy: a row that was not a query left the layer unchanged,
        // so its output gradient passes straight to its input.
        if nq == 0 { vectorAdd(dInput, dOut, count: rows * h); return }
        var dOutQ = dOut
        if let queryRows {
            let gathered = ws.buffer("grad.outQ", count: nq * h)
            var isQuery = [Bool](repeating: false, count: rows)
            for (i, r) in queryRows.enumerated() {
                (gathered + i * h).update(from: dOut + r * h, count: h)
                isQuery[r] = true
            }
            for r in 0..<rows where !isQuery[r] { vectorAdd(dInput + r * h, dOut + r * h, count: h) }
            dOutQ = UnsafePointer(gathered)
        }
        // out = LN2(drop(activated·W2ᵀ + b2) + attnOut), on the query rows
        let dSum2 = zeroed("grad.sum2", nq * h)
        let dAttnOut = zeroed("grad.attnOut", nq * h)
        layerNormBackward(dInp: dSum2, dGamma: grads[output.gamma], dBeta: grads[output.beta], dOut: dOutQ,
                          inp: t.buffer("layer.sum2", count: nq * h), mean: t.buffer("layer.mean2", count: nq),
                          rstd: t.buffer("layer.rstd2", count: nq), gamma: output.gamma, rows: nq, cols: h,
                          dResidual: dAttnOut)
        tape.applyMask("layer.mask2", dSum2, count: nq * h)
        let dActivated = zeroed("grad.activated", nq * inter)
        linearBackward(dInp: dActivated, dWeight: grads[output.weight], dBias: grads[output.bias], dOut: dSum2,
                       inp: t.buffer("layer.activated", count: nq * inter), weight: output.weight,
                       rows: nq, inDim: inter, outDim: h)
        let dHidden = zeroed("grad.intermediate", nq * inter)
        activationBackward(dInp: dHidden, dOut: dActivated, preActivation: t.buffer("layer.intermediate", count: nq * inter),
                           count: nq * inter, activation: activation)
        linearBackward(dInp: dAttnOut, dWeight: grads[intermediate.weight], dBias: grads[intermediate.bias], dOut: dHidden,
                       inp: t.buffer("layer.attnOut", count: nq * h), weight: intermediate.weight,
                       rows: nq, inDim: h, outDim: inter)
        if let soft = tape.softExtract {
            // scaled_i = raw_i · r[rank_i]: the gradient splits between raw_i and r.
            let raw = t.buffer("layer.attnOutRaw", count: nq * h)
            for (i, k) in tape.ranks.enumerated() {
                let g = dAttnOut + i * h, x = raw + i * h
                var dot: Float = 0
                for c in 0..<h { dot += g[c] * x[c] }
                soft.dR[k] += dot
                let scale = soft.r[k]
                for c in 0..<h { g[c] *= scale }
            }
        }
        // attnOut = LN1(drop(ctx·Woᵀ + bo) + input), the residual being the query (or kept) rows' input
        let dSum1 = zeroed("grad.sum1", nq * h)
        let gathered = queryRows ?? kept
        let dResidual = gathered == nil ? dInput : zeroed("grad.xq", nq * h)
        layerNormBackward(dInp: dSum1, dGamma: grads[attentionOutput.gamma], dBeta: grads[attentionOutput.beta],
                          dOut: dAttnOut, inp: t.buffer("layer.sum1", count: nq * h),
                          mean: t.buffer("layer.mean1", count: nq), rstd: t.buffer("layer.rstd1", count: nq),
                          gamma: attentionOutput.gamma, rows: nq, cols: h, dResidual: dResidual)
        tape.applyMask("layer.mask1", dSum1, count: nq * h)
        let dCtx = zeroed("grad.ctx", nq * h)
        linearBackward(dInp: dCtx, dWeight: grads[attentionOutput.weight], dBias: grads[attentionOutput.bias], dOut: dSum1,
                       inp: t.buffer(kept == nil ? "layer.ctx" : "layer.ctxK", count: nq * h), weight: attentionOutput.weight,
                       rows: nq, inDim: h, outDim: h)
        var dAttended = dCtx  // eliminated rows' attention output went nowhere: zero gradient
        if let kept {
            dAttended = zeroed("grad.ctxAll", rows * h)
            for (i, r) in kept.enumerated() { (dAttended + r * h).update(from: dCtx + i * h, count: h) }
        }
        // ctx = attention(q, k, v); qkv = input·Wqkvᵀ + b. With a query subset
        // the queries were gathered (nq, H): their gradient is scattered into
        // the query columns of dQKV, which stay zero for the other rows.
        let dQKV = zeroed("grad.qkv", rows * 3 * h)
        let qkv = t.buffer("layer.qkv", count: rows * 3 * h)
        let dQ = queryRows == nil ? dQKV : zeroed("grad.q", nq * h)
        let q = queryRows == nil ? qkv : t.buffer("layer.q", count: nq * h)
        let ldq = queryRows == nil ? 3 * h : h
        let total = tape.probabilityOffsets.isEmpty ? 0 : Self.probabilityLayout(tape.segments, heads: heads).total
        multiHeadAttentionBackward(
            dQ: dQ, lddq: ldq, dK: dQKV + h, lddk: 3 * h, dV: dQKV + 2 * h, lddv: 3 * h,
            dOut: dAttended, ldOut: h, q: q, ldq: ldq, k: qkv + h, ldk: 3 * h, v: qkv + 2 * h, ldv: 3 * h,
            probabilities: t.buffer("layer.probs", count: total), probabilityOffsets: tape.probabilityOffsets,
            dropoutMask: tape.pass.attentionDropout > 0 ? t.buffer("layer.probMask", count: total) : nil,
            segments: tape.segments, heads: heads, headDim: d, workspace: ws)
        if let queryRows {
            for (i, r) in queryRows.enumerated() { (dQKV + r * 3 * h).update(from: dQ + i * h, count: h) }
        }
        linearBackward(dInp: dInput, dWeight: grads[attention.qkvWeight], dBias: grads[attention.qkvBias], dOut: dQKV,
                       inp: t.buffer("layer.input", count: rows * h), weight: attention.qkvWeight,
                       rows: rows, inDim: h, outDim: 3 * h)
        if let gathered {
            for (i, r) in gathered.enumerated() { vectorAdd(dInput + r * h, dResidual + i * h, count: h) }
        }
    }
}
