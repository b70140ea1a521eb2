// MARK: - Embeddings: word + position + token type, then LayerNorm

/// HF `BertEmbeddings` (key path `embeddings.*`).
public struct BertEmbeddings: @unchecked Sendable {
    let word: UnsafeMutablePointer<Float>       // (vocab, H)
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

    init(_ p: ParameterStore, config: BertConfig) {
        word = p["embeddings.word_embeddings.weight"]
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
        batch.ids.withUnsafeBufferPointer { ids in
            batch.positions.withUnsafeBufferPointer { pos in
                batch.typeIds.withUnsafeBufferPointer { types in
                    parallelChunks(batch.tokenCount, minimumChunk: 32) { range in
                        for r in range {
                            let row = out + r * h
                            row.update(from: word + Int(ids[r]) * h, count: h)
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
