// MARK: - Embeddings: word + position + token type, then LayerNorm

/// HF `BertEmbeddings` (key path `embeddings.*`).
public struct BertEmbeddings: @unchecked Sendable {
    /// (vocab, H) in fp32; nil when a quantized checkpoint stored it in `wordTable` only.
    let word: UnsafeMutablePointer<Float>?
    /// The word table below fp32, when the model runs in int8 or bf16: lookups read it.
    var wordTable: QuantizedTable?
    let position: UnsafeMutablePointer<Float>   // (maxPositions, H)
    let tokenType: UnsafeMutablePointer<Float>  // (typeVocab, H)
    let gamma: UnsafeMutablePointer<Float>, beta: UnsafeMutablePointer<Float>
    let config: BertConfig

    static func parameterSpecs(_ c: BertConfig) -> [(name: String, shape: [Int])] {
        [("embeddings.word_embeddings.weight", [c.vocabSize, c.hiddenSize]),
         ("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, c.hiddenSize]),
         ("embeddings.token_type_embeddings.weight", [c.typeVocabSize, c.hiddenSize]),
         ("embeddings.LayerNorm.weight", [c.hiddenSize]),
         ("embeddings.LayerNorm.bias", [c.hiddenSize])]
    }

    static let wordTableName = "embeddings.word_embeddings"

    init(_ p: ParameterStore, config: BertConfig, wordTable: QuantizedTable? = nil) {
        word = p.pointer(Self.wordTableName + ".weight")
        self.wordTable = wordTable
        precondition(word != nil || wordTable != nil, "no word table")
        position = p["embeddings.position_embeddings.weight"]
        tokenType = p["embeddings.token_type_embeddings.weight"]
        gamma = p["embeddings.LayerNorm.weight"]
        beta = p["embeddings.LayerNorm.bias"]
        self.config = config
    }

    /// out (T, H) = LayerNorm(word[id] + position[pos] + tokenType[type]) for each packed row.
    /// Ids, positions and types must be in range (checked by the caller: `BertEncoder.validate`).
    func callAsFunction(_ batch: PackedBatch, out: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        let eps = Float(config.layerNormEps)
        let word = word, table = wordTable
        batch.ids.withUnsafeBufferPointer { ids in
            batch.positions.withUnsafeBufferPointer { pos in
                batch.typeIds.withUnsafeBufferPointer { types in
                    parallelChunks(batch.tokenCount, minimumChunk: 32) { range in
                        for r in range {
                            let row = out + r * h
                            if let table { table.copyRow(Int(ids[r]), to: row) } else { row.update(from: word! + Int(ids[r]) * h, count: h) }
                            vectorAdd(row, position + Int(pos[r]) * h, count: h)
                            layerNormRow(out: row, x: row, bias: nil, residual: tokenType + Int(types[r]) * h,
                                         gamma: gamma, beta: beta, cols: h, eps: eps)
                        }
                    }
                }
            }
        }
    }
}

// MARK: Training forward and backward

extension BertEmbeddings {
    /// Training forward: out = dropout(LayerNorm(word + position + type)),
    /// keeping the sum and the LayerNorm statistics in `acts`.
    func forward(_ batch: PackedBatch, out: UnsafeMutablePointer<Float>, activations acts: EmbeddingActivations) {
        let h = config.hiddenSize, t = batch.tokenCount
        guard let word, wordTable == nil else { preconditionFailure("training reads the fp32 word table") }
        let sum = acts.sum(t * h)
        for r in 0..<t {
            let row = sum + r * h
            row.update(from: word + Int(batch.ids[r]) * h, count: h)
            vectorAdd(row, position + Int(batch.positions[r]) * h, count: h)
            vectorAdd(row, tokenType + Int(batch.typeIds[r]) * h, count: h)
        }
        layerNormForward(out: out, mean: acts.mean(t), rstd: acts.rstd(t),
                         inp: sum, gamma: gamma, beta: beta, rows: t, cols: h, eps: Float(config.layerNormEps))
        acts.pass.dropout(out, count: t * h, mask: acts.mask)
        acts.rows = t
    }

    /// Backward into the three tables and the LayerNorm. `dOut` is consumed (masked in place).
    func backward(_ batch: PackedBatch, dOut: UnsafeMutablePointer<Float>, activations acts: EmbeddingActivations, grads: Gradients,
                  workspace ws: Workspace) {
        let h = config.hiddenSize, t = acts.rows
        acts.pass.applyMask(dOut, count: t * h, mask: acts.mask)
        let dSum = ws.zeroed("grad.emb.sum", t * h)
        layerNormBackward(dInp: dSum, dGamma: grads[gamma], dBeta: grads[beta], dOut: dOut,
                          inp: acts.sum(t * h), mean: acts.mean(t), rstd: acts.rstd(t), gamma: gamma, rows: t, cols: h)
        embeddingBackward(dTable: grads[word!], dOut: dSum, ids: batch.ids, width: h)
        embeddingBackward(dTable: grads[position], dOut: dSum, ids: batch.positions, width: h)
        embeddingBackward(dTable: grads[tokenType], dOut: dSum, ids: batch.typeIds, width: h)
    }
}
