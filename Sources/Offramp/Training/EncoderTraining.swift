// MARK: - The encoder's training forward and backward

extension BertEmbeddings {
    /// Training forward: out = dropout(LayerNorm(word + position + type)),
    /// keeping the sum and the LayerNorm statistics on `tape`.
    func forward(_ batch: PackedBatch, out: UnsafeMutablePointer<Float>, tape: LayerTape) {
        let h = config.hiddenSize, t = batch.tokenCount
        let sum = tape.buffers.buffer("emb.sum", count: t * h)
        for r in 0..<t {
            let row = sum + r * h
            row.update(from: word + Int(batch.ids[r]) * h, count: h)
            vectorAdd(row, position + Int(batch.positions[r]) * h, count: h)
            vectorAdd(row, tokenType + Int(batch.typeIds[r]) * h, count: h)
        }
        layerNormForward(out: out, mean: tape.buffers.buffer("emb.mean", count: t), rstd: tape.buffers.buffer("emb.rstd", count: t),
                         inp: sum, gamma: gamma, beta: beta, rows: t, cols: h, eps: Float(config.layerNormEps))
        tape.dropout("emb.mask", out, count: t * h)
        tape.rows = t
    }

    /// Backward into the three tables and the LayerNorm. `dOut` is consumed (masked in place).
    func backward(_ batch: PackedBatch, dOut: UnsafeMutablePointer<Float>, tape: LayerTape, grads: Gradients, workspace ws: Workspace) {
        let h = config.hiddenSize, t = tape.rows
        tape.applyMask("emb.mask", dOut, count: t * h)
        let dSum = ws.buffer("grad.emb.sum", count: t * h)
        dSum.update(repeating: 0, count: t * h)
        layerNormBackward(dInp: dSum, dGamma: grads[gamma], dBeta: grads[beta], dOut: dOut,
                          inp: tape.buffers.buffer("emb.sum", count: t * h), mean: tape.buffers.buffer("emb.mean", count: t),
                          rstd: tape.buffers.buffer("emb.rstd", count: t), gamma: gamma, rows: t, cols: h)
        embeddingBackward(dTable: grads[word], dOut: dSum, ids: batch.ids, width: h)
        embeddingBackward(dTable: grads[position], dOut: dSum, ids: batch.positions, width: h)
        embeddingBackward(dTable: grads[tokenType], dOut: dSum, ids: batch.typeIds, width: h)
    }
}

extension BertEncoder {
    /// Training forward over `batch`, recording on `tape`. Returns the hidden
    /// states after each layer l = 1...L as pointers (T, H) valid until the
    /// tape is reused: exit heads read them.
    ///
    /// `haltingLayers` (TOKEE fine-tuning), one per row: row r is a query of
    /// layers 1...haltingLayers[r] and is copied unchanged above (it stays a
    /// key and value). nil: every row runs every layer.
    public func forwardTraining(_ batch: PackedBatch, tape: EncoderTape,
                                haltingLayers: [Int]? = nil) throws -> [UnsafeMutablePointer<Float>] {
        try validate(batch)
        let h = config.hiddenSize, t = batch.tokenCount
        tape.batch = batch
        let x = tape.output.buffer("x", count: t * h)
        embeddings.forward(batch, out: x, tape: tape.embeddings)
        if let haltingLayers { precondition(haltingLayers.count == t, "one halting layer per row") }
        for (l, layer) in layers.enumerated() {
            let active = haltingLayers.map { halt in ActiveSet(starts: batch.starts, lengths: batch.lengths) { halt[$0] > l } }
                ?? ActiveSet(batch)
            layer(x, active: active, workspace: workspace, tape: tape.layers[l])
        }
        // h_l for l < L is the input the next layer kept; h_L is x.
        return (1...layers.count).map { l in
            l < layers.count ? tape.layers[l].buffers.buffer("layer.input", count: t * h) : x
        }
    }

    /// Backward through the layers and the embeddings. `exitGradients[l-1]`
    /// is the gradient the exit heads send into h_l (T, H), or nil; it is
    /// added where h_l enters. Parameter gradients accumulate into `grads`.
    public func backward(tape: EncoderTape, exitGradients: [UnsafeMutablePointer<Float>?], grads: Gradients) {
        let h = config.hiddenSize, t = tape.batch.tokenCount, count = t * h
        var dOut = workspace.buffer("grad.h.a", count: count)
        var dIn = workspace.buffer("grad.h.b", count: count)
        dOut.update(repeating: 0, count: count)
        if let g = exitGradients[layers.count - 1] { vectorAdd(dOut, g, count: count) }
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            dIn.update(repeating: 0, count: count)
            layers[l].backward(dOut: dOut, dInput: dIn, tape: tape.layers[l], grads: grads, workspace: workspace)
            if l > 0, let g = exitGradients[l - 1] { vectorAdd(dIn, g, count: count) }
            swap(&dOut, &dIn)
        }
        embeddings.backward(tape.batch, dOut: dOut, tape: tape.embeddings, grads: grads, workspace: workspace)
    }
}
