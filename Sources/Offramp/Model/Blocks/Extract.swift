import Foundation

// MARK: - PoWER-BERT's extract layer: which word-vectors go on (docs/methods.md#power-bert)

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
public struct SoftExtractStep: @unchecked Sendable {
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

// MARK: Forward and backward in the layer step

extension ExtractStep {
    /// The rows the extract keeps, ascending (so sequence by sequence, in order).
    func keptRows(active: ActiveSet, probabilities: ProbabilityBuffer?, heads: Int) -> [Int] {
        var rows: [Int] = []
        for s in 0..<active.sequenceCount {
            let n = active.lengths[s]
            let ranking = extractRanking(selection: selection, n: n, layer: layer) {
                significance(probabilities!.buffer + probabilities!.offsets[s], heads: heads, n: n, excludeSelf: selection == .attentionNoSelf)
            }
            rows += ranking.prefix(min(keep[s], n)).sorted().map { active.starts[s] + $0 }
        }
        return rows
    }

    /// Only the kept word-vectors go on: their context and residual rows,
    /// packed in order (K, H), so the rest of the layer computes the next
    /// layer's compacted input.
    func forward(context: UnsafeMutablePointer<Float>, residual: UnsafeMutablePointer<Float>, active: ActiveSet,
                 probabilities: ProbabilityBuffer?, heads: Int, width h: Int, activations acts: LayerActivations)
        -> (context: UnsafeMutablePointer<Float>, residual: UnsafeMutablePointer<Float>, kept: [Int]) {
        let kept = keptRows(active: active, probabilities: probabilities, heads: heads)
        let keptContext = acts.keptContext(kept.count * h), keptResidual = acts.keptResidual(kept.count * h)
        for (i, r) in kept.enumerated() {
            (keptContext + i * h).update(from: context + r * h, count: h)
            (keptResidual + i * h).update(from: residual + r * h, count: h)
        }
        return (keptContext, keptResidual, kept)
    }

    /// The kept rows' gradient (K, H) back at their rows (T, H); eliminated
    /// rows' context went nowhere, so their gradient is zero.
    static func backward(dKept: UnsafePointer<Float>, kept: [Int], rows: Int, width h: Int, workspace ws: Workspace)
        -> UnsafeMutablePointer<Float> {
        let d = ws.zeroed("grad.ctxAll", rows * h)
        for (i, r) in kept.enumerated() { (d + r * h).update(from: dKept + i * h, count: h) }
        return d
    }
}

extension SoftExtractStep {
    /// Each row's rank within its sequence (0: [CLS]).
    func rowRanks(active: ActiveSet, probabilities: ProbabilityBuffer?, heads: Int) -> [Int] {
        var ranks = [Int](repeating: 0, count: active.rowCount)
        for s in 0..<active.sequenceCount {
            let n = active.lengths[s]
            precondition(n <= count, "sequence of \(n) tokens is longer than the retention parameters (\(count))")
            let ranking = extractRanking(selection: selection, n: n, layer: layer) {
                significance(probabilities!.buffer + probabilities!.offsets[s], heads: heads, n: n, excludeSelf: selection == .attentionNoSelf)
            }
            for (k, pos) in ranking.enumerated() { ranks[active.starts[s] + pos] = k }
        }
        return ranks
    }

    /// The k-th most significant row of each sequence of x (T, H) scaled by
    /// r[k], in place; the unscaled rows and the ranks are kept for `backward`.
    func forward(_ x: UnsafeMutablePointer<Float>, active: ActiveSet, probabilities: ProbabilityBuffer?, heads: Int,
                 width h: Int, activations acts: LayerActivations) {
        let rows = active.rowCount
        acts.unscaledAttentionOutput(rows * h).update(from: x, count: rows * h)
        let ranks = rowRanks(active: active, probabilities: probabilities, heads: heads)
        for (row, k) in ranks.enumerated() {
            let scale = r[k], v = x + row * h
            for c in 0..<h { v[c] *= scale }
        }
        acts.softExtract = self
        acts.ranks = ranks
    }

    /// scaled_i = raw_i · r[rank_i]: the gradient splits between raw_i (dX,
    /// scaled in place) and r (dR).
    func backward(_ dX: UnsafeMutablePointer<Float>, width h: Int, activations acts: LayerActivations) {
        let raw = acts.unscaledAttentionOutput(acts.ranks.count * h)
        for (i, k) in acts.ranks.enumerated() {
            let g = dX + i * h, x = raw + i * h
            var dot: Float = 0
            for c in 0..<h { dot += g[c] * x[c] }
            dR[k] += dot
            let scale = r[k]
            for c in 0..<h { g[c] *= scale }
        }
    }
}
