// MARK: - Embeddings: word + position + token type, then LayerNorm

/// HF `BertEmbeddings` (key path `embeddings.*`), and its family's variants
/// (`ModelFamily`): RoBERTa's positions from padding_idx + 1, DistilBERT
/// without token types, ELECTRA's tables of width E projected up to H by
/// `embeddings_project` (after the LayerNorm, as HF does).
public struct BertEmbeddings: @unchecked Sendable {
    /// (vocab, E) in fp32; nil when a quantized checkpoint stored it in `wordTable` only.
    let word: UnsafeMutablePointer<Float>?
    /// The word table below fp32, when the model runs in int8 or bf16: lookups read it.
    var wordTable: QuantizedTable?
    let position: UnsafeMutablePointer<Float>   // (maxPositions, E)
    let tokenType: UnsafeMutablePointer<Float>? // (typeVocab, E); nil: DistilBERT
    let gamma: UnsafeMutablePointer<Float>, beta: UnsafeMutablePointer<Float>  // (E)
    /// ELECTRA's `embeddings_project` (E → H) when E ≠ H.
    let projection: Linear?
    let config: BertConfig

    static func parameterSpecs(_ c: BertConfig) -> [(name: String, shape: [Int])] {
        let e = c.embeddingWidth
        var specs = [("embeddings.word_embeddings.weight", [c.vocabSize, e]),
                     ("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, e])]
        if c.family.hasTokenTypes { specs.append(("embeddings.token_type_embeddings.weight", [c.typeVocabSize, e])) }
        specs += [("embeddings.LayerNorm.weight", [e]), ("embeddings.LayerNorm.bias", [e])]
        if e != c.hiddenSize { specs += [(projectionName + ".weight", [c.hiddenSize, e]), (projectionName + ".bias", [c.hiddenSize])] }
        return specs
    }

    static let wordTableName = "embeddings.word_embeddings"
    /// ELECTRA's key (beside `embeddings`, not inside it).
    static let projectionName = "embeddings_project"

    init(_ p: ParameterStore, config: BertConfig, wordTable: QuantizedTable? = nil) {
        word = p.pointer(Self.wordTableName + ".weight")
        self.wordTable = wordTable
        precondition(word != nil || wordTable != nil, "no word table")
        position = p["embeddings.position_embeddings.weight"]
        tokenType = config.family.hasTokenTypes ? p["embeddings.token_type_embeddings.weight"] : nil
        gamma = p["embeddings.LayerNorm.weight"]
        beta = p["embeddings.LayerNorm.bias"]
        projection = config.embeddingWidth == config.hiddenSize ? nil
            : Linear(p, Self.projectionName, inDim: config.embeddingWidth, outDim: config.hiddenSize)
        self.config = config
    }

    /// Each row's position id. From `firstPosition` on (RoBERTa's padding_idx + 1);
    /// RoBERTa gives a pad token inside a sequence the pad position and does
    /// not count it, as HF's `create_position_ids_from_input_ids` does.
    func positionIds(_ batch: PackedBatch) -> [Int32] {
        let first = Int32(config.firstPosition)
        guard first > 0 else { return batch.positions }
        let pad = Int32(config.padTokenId)
        var out = [Int32](repeating: 0, count: batch.tokenCount)
        for s in 0..<batch.sequenceCount {
            var next = first
            for r in batch.rows(s) {
                if batch.ids[r] == pad { out[r] = pad } else { out[r] = next; next += 1 }
            }
        }
        return out
    }

    /// out (T, H) = [projection] LayerNorm(word[id] + position[pos] + tokenType[type]) for each packed row.
    /// Ids, positions and types must be in range (checked by the caller: `BertEncoder.validate`).
    /// `workspace` holds the (T, E) rows before ELECTRA's projection.
    func callAsFunction(_ batch: PackedBatch, out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let e = config.embeddingWidth
        let eps = Float(config.layerNormEps)
        let word = word, table = wordTable, tokenType = tokenType
        let rows = projection == nil ? out : workspace.buffer("embeddings.rows", count: batch.tokenCount * e)
        let positions = positionIds(batch)
        batch.ids.withUnsafeBufferPointer { ids in
            positions.withUnsafeBufferPointer { pos in
                batch.typeIds.withUnsafeBufferPointer { types in
                    parallelChunks(batch.tokenCount, minimumChunk: 32) { range in
                        for r in range {
                            let row = rows + r * e
                            if let table { table.copyRow(Int(ids[r]), to: row) } else { row.update(from: word! + Int(ids[r]) * e, count: e) }
                            vectorAdd(row, position + Int(pos[r]) * e, count: e)
                            layerNormRow(out: row, x: row, bias: nil, residual: tokenType.map { $0 + Int(types[r]) * e },
                                         gamma: gamma, beta: beta, cols: e, eps: eps)
                        }
                    }
                }
            }
        }
        projection?.forward(out, rows, rows: batch.tokenCount)
    }
}

// MARK: Training forward and backward

extension BertEmbeddings {
    /// Training forward: out = [projection] dropout(LayerNorm(word + position + type)),
    /// keeping the sum, the LayerNorm statistics and (ELECTRA) the projection's input in `acts`.
    func forward(_ batch: PackedBatch, out: UnsafeMutablePointer<Float>, activations acts: EmbeddingActivations) {
        let e = config.embeddingWidth, t = batch.tokenCount
        guard let word, wordTable == nil else { preconditionFailure("training reads the fp32 word table") }
        let sum = acts.sum(t * e)
        let positions = positionIds(batch)
        for r in 0..<t {
            let row = sum + r * e
            row.update(from: word + Int(batch.ids[r]) * e, count: e)
            vectorAdd(row, position + Int(positions[r]) * e, count: e)
            if let tokenType { vectorAdd(row, tokenType + Int(batch.typeIds[r]) * e, count: e) }
        }
        let normalized = projection == nil ? out : acts.normalized(t * e)
        layerNormForward(out: normalized, mean: acts.mean(t), rstd: acts.rstd(t),
                         inp: sum, gamma: gamma, beta: beta, rows: t, cols: e, eps: Float(config.layerNormEps))
        acts.pass.dropout(normalized, count: t * e, mask: acts.mask)
        projection?.forward(out, normalized, rows: t)
        acts.rows = t
    }

    /// Backward into the tables, the LayerNorm and the projection. `dOut` (T, H) is consumed (masked in place).
    func backward(_ batch: PackedBatch, dOut: UnsafeMutablePointer<Float>, activations acts: EmbeddingActivations, grads: Gradients,
                  workspace ws: Workspace) {
        let e = config.embeddingWidth, t = acts.rows
        var dNormalized = dOut
        if let projection {
            dNormalized = ws.zeroed("grad.emb.normalized", t * e)
            projection.backward(dInp: dNormalized, dOut: dOut, inp: acts.normalized(t * e), rows: t, grads: grads)
        }
        acts.pass.applyMask(dNormalized, count: t * e, mask: acts.mask)
        let dSum = ws.zeroed("grad.emb.sum", t * e)
        layerNormBackward(dInp: dSum, dGamma: grads[gamma], dBeta: grads[beta], dOut: dNormalized,
                          inp: acts.sum(t * e), mean: acts.mean(t), rstd: acts.rstd(t), gamma: gamma, rows: t, cols: e)
        embeddingBackward(dTable: grads[word!], dOut: dSum, ids: batch.ids, width: e)
        embeddingBackward(dTable: grads[position], dOut: dSum, ids: positionIds(batch), width: e)
        if let tokenType { embeddingBackward(dTable: grads[tokenType], dOut: dSum, ids: batch.typeIds, width: e) }
    }
}
