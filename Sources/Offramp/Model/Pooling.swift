// MARK: - Pooling a sequence's token vectors into one

public enum Pooling: String, Sendable, CaseIterable {
    /// Mean over the sequence's real tokens (sentence-transformers' default).
    case mean
    /// The [CLS] (first) token's vector.
    case cls
    /// No pooling: every token's vector.
    case none
}

extension EncoderOutput {
    /// Sequence s's pooled vector of the last hidden states (`.none` is not a
    /// single vector: use `row(_:sequence:token:)`).
    public func pooled(_ s: Int, _ pooling: Pooling, of buffer: FloatBuffer? = nil) -> [Float] {
        let buf = buffer ?? lastHidden
        let n = batch.lengths[s]
        switch pooling {
        case .cls, .none:
            return Array(row(buf, sequence: s, token: 0))
        case .mean:
            var out = [Float](repeating: 0, count: width)
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<n { vectorAdd(o.baseAddress!, row(buf, sequence: s, token: r).baseAddress!, count: width) }
            }
            let inv = 1 / Float(max(n, 1))
            return out.map { $0 * inv }
        }
    }
}

/// Cosine similarity of two vectors.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    let ab = a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in dot(x.baseAddress!, y.baseAddress!, count: a.count) } }
    let aa = a.withUnsafeBufferPointer { dot($0.baseAddress!, $0.baseAddress!, count: a.count) }
    let bb = b.withUnsafeBufferPointer { dot($0.baseAddress!, $0.baseAddress!, count: b.count) }
    return ab / (aa.squareRoot() * bb.squareRoot())
}
