import Foundation

// MARK: - PoWER-BERT: progressive word-vector elimination (METHODS section 5)

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

/// A retention configuration: after layer j's self-attention, each sequence
/// keeps at most lengths[j] word-vectors ([CLS] always among them).
public struct Retention: Sendable, Equatable, CustomStringConvertible {
    public let lengths: [Int]

    /// Checks the count (one per layer), positivity and that the lengths never grow.
    public init(_ lengths: [Int], layers: Int) throws {
        guard lengths.count == layers else {
            throw OfframpError("--retention has \(lengths.count) lengths; the model has \(layers) layers (one length per layer)")
        }
        guard lengths.allSatisfy({ $0 >= 1 }) else { throw OfframpError("--retention: every length must be at least 1 ([CLS] is always kept)") }
        for j in 1..<lengths.count where lengths[j] > lengths[j - 1] {
            throw OfframpError("--retention must not increase from layer to layer: layer \(j + 1) keeps \(lengths[j]) > \(lengths[j - 1])")
        }
        self.lengths = lengths
    }

    /// Parses "30,20,12,8,5,3".
    public init(parsing text: String, layers: Int) throws {
        let parts = text.split(separator: ",")
        let values = try parts.map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw OfframpError("--retention: \"\(s)\" is not a whole number") }
            return v
        }
        try self.init(values, layers: layers)
    }

    public var description: String { lengths.map(String.init).joined(separator: ",") }

    /// The lengths after layer `j` (0-based) of sequences with these lengths.
    public func kept(after j: Int, lengths: [Int]) -> [Int] { lengths.map { min($0, self.lengths[j]) } }
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

/// Which word-vectors inference keeps.
public enum WordVectorRetention: Sendable {
    /// The configuration saved with the model (none when it has none).
    case saved
    /// Every word-vector: no elimination.
    case all
    case configuration(Retention, ExtractSelection)
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
