import Foundation

// MARK: - PoWER-BERT retention configurations (docs/methods.md#power-bert)

/// A PoWER-BERT configuration: after layer j's self-attention, each sequence
/// keeps at most lengths[j] word-vectors ([CLS] always among them), chosen by
/// `selection`. It is the elimination plan of inference and of re-training
/// (hard extract layers).
public struct Retention: EliminationPlan, Equatable, CustomStringConvertible {
    public let lengths: [Int]
    public let selection: ExtractSelection

    /// Checks the count (one per layer), positivity and that the lengths never grow.
    public init(_ lengths: [Int], layers: Int, selection: ExtractSelection = .attention) throws {
        guard lengths.count == layers else {
            throw OfframpError("--retention has \(lengths.count) lengths; the model has \(layers) layers (one length per layer)")
        }
        guard lengths.allSatisfy({ $0 >= 1 }) else { throw OfframpError("--retention: every length must be at least 1 ([CLS] is always kept)") }
        for j in 1..<lengths.count where lengths[j] > lengths[j - 1] {
            throw OfframpError("--retention must not increase from layer to layer: layer \(j + 1) keeps \(lengths[j]) > \(lengths[j - 1])")
        }
        self.lengths = lengths
        self.selection = selection
    }

    /// Parses "30,20,12,8,5,3".
    public init(parsing text: String, layers: Int, selection: ExtractSelection = .attention) throws {
        let parts = text.split(separator: ",")
        let values = try parts.map { s -> Int in
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw OfframpError("--retention: \"\(s)\" is not a whole number") }
            return v
        }
        try self.init(values, layers: layers, selection: selection)
    }

    /// The same lengths, chosen another way.
    public func selecting(_ selection: ExtractSelection) -> Retention {
        Retention(unchecked: lengths, selection: selection)
    }

    private init(unchecked lengths: [Int], selection: ExtractSelection) { self.lengths = lengths; self.selection = selection }

    /// The lengths, as a sweep names the setting ("30,20,12,8,5,3").
    public var description: String { lengths.map(String.init).joined(separator: ",") }

    /// The lengths after layer `j` (0-based) of sequences with these lengths.
    public func kept(after j: Int, lengths: [Int]) -> [Int] { lengths.map { min($0, self.lengths[j]) } }

    public func extract(layer l: Int, lengths: [Int]) -> LayerExtract {
        .hard(ExtractStep(keep: kept(after: l, lengths: lengths), selection: selection, layer: l))
    }
}

/// Which word-vectors inference keeps.
public enum WordVectorRetention: Sendable {
    /// The configuration saved with the model (none when it has none).
    case saved
    /// Every word-vector: no elimination.
    case all
    case configuration(Retention)
}
