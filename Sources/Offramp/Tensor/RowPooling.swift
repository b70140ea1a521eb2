// MARK: - Pooling and row gather/scatter, forward and backward
//
// Mean pooling over each packed sequence's rows:
//   out[s] = (1/n_s) Σ_{r in sequence s} inp[r]        out (sequences, width)
//   dInp[r] += dOut[s] / n_s   for every row r of sequence s
// Gather (CLS pooling, the query rows of a layer): out[i] = inp[rows[i]];
// its backward scatters: dInp[rows[i]] += dOut[i]. No cache beyond the indices.

/// out[s] = mean of inp's rows starts[s] ..< starts[s] + lengths[s] (an
/// empty sequence gives zeros). Same arithmetic as `EncoderOutput.pooled(.mean)`.
public func meanPoolForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, starts: [Int], lengths: [Int], width: Int
) {
    precondition(starts.count == lengths.count)
    starts.withUnsafeBufferPointer { st in
        lengths.withUnsafeBufferPointer { ln in
            parallelChunks(st.count, minimumChunk: 1) { range in
                for s in range {
                    let o = out + s * width
                    o.update(repeating: 0, count: width)
                    for r in 0..<ln[s] { vectorAdd(o, inp + (st[s] + r) * width, count: width) }
                    let inv = 1 / Float(max(ln[s], 1))
                    for c in 0..<width { o[c] *= inv }
                }
            }
        }
    }
}

/// dInp[r] += dOut[s] / n_s for every row r of sequence s.
public func meanPoolBackward(
    dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, starts: [Int], lengths: [Int], width: Int
) {
    precondition(starts.count == lengths.count)
    starts.withUnsafeBufferPointer { st in
        lengths.withUnsafeBufferPointer { ln in
            // Sequences own disjoint rows: split by sequence.
            parallelChunks(st.count, minimumChunk: 1) { range in
                for s in range {
                    let n = ln[s]
                    if n == 0 { continue }
                    let inv = 1 / Float(n), g = dOut + s * width
                    let inv8 = Vec8(repeating: inv)
                    for r in 0..<n {
                        let d = dInp + (st[s] + r) * width
                        var c = 0
                        while c + 8 <= width { store8(load8(d + c).addingProduct(load8(g + c), inv8), d + c); c += 8 }
                        while c < width { d[c] = d[c].addingProduct(g[c], inv); c += 1 }
                    }
                }
            }
        }
    }
}

/// out[i] = inp[rows[i]] (width floats each; strides ldOut, ldInp).
public func gatherRows(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: [Int], width: Int,
    ldOut: Int? = nil, ldInp: Int? = nil
) {
    let lo = ldOut ?? width, li = ldInp ?? width
    rows.withUnsafeBufferPointer { idx in
        parallelChunks(idx.count, minimumChunk: 64) { range in
            for i in range { (out + i * lo).update(from: inp + idx[i] * li, count: width) }
        }
    }
}

/// dInp[rows[i]] += dOut[i]: the backward of `gatherRows`. Repeated indices
/// are summed in order (deterministic).
public func scatterAddRows(
    dInp: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, rows: [Int], width: Int,
    ldDInp: Int? = nil, ldDOut: Int? = nil
) {
    rows.withUnsafeBufferPointer { idx in
        scatterAddRowsOrdered(dInp, ldDst: ldDInp ?? width, dOut, ldSrc: ldDOut ?? width, rows: idx.count, width: width) { idx[$0] }
    }
}
