// MARK: - One encoder layer (post-LayerNorm), HF `BertLayer`

/// HF `BertLayer` (`encoder.layer.N.*`): self-attention, its residual output,
/// then the feed-forward block. One step serves inference and training, full
/// sequences and query subsets (TOKEE halt-and-copy), and PoWER-BERT's hard
/// and soft extract layers (docs/methods.md#power-bert).
public struct BertLayer: @unchecked Sendable {
    let attention: BertSelfAttention   // attention.self.*
    let attentionOutput: ResidualOutput  // attention.output.* (HF BertSelfOutput)
    let feedForward: FeedForward       // intermediate.*, output.*

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

    /// The layer's linear layers (names without `.weight`), each group one
    /// matrix product in this order: query, key and value are one (3H, H) product.
    static func linearGroups(layer l: Int) -> [[String]] {
        let p = "encoder.layer.\(l)."
        return [["query", "key", "value"].map { p + "attention.self." + $0 }, [p + "attention.output.dense"],
                [p + "intermediate.dense"], [p + "output.dense"]]
    }

    /// The packed weights of the groups of `linearGroups`, in order (nil in fp32).
    var packedGroups: [PackedWeights?] {
        [attention.qkv, attentionOutput.dense, feedForward.intermediate, feedForward.output.dense].map(\.packed)
    }

    /// `packing`: the layer's products in int8 or bf16 (inference only).
    init(_ p: ParameterStore, config c: BertConfig, layer l: Int, packing: WeightPacking? = nil) throws {
        let n = "encoder.layer.\(l)."
        attention = BertSelfAttention(p, n + "attention.self.", config: c, packing: packing)
        attentionOutput = ResidualOutput(p, n + "attention.output.", inDim: c.hiddenSize, width: c.hiddenSize, eps: Float(c.layerNormEps),
                                         packing: packing)
        feedForward = try FeedForward(p, n, config: c, packing: packing)
    }

    var width: Int { attention.width }

    /// Bytes of the layer's int8 or bf16 weights (0 in fp32).
    var packedWeightBytes: Int {
        packedGroups.reduce(0) { $0 + ($1?.byteCount ?? 0) }
    }

    /// One layer step on the active set, in place: x (T, H) holds the packed
    /// rows; the query rows are replaced by the layer's output, every other row
    /// is left as it is (halt-and-copy). With an `extract`, each sequence keeps
    /// extract.keep[s] rows after the attention and the output is packed as
    /// ActiveSet(lengths: extract.keep).
    ///
    /// Keys and values are computed for every active row; queries, attention
    /// output, and the feed-forward block only for the query rows.
    /// `probabilities`, when given, receives each sequence's attention
    /// probabilities (heads, queries, keys) at the given offsets.
    ///
    /// With `training` activations, this is the training forward: dropout is
    /// applied (from their pass) and everything `backward` needs is kept.
    func callAsFunction(
        _ x: UnsafeMutablePointer<Float>, active: ActiveSet, scratch: LayerActivations, workspace ws: Workspace,
        probabilities: ProbabilityBuffer? = nil,
        training: LayerActivations? = nil, extract: ExtractStep? = nil, softExtract: SoftExtractStep? = nil
    ) {
        let h = width, heads = attention.heads
        let rows = active.rowCount
        var nq = active.queryCount
        if rows == 0 { return }
        // Inference on many rows runs in groups of whole sequences (about
        // `groupRows` rows each): everything in a layer but attention is
        // row by row, and attention stays within a sequence, so each group is
        // an independent step. The workspace then scales with a group, not the batch.
        if training == nil, probabilities == nil, softExtract == nil, rows > Self.groupRows, active.sequenceCount > 1 {
            stepInGroups(x, active: active, scratch: scratch, workspace: ws, extract: extract)
            return
        }
        let acts = training ?? scratch
        if nq == 0 {  // every row halted: the layer copies them all
            if let training {
                training.input(rows * h).update(from: x, count: rows * h)
                training.rows = rows
                training.queryRows = []
                training.keptRows = nil
                training.softExtract = nil
            }
            return
        }

        // Self-attention: where the probabilities go (training keeps them; an extract reads them).
        var probs = probabilities
        var probMask: UnsafeMutablePointer<Float>? = nil
        let segments = active.attentionSegments()
        if let training {
            let (offsets, total) = probabilityLayout(segments, heads: heads)
            probs = (training.probabilities(total), offsets)
            training.segments = segments
            training.probabilityOffsets = offsets
            if training.pass.attentionDropout > 0 {
                probMask = training.probabilityMask(total)
                dropoutMask(probMask!, count: total, p: training.pass.attentionDropout, rng: &training.pass.rng)
            }
        }
        let selection = extract?.selection ?? softExtract?.selection
        if probs == nil, selection?.needsAttention == true {  // significance reads the probabilities
            let (offsets, total) = probabilityLayout(segments, heads: heads)
            probs = (ws.buffer("layer.extractProbs", count: total), offsets)
        }
        var residual = attention.forward(x, active: active, activations: acts, training: training != nil,
                                         probabilities: probs, dropoutMask: probMask, workspace: ws)
        var attended = acts.context(nq * h)

        // PoWER-BERT extract layer: only the kept word-vectors go on.
        if let extract {
            precondition(active.queryRows == nil, "an extract layer needs every row as a query")
            let kept: [Int]
            (attended, residual, kept) = extract.forward(context: attended, residual: residual, active: active,
                                                         probabilities: probs, heads: heads, width: h, activations: acts)
            nq = kept.count
            training?.keptRows = kept
        }

        // Attention output: dense, then LayerNorm(· + bias + residual).
        let attnOut = acts.attentionOutput(nq * h)
        attentionOutput.forward(out: attnOut, product: attnOut, inp: attended, residual: residual, rows: nq,
                                saved: training?.attentionNorm, pass: acts.pass)
        if let softExtract, let training {
            // Soft extract (configuration search): the k-th most significant
            // vector of each sequence is scaled by r[k].
            precondition(active.queryRows == nil && extract == nil, "soft extract runs on full sequences")
            softExtract.forward(attnOut, active: active, probabilities: probs, heads: heads, width: h, activations: training)
        }

        // Feed-forward, LayerNorm(· + attnOut); query rows' outputs go back to their rows.
        if let queryRows = active.queryRows {
            let y = feedForward.forward(attnOut, rows: nq, into: training == nil ? nil : ws.buffer("layer.outQ", count: nq * h),
                                        activations: acts, training: training != nil, workspace: ws)
            for (i, r) in queryRows.enumerated() { (x + r * h).update(from: y + i * h, count: h) }
        } else {
            feedForward.forward(attnOut, rows: nq, into: x, activations: acts, training: training != nil, workspace: ws)
        }
        if let training {
            training.rows = rows
            training.queryRows = active.queryRows
            if extract == nil { training.keptRows = nil }
            if softExtract == nil { training.softExtract = nil }
        }
    }

