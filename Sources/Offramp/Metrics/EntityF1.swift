// MARK: - Entity-level precision, recall and F1 for BIO tags (conlleval, strict)

/// One entity: its type and the half-open word range it covers.
public struct EntitySpan: Hashable, Sendable {
    public let type: String
    public let start: Int
    public let end: Int
    public init(type: String, start: Int, end: Int) { self.type = type; self.start = start; self.end = end }
}

/// Counts behind P/R/F1 for one entity type (or all).
public struct EntityCounts: Sendable, Equatable {
    public var correct = 0, predicted = 0, gold = 0
    public init(correct: Int = 0, predicted: Int = 0, gold: Int = 0) {
        self.correct = correct; self.predicted = predicted; self.gold = gold
    }
    public var precision: Double { predicted == 0 ? 0 : Double(correct) / Double(predicted) }
    public var recall: Double { gold == 0 ? 0 : Double(correct) / Double(gold) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
}

public enum EntityF1 {
    /// The entities of a BIO (or IOB1-style) tag sequence, as conlleval reads
    /// them: a chunk starts at B-X, or at I-X not continuing a chunk of type X
    /// (a broken sequence such as O I-X still makes an entity), and ends
    /// before O, B-*, or a tag of another type.
    public static func spans(_ tags: [String]) -> [EntitySpan] {
        var spans: [EntitySpan] = []
        var open: (type: String, start: Int)? = nil
        func split(_ tag: String) -> (prefix: Character?, type: String) {
            if tag == "O" || tag.isEmpty { return (nil, "") }
            let parts = tag.split(separator: "-", maxSplits: 1)
            guard parts.count == 2, let p = parts[0].first, parts[0].count == 1 else { return ("B", tag) }
            return (p, String(parts[1]))
        }
        for (i, tag) in tags.enumerated() {
            let (prefix, type) = split(tag)
            let continues = prefix == "I" && open?.type == type
            if !continues, let o = open {
                spans.append(EntitySpan(type: o.type, start: o.start, end: i))
                open = nil
            }
            if prefix != nil && !continues { open = (type, i) }
        }
        if let o = open { spans.append(EntitySpan(type: o.type, start: o.start, end: tags.count)) }
        return spans
    }

    /// Strict matching (same type, same span) over sentences; returns the
    /// overall counts and the counts per entity type.
    public static func score(gold: [[String]], predicted: [[String]]) -> (overall: EntityCounts, byType: [String: EntityCounts]) {
        var overall = EntityCounts()
        var byType: [String: EntityCounts] = [:]
        for (g, p) in zip(gold, predicted) {
            let gs = Set(spans(g)), ps = Set(spans(p))
            for s in gs { byType[s.type, default: EntityCounts()].gold += 1 }
            for s in ps { byType[s.type, default: EntityCounts()].predicted += 1 }
            for s in gs.intersection(ps) { byType[s.type, default: EntityCounts()].correct += 1 }
            overall.gold += gs.count; overall.predicted += ps.count; overall.correct += gs.intersection(ps).count
        }
        return (overall, byType)
    }

    /// Whether a label set is a BIO tag set (entity F1 applies) rather than plain tags (POS).
    public static func isBIO(_ labels: [String]) -> Bool {
        labels.contains("O") && labels.contains { $0.hasPrefix("B-") }
    }

    /// A per-type table: type, precision, recall, F1, gold count.
    public static func table(_ result: (overall: EntityCounts, byType: [String: EntityCounts])) -> String {
        var lines = ["| type | precision | recall | F1 | gold |", "|---|--:|--:|--:|--:|"]
        for (type, c) in result.byType.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "| %@ | %.2f | %.2f | %.2f | %d |", type, 100 * c.precision, 100 * c.recall, 100 * c.f1, c.gold))
        }
        let o = result.overall
        lines.append(String(format: "| **all** | %.2f | %.2f | %.2f | %d |", 100 * o.precision, 100 * o.recall, 100 * o.f1, o.gold))
        return lines.joined(separator: "\n")
    }
}
