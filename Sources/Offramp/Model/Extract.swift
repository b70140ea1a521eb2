import Foundation

// MARK: - PoWER-BERT's extract layer: which word-vectors go on (METHODS section 5)

/// How an extract layer chooses the word-vectors it keeps.
public enum ExtractSelection: String, Sendable, CaseIterable, Codable {
    /// Attn-WS: the most significant, significance being the attention a
    /// vector receives, summed over heads and over every query.
    case attention
    /// Attn-WS as the reference code computes it: self-attention left out.
    case attentionNoSelf = "attention-no-self"
    /// Head-WS: the first l_j positions.
    case head
    /// Rand-WS: a fixed random subset for each layer and length.
    case random
}

/// One extract layer's work in a layer step.
public struct ExtractStep: Sendable {
    /// Word-vectors each sequence keeps (at most its length).
    public let keep: [Int]
    public let selection: ExtractSelection
    /// 0-based layer (seeds Rand-WS).
    public let layer: Int

    public init(keep: [Int], selection: ExtractSelection, layer: Int) {
        self.keep = keep; self.selection = selection; self.layer = layer
    }
}

/// The soft extract layer of the configuration search: the k-th most
/// significant vector of a sequence is multiplied by r[k].
struct SoftExtractStep {
    let r: UnsafeMutablePointer<Float>
    /// Where dLoss/dr accumulates.
    let dR: UnsafeMutablePointer<Float>
    /// Length of r (the maximum sequence length).
    let count: Int
    let selection: ExtractSelection
    let layer: Int
}

/// Significance of a sequence's n word-vectors from its attention
/// probabilities (heads, n, n), queries along rows: out[w] = Σ_h Σ_q A_h[q, w]
/// (minus A_h[w, w] when `excludeSelf`).
func significance(_ probs: UnsafePointer<Float>, heads: Int, n: Int, excludeSelf: Bool) -> [Float] {
    var out = [Float](repeating: 0, count: n)
    out.withUnsafeMutableBufferPointer { o in
        for hq in 0..<(heads * n) {
            let row = probs + hq * n
            vectorAdd(o.baseAddress!, row, count: n)
            if excludeSelf { o[hq % n] -= row[hq % n] }
        }
    }
    return out
}

/// Positions of a sequence of length n ranked for elimination: [CLS] first,
/// then by the selection's preference (most significant first; ties by position).
func extractRanking(selection: ExtractSelection, n: Int, layer: Int, significance sig: () -> [Float]) -> [Int] {
    guard n > 1 else { return Array(0..<n) }
    switch selection {
    case .head:
        return Array(0..<n)
    case .random:
        var rng = SeededRandom(seed: 0x9E37_79B9 &* UInt64(layer + 1) ^ UInt64(n) &* 0xC2B2_AE35)
        var rest = Array(1..<n)
        for i in stride(from: rest.count - 1, to: 0, by: -1) { rest.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return [0] + rest
    case .attention, .attentionNoSelf:
        let s = sig()
        return [0] + (1..<n).sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
    }
}

extension ExtractSelection {
    var needsAttention: Bool { self == .attention || self == .attentionNoSelf }
}