    /// Rows per group in `stepInGroups`: enough for BLAS to run at full
    /// speed, small enough that a layer's buffers stay in the caches.
    static let groupRows = 384

    /// The layer step, one group of whole sequences at a time (inference).
    /// With an extract, each group's kept rows are moved down to follow the
    /// previous group's, so the output is packed as for one step.
    private func stepInGroups(_ x: UnsafeMutablePointer<Float>, active: ActiveSet, scratch: LayerActivations,
                              workspace ws: Workspace, extract: ExtractStep?) {
        let h = width
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
            self(x + base * h, active: group, scratch: scratch, workspace: ws, extract: groupExtract)
            if let groupExtract {
                let kept = groupExtract.keep.reduce(0, +)
                if written != base { (x + written * h).update(from: x + base * h, count: kept * h) }
                written += kept
            }
            first = last
        }
    }

    // MARK: Backward

    /// The training backward of this layer, from what its forward kept in `acts`.
    ///
    /// - dOut: (rows, H) gradient of the layer's output (read only).
    /// - dInput: (rows, H) gradient of the layer's input, accumulated (+=).
    /// - grads: where parameter gradients accumulate.
    func backward(dOut: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>, activations acts: LayerActivations,
                  grads: Gradients, workspace ws: Workspace) {
        let h = width
        let rows = acts.rows, queryRows = acts.queryRows, kept = acts.keptRows
        let nq = queryRows?.count ?? kept?.count ?? rows  // rows that went through the feed-forward block
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
        // Feed-forward, on the query (or kept) rows.
        let dAttnOut = ws.zeroed("grad.attnOut", nq * h)
        feedForward.backward(dA: dAttnOut, dOut: dOutQ, a: acts.attentionOutput(nq * h), rows: nq,
                             activations: acts, grads: grads, workspace: ws)
        acts.softExtract?.backward(dAttnOut, width: h, activations: acts)
        // Attention output, the residual being the query (or kept) rows' input.
        let gathered = queryRows ?? kept
        let dResidual = gathered == nil ? dInput : ws.zeroed("grad.xq", nq * h)
        let dContext = ws.zeroed("grad.ctx", nq * h)
        attentionOutput.backward(dInp: dContext, dResidual: dResidual, dOut: dAttnOut,
                                 inp: kept == nil ? acts.context(nq * h) : acts.keptContext(nq * h), rows: nq,
                                 saved: acts.attentionNorm, pass: acts.pass, grads: grads, dSum: ws.zeroed("grad.sum1", nq * h))
        let dAttended = kept.map { ExtractStep.backward(dKept: dContext, kept: $0, rows: rows, width: h, workspace: ws) } ?? dContext
        attention.backward(dInput: dInput, dContext: dAttended, activations: acts, grads: grads, workspace: ws)
        if let gathered {
            for (i, r) in gathered.enumerated() { vectorAdd(dInput + r * h, dResidual + i * h, count: h) }
        }
    }
}
