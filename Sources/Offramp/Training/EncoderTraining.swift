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
    /// states after each layer l = 1...L as pointers valid until the tape is
    /// reused: exit heads read them, laid out as `tape.layouts[l-1]` says
    /// (the batch's layout unless word-vectors were eliminated).
    ///
    /// `haltingLayers` (TOKEE fine-tuning), one per row: row r is a query of
    /// layers 1...haltingLayers[r] and is copied unchanged above (it stays a
    /// key and value). `elimination` (PoWER-BERT): hard extract layers at a
    /// retention configuration, or the configuration search's soft extract.
    public func forwardTraining(_ batch: PackedBatch, tape: EncoderTape, haltingLayers: [Int]? = nil,
                                elimination: Elimination? = nil) throws -> [UnsafeMutablePointer<Float>] {
        try validate(batch)
        let h = config.hiddenSize, t = batch.tokenCount
        tape.batch = batch
        let x = tape.output.buffer("x", count: t * h)
        embeddings.forward(batch, out: x, tape: tape.embeddings)
        if let haltingLayers { precondition(haltingLayers.count == t, "one halting layer per row") }
        precondition(haltingLayers == nil || elimination == nil, "TOKEE and PoWER-BERT do not combine")
        var active = ActiveSet(batch)
        tape.layouts = []
        for (l, layer) in layers.enumerated() {
            if let haltingLayers {
                active = ActiveSet(starts: batch.starts, lengths: batch.lengths) { haltingLayers[$0] > l }
            }
            var extract: ExtractStep? = nil, soft: SoftExtractStep? = nil
            switch elimination {
            case .hard(let retention, let selection):
                extract = ExtractStep(keep: retention.kept(after: l, lengths: active.lengths), selection: selection, layer: l)
            case .soft(let parameters):
                soft = parameters.step(layer: l)
            case nil: break
            }
            layer(x, active: active, workspace: workspace, tape: tape.layers[l], extract: extract, softExtract: soft)
            if let extract { active = ActiveSet(lengths: extract.keep) }
            tape.layouts.append(ActiveSet(starts: active.starts, lengths: active.lengths))
        }
        // h_l for l < L is the input the next layer kept; h_L is x.
        return (1...layers.count).map { l in
            l < layers.count ? tape.layers[l].buffers.buffer("layer.input", count: tape.layers[l].rows * h) : x
        }
    }

    /// Backward through the layers and the embeddings. `exitGradients[l-1]`
    /// is the gradient the exit heads send into h_l (T, H), or nil; it is
    /// added where h_l enters. Parameter gradients accumulate into `grads`.
    public func backward(tape: EncoderTape, exitGradients: [UnsafeMutablePointer<Float>?], grads: Gradients) {
        let h = config.hiddenSize, t = tape.batch.tokenCount, count = t * h
        // Rows shrink from layer to layer when word-vectors were eliminated:
        // layer l reads tape.layers[l].rows rows and writes outputRows.
        var dOut = workspace.buffer("grad.h.a", count: count)
        var dIn = workspace.buffer("grad.h.b", count: count)
        let last = layers.count - 1
        dOut.update(repeating: 0, count: tape.layers[last].outputRows * h)
        if let g = exitGradients[last] { vectorAdd(dOut, g, count: tape.layers[last].outputRows * h) }
        for l in stride(from: last, through: 0, by: -1) {
            let inputCount = tape.layers[l].rows * h
            dIn.update(repeating: 0, count: inputCount)
            layers[l].backward(dOut: dOut, dInput: dIn, tape: tape.layers[l], grads: grads, workspace: workspace)
            if l > 0, let g = exitGradients[l - 1] { vectorAdd(dIn, g, count: inputCount) }
            swap(&dOut, &dIn)
        }
        embeddings.backward(tape.batch, dOut: dOut, tape: tape.embeddings, grads: grads, workspace: workspace)
    }
}
