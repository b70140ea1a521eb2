// MARK: - The active set: what one layer step works on

/// The rows a layer step computes. Full depth, early exit, TOKEE and
/// PoWER-BERT all run the same `BertLayer` step; they differ only in this set:
/// - full depth: every sequence, every row a query;
/// - early exit: sequences that exited are compacted out of the buffer;
/// - TOKEE: halted rows stay (as keys and values) but are not queries;
/// - PoWER-BERT: eliminated rows are compacted out.
///
/// Sequence s owns packed rows starts[s] ..< starts[s] + lengths[s] (its keys
/// and values). `queryRows`, when set, lists the rows that are queries, sorted,
/// grouped by sequence (queryCounts[s] of them for sequence s).
public struct ActiveSet: Sendable, Equatable {
    public var starts: [Int]
    public var lengths: [Int]
    public private(set) var queryRows: [Int]?
    public private(set) var queryCounts: [Int]

    /// Every row of every sequence is a query.
    public init(starts: [Int], lengths: [Int]) {
        self.starts = starts
        self.lengths = lengths
        self.queryRows = nil
        self.queryCounts = lengths
    }

    public init(_ batch: PackedBatch) { self.init(starts: batch.starts, lengths: batch.lengths) }

    /// Sequences of these lengths packed end to end, every row a query.
    public init(lengths: [Int]) {
        var starts: [Int] = [], acc = 0
        for n in lengths { starts.append(acc); acc += n }
        self.init(starts: starts, lengths: lengths)
    }

    /// Only `isQuery(row)` rows ask; the others stay keys and values.
    public init(starts: [Int], lengths: [Int], isQuery: (Int) -> Bool) {
        self.init(starts: starts, lengths: lengths)
        var rows: [Int] = []
        var counts: [Int] = []
        for s in starts.indices {
            let before = rows.count
            for r in starts[s] ..< starts[s] + lengths[s] where isQuery(r) { rows.append(r) }
            counts.append(rows.count - before)
        }
        if rows.count < rowCount { queryRows = rows; queryCounts = counts }
    }

    public var sequenceCount: Int { starts.count }
    public var rowCount: Int { lengths.reduce(0, +) }
    public var queryCount: Int { queryRows?.count ?? rowCount }

    /// Where each sequence's queries and keys are, for the attention kernel.
    /// Queries index the gathered query buffer when only some rows ask.
    func attentionSegments() -> AttentionSegments {
        guard queryRows != nil else { return AttentionSegments(starts: starts, lengths: lengths) }
        var qStart: [Int] = []
        var acc = 0
        for c in queryCounts { qStart.append(acc); acc += c }
        return AttentionSegments(queryStart: qStart, queryCount: queryCounts, keyStart: starts, keyCount: lengths)
    }
}
