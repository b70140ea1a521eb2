// MARK: - Embedding lookup backward
//
// Forward: out[r] = table[ids[r]] (rows, width). Backward:
//   dTable[ids[r]] += dOut[r]
// Ids repeat (the same word, every sequence's position 0, token type 0), so
// rows are added in order within column ranges split across threads:
// deterministic, whatever the thread count. The forward's ids are the cache.

/// dTable (vocab, width) += dOut rows scattered by id: dTable[ids[r]] += dOut[r]
/// for r in 0..<ids.count. dOut rows have stride `ldOut` (default width).
/// Word, position (ids = positions) and token-type tables all use this.
public func embeddingBackward(
    dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, ids: [Int32], width: Int, ldOut: Int? = nil
) {
    ids.withUnsafeBufferPointer { idp in
        scatterAddRowsOrdered(dTable, ldDst: width, dOut, ldSrc: ldOut ?? width, rows: idp.count, width: width) { Int(idp[$0]) }
    }
}
